import assert from "node:assert/strict";
import { Metrics } from "../src/metrics.ts";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import {
  acceptsEncoding,
  createStaticHandler,
  parseRange,
  resolveRequestPath,
} from "../src/static/static_files.ts";

/** A temporary static root with a few files, removed by `await using`. */
async function staticRoot(): Promise<{ root: string } & AsyncDisposable> {
  const base = await Deno.makeTempDir({ prefix: "static_test_" });
  const root = join(base, "static");
  await Deno.mkdir(join(root, "nested", "deeper"), { recursive: true });
  await Deno.writeTextFile(join(root, "index.html"), "<!doctype html><title>home</title>");
  await Deno.writeTextFile(join(root, "app.js"), "console.log('hi');");
  await Deno.writeTextFile(join(root, "style.css"), "body{}");
  await Deno.writeTextFile(join(root, "logo.svg"), "<svg/>");
  await Deno.writeFile(join(root, "logo.png"), new Uint8Array([0x89, 0x50, 0x4e, 0x47]));
  await Deno.writeTextFile(join(root, "data.json"), "{}");
  await Deno.writeFile(join(root, "mod.wasm"), new Uint8Array([0, 0x61, 0x73, 0x6d]));
  await Deno.writeFile(join(root, "favicon.ico"), new Uint8Array([0, 0, 1, 0]));
  await Deno.writeTextFile(join(root, "notes.txt"), "0123456789");
  await Deno.writeTextFile(join(root, "empty.txt"), "");
  await Deno.writeTextFile(join(root, "nested", "deeper", "page.html"), "deep");
  await Deno.writeTextFile(join(root, "nested", "index.html"), "nested index");
  await Deno.writeTextFile(join(root, ".env"), "SECRET=1");
  await Deno.mkdir(join(root, ".git"));
  await Deno.writeTextFile(join(root, ".git", "config"), "secret");
  await Deno.writeTextFile(join(base, "outside.txt"), "outside secret");
  await Deno.symlink(join(base, "outside.txt"), join(root, "link-out.txt"));
  await Deno.symlink(join(root, "notes.txt"), join(root, "link-in.txt"));
  return {
    root,
    async [Symbol.asyncDispose]() {
      await Deno.remove(base, { recursive: true });
    },
  };
}

function get(path: string, headers: HeadersInit = {}, method = "GET"): Request {
  return new Request(`http://localhost${path}`, { method, headers });
}

Deno.test("/ serves index.html as HTML", async () => {
  await using fixture = await staticRoot();
  const serve = createStaticHandler(fixture.root);
  const response = await serve(get("/"));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(await response.text(), "<!doctype html><title>home</title>");
});

Deno.test("content types come from the MIME database for the usual web files", async () => {
  await using fixture = await staticRoot();
  const serve = createStaticHandler(fixture.root);
  const expected: Record<string, string> = {
    "/index.html": "text/html; charset=utf-8",
    "/app.js": "text/javascript; charset=utf-8",
    "/style.css": "text/css; charset=utf-8",
    "/logo.svg": "image/svg+xml",
    "/logo.png": "image/png",
    "/data.json": "application/json; charset=utf-8",
    "/mod.wasm": "application/wasm",
    "/favicon.ico": "image/vnd.microsoft.icon",
    "/notes.txt": "text/plain; charset=utf-8",
  };
  for (const [path, type] of Object.entries(expected)) {
    const response = await serve(get(path));
    await response.body?.cancel();
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get("content-type"), type, path);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  }
});

Deno.test("nested paths and directory indexes are served; a directory without / redirects", async () => {
  await using fixture = await staticRoot();
  const serve = createStaticHandler(fixture.root);
  assert.equal(await (await serve(get("/nested/deeper/page.html"))).text(), "deep");
  assert.equal(await (await serve(get("/nested/"))).text(), "nested index");
  const redirect = await serve(get("/nested?x=1"));
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.get("location"), "/nested/?x=1");
});

Deno.test("a missing file is a 404 with a short body", async () => {
  await using fixture = await staticRoot();
  const serve = createStaticHandler(fixture.root);
  const response = await serve(get("/missing.txt"));
  assert.equal(response.status, 404);
  assert.equal(await response.text(), "not found: /missing.txt\n");
});

Deno.test("dotfiles and dot directories are never served", async () => {
  await using fixture = await staticRoot();
  const serve = createStaticHandler(fixture.root);
  for (const path of ["/.env", "/.git/config", "/%2eenv", "/nested/../.env"]) {
    const response = await serve(get(path));
    assert.equal(response.status, 404, path);
    assert.doesNotMatch(await response.text(), /SECRET|secret/, path);
  }
});

