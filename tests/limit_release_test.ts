/**
 * A session closed for a limit is really let go (issue #13): its peer stopped reading, so the
 * close frame waits behind what it did not read; after `--close-timeout` the connection is reset
 * and the memory behind it returns to the system. On the real process, measured from
 * `/proc/PID/status`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodeClientFrame, Opcode, patternBytes, rawWebSocket } from "./_helpers.ts";
import { closeQuietly, spawnServer, writeAll } from "./_process.ts";

/** A field of `/proc/PID/status` in bytes (`VmRSS`, `VmHWM`). */
async function memoryOf(pid: number, field: string): Promise<number> {
  // Through cat: Deno's permissions guard /proc behind --allow-all.
  const { stdout } = await new Deno.Command("cat", { args: [`/proc/${pid}/status`] }).output();
  const status = new TextDecoder().decode(stdout);
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)![1]) * 1024;
}

Deno.test("peers that stop reading are closed with 1008, reset after the close timeout, and their memory returns", async () => {
  await using server = await spawnServer([
    "--close-timeout=1s",
    "--max-send-buffer=8MiB",
    "--max-message-size=2MiB",
  ]);
  const pid = server.child.pid;
  const before = await memoryOf(pid, "VmRSS");
  const PEERS = 10;
  const peers = await Promise.all(Array.from({ length: PEERS }, () => rawWebSocket(server.port)));
  const frame = encodeClientFrame(Opcode.Binary, patternBytes(1024 * 1024));
  // Each peer sends 24 MiB and never reads: the echoes pile up in the server until the limit.
  const writing = peers.map(async ({ conn }) => {
    for (let i = 0; i < 24; i++) await writeAll(conn, frame).catch(() => {});
  });
  const closes = await server.waitFor(/ session\.close .*aborted=reset/, PEERS);
  const peak = await memoryOf(pid, "VmHWM");
  for (const line of closes) assert.match(line, / code=1006 .*close_sent=1008 aborted=reset/);
  assert.equal(
    server.text().filter((l) => / session\.limit .*limit=max_send_buffer_bytes/.test(l)).length,
    PEERS,
  );
  // Each peer's connection ends (reset), so its reads stop instead of waiting forever.
  await Promise.all(peers.map(async ({ conn }) => {
    const buffer = new Uint8Array(1 << 16);
    while (await conn.read(buffer).catch(() => null) !== null);
  }));
  await Promise.all(writing);
  for (const { conn } of peers) closeQuietly(conn);
  // Memory comes back shortly after the resets (freed, then trimmed): look a few times.
  let after = await memoryOf(pid, "VmRSS");
  const returned = () => after < before + (peak - before) / 3;
  for (let i = 0; i < 50 && !returned(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    after = await memoryOf(pid, "VmRSS");
  }
  const mib = (n: number) => `${Math.round(n / 1024 / 1024)} MiB`;
  console.log(`    RSS ${mib(before)} → peak ${mib(peak)} → ${mib(after)} after the resets`);
  assert.ok(peak > before + 80 * 1024 * 1024, `the peers held little: peak ${mib(peak)}`);
  assert.ok(returned(), `memory kept: ${mib(before)} → ${mib(peak)} → ${mib(after)}`);
  const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  assert.match(metrics, /^websocket_sessions_open 0$/m);
  assert.match(metrics, new RegExp(`^websocket_closes_total\\{code="1006"\\} ${PEERS}$`, "m"));
});
