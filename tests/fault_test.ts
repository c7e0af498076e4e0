/**
 * Faults of the machine, on the real process (issue #13): connections past the open-files
 * limit. The limit is lowered with `prlimit` so a few hundred connections reach it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { handshakeRequest } from "./_helpers.ts";
import { closeQuietly, spawnServer } from "./_process.ts";
import type { ServerProcess } from "./_process.ts";

const encoder = new TextEncoder();

/** Opens an echo session and resolves once it is open. */
async function openEcho(port: number): Promise<WebSocket> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/echo`, "echo");
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error("session failed to open"));
  });
  return socket;
}

/** Sends `text` and resolves with the echo. */
function echo(socket: WebSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.onmessage = (event) => resolve(event.data);
    socket.onclose = (event) => reject(new Error(`closed ${event.code}`));
    socket.send(text);
  });
}

/** Fetches `/healthz`, waiting for the next restart of the accept loop while it is refused. */
async function healthzWhenListening(server: ServerProcess): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const resumed = server.lines.filter((l) => / server\.accept_resumed /.test(l.text)).length;
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/healthz`);
      await response.body?.cancel();
      return response.status;
    } catch {
      await server.waitFor(/ server\.accept_resumed /, resumed + 1);
    }
  }
  throw new Error(`never listening again:\n${server.output()}`);
}

Deno.test("connections past the open-files limit: the process survives, open sessions keep echoing, and it serves again once they close", async () => {
  await using server = await spawnServer([], { nofile: 256 });
  const sessions = await Promise.all(Array.from({ length: 10 }, () => openEcho(server.port)));
  for (const [i, socket] of sessions.entries()) assert.equal(await echo(socket, `a${i}`), `a${i}`);

  // The flood: idle connections, half-sent requests, complete keep-alive requests and
  // upgrades, well past the 256 descriptors the server has. Refused dials are expected.
  const flood: Deno.Conn[] = [];
  let refused = 0;
  for (let i = 0; i < 600; i++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      flood.push(conn);
      const kind = i % 4;
      if (kind === 1) await conn.write(encoder.encode("GET /index.html HTTP/1.1\r\nHo"));
      if (kind === 2) await conn.write(encoder.encode("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
      if (kind === 3) await conn.write(encoder.encode(handshakeRequest("/echo")));
    } catch {
      refused++;
    }
  }
  await server.waitFor(/ server\.accept_failed /);
  assert.equal(server.exited, false, server.output());
  // Sessions that were open before the flood are not harmed by it.
  for (const [i, socket] of sessions.entries()) assert.equal(await echo(socket, `b${i}`), `b${i}`);

  for (const conn of flood) closeQuietly(conn);
  assert.equal(await healthzWhenListening(server), 200);
  const fresh = await openEcho(server.port);
  assert.equal(await echo(fresh, "after"), "after");
  for (const [i, socket] of sessions.entries()) assert.equal(await echo(socket, `c${i}`), `c${i}`);
  assert.equal(server.exited, false);
  assert.ok(!/Uncaught|panicked/.test(server.output()), server.output().slice(-3000));

  // And it still shuts down gracefully: every session gets 1001, exit 0.
  const closes = [...sessions, fresh].map((socket) =>
    new Promise<number>((resolve) => socket.onclose = (event) => resolve(event.code))
  );
  server.signal("SIGTERM");
  assert.deepEqual(new Set(await Promise.all(closes)), new Set([1001]));
  assert.equal((await server.status).code, 0, server.output().slice(-3000));
  console.log(`    ${flood.length} dials connected, ${refused} refused during the flood`);
});