Deno.test("nothing outside the root is served, however the path is spelled", async () => {
  await using fixture = await staticRoot();
  const serve = createStaticHandler(fixture.root);
  const attempts: [string, number][] = [
    ["/../outside.txt", 404],
    ["/%2e%2e/outside.txt", 404],
    ["/%2E%2E/%2e%2e/etc/passwd", 404],
    ["/..%2foutside.txt", 400],
    ["/..%2Foutside.txt", 400],
    ["/..%5coutside.txt", 400],
    ["/nested%2f..%2f..%2foutside.txt", 400],
    ["/notes.txt%00.html", 400],
    ["/link-out.txt", 404],
  ];
  for (const [path, status] of attempts) {
    const response = await serve(get(path));
    const body = await response.text();
    assert.equal(response.status, status, path);
    assert.doesNotMatch(body, /outside secret|root:/, path);
  }
});

Deno.test("a backslash path is normalised by the URL parser and stays inside the root", async () => {
  await using fixture = await staticRoot();
  const serve = createStaticHandler(fixture.root);
  const response = await serve(get("/..\\outside.txt"));
  assert.equal(response.status, 404);
  await response.body?.cancel();
});

Deno.test("a symlink that stays inside the root is served", async () => {
  await using fixture = await staticRoot();
  const serve = createStaticHandler(fixture.root);
  const response = await serve(get("/link-in.txt"));
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "0123456789");
});

Deno.test("malformed percent-encoding is a 400", async () => {
  await using fixture = await staticRoot();
  const serve = createStaticHandler(fixture.root);
  for (const path of ["/%E0%A4%A.html", "/%zz", "/bad%"]) {
    const response = await serve(get(path));
    assert.equal(response.status, 400, path);
    assert.match(await response.text(), /malformed percent-encoding/);
  }
});

Deno.test("methods other than GET and HEAD get 405 with Allow", async () => {
  await using fixture = await staticRoot();
  const serve = createStaticHandler(fixture.root);
  for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
    const response = await serve(get("/index.html", {}, method));
    assert.equal(response.status, 405, method);
    assert.equal(response.headers.get("allow"), "GET, HEAD");
    await response.body?.cancel();
  }
});

Deno.test("HEAD sends Content-Length and no body", async () => {
  await using fixture = await staticRoot();
  const serve = createStaticHandler(fixture.root);
  const response = await serve(get("/notes.txt", {}, "HEAD"));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-length"), "10");
  assert.equal(response.body, null);
});

Deno.test("ETag and Last-Modified revalidate with 304", async () => {
  await using fixture = await staticRoot();
  const serve = createStaticHandler(fixture.root);
  const first = await serve(get("/notes.txt"));
  await first.body?.cancel();
  const etag = first.headers.get("etag")!;
  const lastModified = first.headers.get("last-modified")!;
  assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
  const byTag = await serve(get("/notes.txt", { "if-none-match": `"other", ${etag}` }));
  assert.equal(byTag.status, 304);
  assert.equal(byTag.body, null);
  assert.equal(byTag.headers.get("etag"), etag);
  assert.equal((await serve(get("/notes.txt", { "if-none-match": `W/${etag}` }))).status, 304);
  assert.equal((await serve(get("/notes.txt", { "if-none-match": "*" }))).status, 304);
  const byDate = await serve(get("/notes.txt", { "if-modified-since": lastModified }));
  assert.equal(byDate.status, 304);
  const stale = await serve(get("/notes.txt", { "if-none-match": '"stale"' }));
  assert.equal(stale.status, 200);
  await stale.body?.cancel();
  const old = await serve(get("/notes.txt", { "if-modified-since": new Date(0).toUTCString() }));
  assert.equal(old.status, 200);
  await old.body?.cancel();
});

Deno.test("a single Range is answered 206 with Content-Range", async () => {
  await using fixture = await staticRoot();
  const serve = createStaticHandler(fixture.root);
  const cases: [string, string, string][] = [
    ["bytes=2-5", "2345", "bytes 2-5/10"],
    ["bytes=7-", "789", "bytes 7-9/10"],
    ["bytes=-3", "789", "bytes 7-9/10"],
    ["bytes=8-100", "89", "bytes 8-9/10"],
  ];
  for (const [range, body, contentRange] of cases) {
    const response = await serve(get("/notes.txt", { range }));
    assert.equal(response.status, 206, range);
    assert.equal(response.headers.get("content-range"), contentRange, range);
    assert.equal(response.headers.get("content-length"), String(body.length), range);
    assert.equal(await response.text(), body, range);
  }
});

