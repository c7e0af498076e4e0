/**
 * The suite's Redis for the backplane section (bench/run.ts): whether `redis-server` is here,
 * starting one, and a server's backplane figures from its /metrics.
 *
 * @module
 */

import { freePort, type ServerProcess, startServer } from "./procs.ts";
import { serverCore } from "./_run_config.ts";
import { staticDir } from "./_servers.ts";

/** Whether `redis-server` can be run here. */
export async function haveRedisServer(): Promise<boolean> {
  try {
    const out = await new Deno.Command("redis-server", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * A `redis-server` of the suite's own on a free port of 127.0.0.1, on the server core (it
 * relays one message per published message: little work), without persistence, in the
 * static files' temporary folder. `stop()` ends it by its process id.
 */
export function startRedis(): Promise<ServerProcess> {
  const port = freePort();
  return startServer("redis", {
    cmd: [
      "redis-server",
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ],
    port,
    core: serverCore,
    cwd: staticDir,
    readyTimeoutMs: 10000,
  });
}

/** A server's `websocket_backplane_*` figures from its /metrics, e.g. `up`, `messages_total_in`. */
export async function backplaneCounters(server: ServerProcess): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  const text = await res.text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^websocket_backplane_(\w+)(?:\{direction="(\w+)"\})? (\S+)$/gm)) {
    out[m[2] ? `${m[1]}_${m[2]}` : m[1]] = Number(m[3]);
  }
  return out;
}

/** Waits (at most 10 s) until `server` reports its backplane connected. */
export async function awaitBackplane(server: ServerProcess): Promise<void> {
  const deadline = Date.now() + 10000;
  for (;;) {
    const up = await backplaneCounters(server).then((c) => c.up, () => 0);
    if (up === 1) return;
    if (Date.now() > deadline) throw new Error(`${server.name}: backplane not up within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
