/**
 * `deno task demo:cluster`: a Redis and two instances of the server on one backplane, so a
 * chat message typed on one page appears on the other, labelled with the node that relayed it.
 * Needs `redis-server` on PATH (Debian/Ubuntu: `apt-get install redis-server`; macOS:
 * `brew install redis`). Ctrl-C stops all three.
 *
 * @module
 */

const PORTS = [8181, 8182];

/** A port that was free a moment ago. */
function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

/** Copies a child's output to ours, each line prefixed with its name. */
async function relay(name: string, stream: ReadableStream<Uint8Array>): Promise<void> {
  let rest = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    rest += decoder.decode(chunk, { stream: true });
    const lines = rest.split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      if (!line.includes("experimental feature")) console.log(`[${name}] ${line}`);
    }
  }
}

/** Starts Redis on a free port, or explains how to install it. */
function startRedis(): { redis: Deno.ChildProcess; backplane: string } {
  const port = freePort();
  try {
    const redis = new Deno.Command("redis-server", {
      args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      stdout: "null",
      stderr: "inherit",
    }).spawn();
    return { redis, backplane: `redis://127.0.0.1:${port}` };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    console.error(
      "error: redis-server is not on PATH: install it " +
        "(Debian/Ubuntu: apt-get install redis-server, macOS: brew install redis)",
    );
    Deno.exit(1);
  }
}

const { redis, backplane } = startRedis();
const root = new URL("..", import.meta.url).pathname;
const instances = PORTS.map((port) => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-P",
      "main.ts",
      `--port=${port}`,
      `--backplane=${backplane}`,
      `--node-id=node-${port}`,
    ],
    cwd: root,
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  void relay(`node-${port}`, child.stdout);
  void relay(`node-${port}`, child.stderr);
  return child;
});

console.log(`Redis on ${backplane}; open the chat on both instances:`);
for (const port of PORTS) console.log(`  http://localhost:${port}/chat.html`);
console.log("Ctrl-C stops all three.");

/** Sends `signal` to a child unless it has exited already. */
function tell(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // It has exited.
  }
}

let stopping = false;
/**
 * Stops the instances gracefully, then Redis. Ctrl-C reaches the whole process group, the
 * children included, so only a SIGTERM (sent to this process alone) is passed on: a second
 * signal would make an instance exit without its graceful shutdown.
 */
async function stop(signal?: Deno.Signal): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (signal !== "SIGINT") { for (const child of instances) tell(child, "SIGTERM"); }
  const statuses = await Promise.all(instances.map((child) => child.status));
  tell(redis, "SIGTERM");
  await redis.status;
  Deno.exit(statuses.every((status) => status.success) ? 0 : 1);
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => void stop(signal));
}
// An instance that stops on its own (a port in use, say) stops the demo.
await Promise.race(instances.map((child) => child.status));
await stop();