Deno.test("an unsatisfiable or malformed Range is a 416 with the size", async () => {
  await using fixture = await staticRoot();
  const serve = createStaticHandler(fixture.root);
  for (const range of ["bytes=10-", "bytes=5-2", "bytes=-0", "bytes=abc", "bytes=-"]) {
    const response = await serve(get("/notes.txt", { range }));
    assert.equal(response.status, 416, range);
    assert.equal(response.headers.get("content-range"), "bytes */10", range);
    await response.body?.cancel();
  }
  const empty = await serve(get("/empty.txt", { range: "bytes=0-" }));
  assert.equal(empty.status, 416);
  await empty.body?.cancel();
});

Deno.test("several ranges, other units and a stale If-Range get the whole file", async () => {
  await using fixture = await staticRoot();
  const serve = createStaticHandler(fixture.root);
  const cases: Record<string, string>[] = [
    { range: "bytes=0-1,4-5" },
    { range: "items=0-1" },
    { range: "bytes=0-1", "if-range": '"stale"' },
  ];
  for (const headers of cases) {
    const response = await serve(get("/notes.txt", headers));
    assert.equal(response.status, 200, JSON.stringify(headers));
    assert.equal(await response.text(), "0123456789");
  }
});

Deno.test("a large file is streamed whole and by range", async () => {
  await using fixture = await staticRoot();
  const size = 3 * 1024 * 1024 + 17;
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7) % 256;
  await Deno.writeFile(join(fixture.root, "big.bin"), bytes);
  const serve = createStaticHandler(fixture.root, { maxCachedFileBytes: 1024 });
  const whole = await serve(get("/big.bin"));
  assert.equal(whole.headers.get("content-length"), String(size));
  assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), bytes);
  const start = 1024 * 1024 - 3;
  const end = 2 * 1024 * 1024 + 5;
  const part = await serve(get("/big.bin", { range: `bytes=${start}-${end}` }));
  assert.equal(part.status, 206);
  assert.deepEqual(new Uint8Array(await part.arrayBuffer()), bytes.subarray(start, end + 1));
  const head = await serve(get("/big.bin", {}, "HEAD"));
  assert.equal(head.body, null);
  const unread = await serve(get("/big.bin"));
  await unread.body?.cancel(); // a client that goes away must not leak the open file
});

Deno.test("within the revalidation window a cached file is served without a look at the disk", async () => {
  await using fixture = await staticRoot();
  const serve = createStaticHandler(fixture.root, { revalidateMs: 60_000 });
  assert.equal(await (await serve(get("/notes.txt"))).text(), "0123456789");
  await Deno.writeTextFile(join(fixture.root, "notes.txt"), "changed, and longer");
  assert.equal(
    await (await serve(get("/notes.txt"))).text(),
    "0123456789",
    "still the cached copy",
  );
  // A file not in the cache is looked up at once.
  await Deno.writeTextFile(join(fixture.root, "fresh.txt"), "fresh");
  assert.equal(await (await serve(get("/fresh.txt"))).text(), "fresh");
});

Deno.test("new and changed files are served without a restart", async () => {
  await using fixture = await staticRoot();
  // Checking the disk on every request, as the default does once the window (1 s) has passed.
  const serve = createStaticHandler(fixture.root, { revalidateMs: 0 });
  assert.equal((await serve(get("/later.txt"))).status, 404);
  await Deno.writeTextFile(join(fixture.root, "later.txt"), "first");
  assert.equal(await (await serve(get("/later.txt"))).text(), "first");
  await Deno.writeTextFile(join(fixture.root, "later.txt"), "second, longer");
  assert.equal(await (await serve(get("/later.txt"))).text(), "second, longer");
  await Deno.remove(join(fixture.root, "later.txt"));
  const gone = await serve(get("/later.txt"));
  assert.equal(gone.status, 404);
  await gone.body?.cancel();
});

Deno.test("the cache stays within its total size and still serves every file", async () => {
  await using fixture = await staticRoot();
  for (let i = 0; i < 8; i++) {
    await Deno.writeTextFile(join(fixture.root, `f${i}.txt`), String(i).repeat(400));
  }
  const serve = createStaticHandler(fixture.root, { maxCacheBytes: 1000 });
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 8; i++) {
      assert.equal(await (await serve(get(`/f${i}.txt`))).text(), String(i).repeat(400));
    }
  }
});

Deno.test("resolveRequestPath joins decoded segments and appends index.html", () => {
  assert.deepEqual(resolveRequestPath("/root", "/a/b%20c/"), {
    path: "/root/a/b c/index.html",
    trailingSlash: true,
  });
});

Deno.test("parseRange reads the byte-range forms", () => {
  assert.deepEqual(parseRange("bytes=0-0", 5), { start: 0, end: 0 });
  assert.deepEqual(parseRange("bytes=-10", 5), { start: 0, end: 4 });
  assert.equal(parseRange(null, 5), "full");
  assert.equal(parseRange("bytes=9-", 5), "unsatisfiable");
});

