/**
 * Baseline for the benchmark suite: the smallest static file server. Each
 * request opens the file with `Deno.open` and streams it, with Content-Type
 * and Content-Length; `/` serves index.html. No cache, no conditional
 * requests.
 *
 * Usage: `deno run --allow-net --allow-read bench/baseline_static.ts --port=PORT --static-dir=DIR`
 * (listens on 127.0.0.1 only).
 *
 * @module
 */

function flag(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return Deno.args.find((a) => a.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

const port = Number(flag("port", "8183"));
const root = flag("static-dir", Deno.cwd()).replace(/\/+$/, "");
const types: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
  txt: "text/plain; charset=utf-8",
};

const server = Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, async (req) => {
  let path = decodeURIComponent(new URL(req.url).pathname);
  if (path.endsWith("/")) path += "index.html";
  if (path.split("/").includes("..")) return new Response("bad path\n", { status: 400 });
  try {
    const file = await Deno.open(root + path, { read: true });
    const { size } = await file.stat();
    const ext = path.slice(path.lastIndexOf(".") + 1);
    return new Response(file.readable, {
      headers: {
        "content-type": types[ext] ?? "application/octet-stream",
        "content-length": String(size),
      },
    });
  } catch {
    return new Response("not found\n", { status: 404 });
  }
});

// A clean exit on SIGTERM lets `deno run --cpu-prof` write its profile (bench/profile.ts).
Deno.addSignalListener("SIGTERM", () => server.shutdown());