Deno.test("compressible files come precompressed, the smaller variant to clients that accept both", async () => {
  await using fixture = await staticRoot();
  const text = "function hello() { return 'hello, world'; }\n".repeat(200);
  await Deno.writeTextFile(join(fixture.root, "big.js"), text);
  const serve = createStaticHandler(fixture.root);
  const plain = await serve(get("/big.js"));
  assert.equal(plain.headers.get("vary"), "Accept-Encoding");
  assert.equal(plain.headers.get("content-encoding"), null);
  assert.equal(await plain.text(), text);
  const sizes: Record<string, number> = {};
  for (const [accept, encoding] of [["br", "br"], ["gzip", "gzip"], ["gzip, deflate, br", ""]]) {
    const response = await serve(get("/big.js", { "accept-encoding": accept }));
    const smaller = sizes.br <= sizes.gzip ? "br" : "gzip";
    assert.equal(response.headers.get("content-encoding"), encoding || smaller, accept);
    assert.equal(response.headers.get("vary"), "Accept-Encoding");
    assert.notEqual(response.headers.get("etag"), plain.headers.get("etag"));
    const encoded = new Uint8Array(await response.arrayBuffer());
    assert.equal(response.headers.get("content-length"), String(encoded.length));
    assert.ok(encoded.length < text.length / 5, `${encoding} is smaller`);
    const decoded = (encoding || smaller) === "br"
      ? brotliDecompressSync(encoded)
      : gunzipSync(encoded);
    assert.equal(new TextDecoder().decode(decoded), text, encoding);
    if (encoding) sizes[encoding] = encoded.length;
  }
  const refused = await serve(get("/big.js", { "accept-encoding": "br;q=0, gzip;q=0" }));
  assert.equal(refused.headers.get("content-encoding"), null);
  await refused.body?.cancel();
  const ranged = await serve(get("/big.js", { "accept-encoding": "br", range: "bytes=0-7" }));
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers.get("content-encoding"), null, "ranges come from the file itself");
  assert.equal(await ranged.text(), text.slice(0, 8));
  const small = await serve(get("/app.js", { "accept-encoding": "br" }));
  assert.equal(small.headers.get("content-encoding"), null, "tiny files are not compressed");
  await small.body?.cancel();
  const image = await serve(get("/logo.png", { "accept-encoding": "br" }));
  assert.equal(image.headers.get("vary"), null);
  await image.body?.cancel();
});

Deno.test("acceptsEncoding honours weights and the wildcard", () => {
  assert.equal(acceptsEncoding("gzip, br", "br"), true);
  assert.equal(acceptsEncoding("br;q=0", "br"), false);
  assert.equal(acceptsEncoding("*", "gzip"), true);
  assert.equal(acceptsEncoding("*;q=0, gzip", "br"), false);
  assert.equal(acceptsEncoding(null, "gzip"), false);
});

Deno.test("concurrent requests for a file not yet cached read and compress it once", async () => {
  await using fixture = await staticRoot();
  const text = "a compressible line of text for the cache stampede test\n".repeat(18_000);
  await Deno.writeTextFile(join(fixture.root, "big.txt"), text);
  const metrics = new Metrics();
  const serve = createStaticHandler(fixture.root, { metrics });
  const responses = await Promise.all(
    Array.from(
      { length: 32 },
      (_, i) => serve(get("/big.txt", i % 2 ? { "accept-encoding": "br" } : {})),
    ),
  );
  for (const [i, response] of responses.entries()) {
    assert.equal(response.status, 200);
    const body = new Uint8Array(await response.arrayBuffer());
    const plain = i % 2 ? brotliDecompressSync(body) : body;
    assert.equal(new TextDecoder().decode(plain), text);
  }
  assert.equal(metrics.staticCacheLoads, 1);
});

Deno.test("a large cached file is served whole and intact again and again, ranges too", async () => {
  await using fixture = await staticRoot();
  const bytes = new Uint8Array(700 * 1024).map((_, i) => (i * 31) % 251);
  await Deno.writeFile(join(fixture.root, "large.bin"), bytes);
  const serve = createStaticHandler(fixture.root);
  for (let i = 0; i < 3; i++) {
    const whole = new Uint8Array(await (await serve(get("/large.bin"))).arrayBuffer());
    assert.deepEqual(whole, bytes, `response ${i}`);
  }
  const range = await serve(get("/large.bin", { range: "bytes=300000-600000" }));
  assert.equal(range.status, 206);
  assert.deepEqual(new Uint8Array(await range.arrayBuffer()), bytes.subarray(300000, 600001));
  const again = new Uint8Array(await (await serve(get("/large.bin"))).arrayBuffer());
  assert.deepEqual(again, bytes);
});
