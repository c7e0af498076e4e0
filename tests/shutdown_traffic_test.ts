/**
 * Graceful shutdown under real traffic (issue #13): 200 sessions of the real process, at its
 * default log level, streaming or with a backlog when SIGTERM comes. Checked from the client
 * side: every session gets the 1001 close frame itself (a clean close, not a drop), after
 * every echo in order, and the process exits 0 only when that held.
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodeClientFrame, Opcode, rawWebSocket } from "./_helpers.ts";
import { closeQuietly, readToEnd, spawnServer, writeAll } from "./_process.ts";
import type { Message } from "./_process.ts";

const SESSIONS = 200;
const MESSAGE_BYTES = 256;

/** Message `i` of a session: its number, padded to 256 bytes, so echoes can be checked in order. */
function messageOf(i: number): string {
  return String(i).padEnd(MESSAGE_BYTES, ".");
}

/** One client session: what it sent, what came back, and how it ended. */
interface ClientSession {
  socket: WebSocket;
  sent: number;
  echoed: number;
  outOfOrder: number;
  closed: Promise<CloseEvent>;
}

/** Opens a session that checks every echo against what it sent, in order. */
async function openSession(port: number, onEcho?: (session: ClientSession) => void) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/echo`, "echo");
  const session: ClientSession = {
    socket,
    sent: 0,
    echoed: 0,
    outOfOrder: 0,
    closed: new Promise((resolve) => socket.addEventListener("close", resolve)),
  };
  socket.addEventListener("message", (event) => {
    if (event.data !== messageOf(session.echoed)) session.outOfOrder++;
    session.echoed++;
    onEcho?.(session);
  });
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", reject, { once: true });
  });
  return session;
}

function send(session: ClientSession): void {
  if (session.socket.readyState === WebSocket.OPEN) session.socket.send(messageOf(session.sent++));
}

/** The numbers in the server's `session.close` lines. */
function closeLines(lines: string[]) {
  return lines.filter((line) => / session\.close /.test(line)).map((line) => ({
    code: Number(/ code=(\d+)/.exec(line)?.[1]),
    received: Number(/ received=(\d+)/.exec(line)?.[1]),
    sent: Number(/ sent=(\d+)/.exec(line)?.[1]),
  }));
}

Deno.test("SIGTERM with 200 sessions streaming (8 in flight each): every client gets the 1001 close frame after all its echoes in order, exit 0", async () => {
  await using server = await spawnServer();
  const IN_FLIGHT = 8;
  const WARM = 50;
  let warm = 0;
  let allWarm: () => void;
  const warmed = new Promise<void>((resolve) => allWarm = resolve);
  const sessions = await Promise.all(
    Array.from({ length: SESSIONS }, () =>
      openSession(server.port, (session) => {
        if (session.echoed === WARM && ++warm === SESSIONS) allWarm();
        send(session);
      })),
  );
  for (const session of sessions) for (let i = 0; i < IN_FLIGHT; i++) send(session);
  await warmed;
  server.signal("SIGTERM");
  const closes = await Promise.all(sessions.map((session) => session.closed));
  const status = await server.status;

  const codes = new Map<string, number>();
  for (const close of closes) {
    const key = `${close.code}${close.wasClean ? "" : " (not clean)"}`;
    codes.set(key, (codes.get(key) ?? 0) + 1);
  }
  assert.deepEqual([...codes], [["1001", SESSIONS]], server.output().slice(-2000));
  for (const [s, session] of sessions.entries()) {
    assert.equal(session.outOfOrder, 0, `session ${s}`);
    assert.ok(session.echoed >= WARM, `session ${s}`);
  }
  // What the server logged is what the clients saw: every message it read was answered.
  const logged = closeLines(server.text("stdout"));
  assert.equal(logged.length, SESSIONS);
  for (const line of logged) {
    assert.equal(line.code, 1001);
    assert.equal(line.sent, line.received);
  }
  assert.equal(
    logged.reduce((sum, line) => sum + line.sent, 0),
    sessions.reduce((sum, session) => sum + session.echoed, 0),
  );
  assert.equal(status.code, 0, server.output().slice(-2000));
});

Deno.test("SIGTERM after 200 sessions each wrote 500 × 256 B: every message is echoed before the 1001 close, exit 0", async () => {
  await using server = await spawnServer();
  const PER_SESSION = 500;
  // Raw clients: a write that returned is in the kernel, so "written before the signal" is exact.
  const sessions = await Promise.all(
    Array.from({ length: SESSIONS }, () => rawWebSocket(server.port)),
  );
  const frameOf = (i: number): Message => ({
    opcode: Opcode.Text,
    payload: new TextEncoder().encode(messageOf(i)),
  });
  try {
    await Promise.all(sessions.map(async ({ conn }) => {
      const frames = Array.from({ length: PER_SESSION }, (_, i) => {
        const { opcode, payload } = frameOf(i);
        return encodeClientFrame(opcode, payload);
      });
      const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
      frames.reduce((offset, frame) => (all.set(frame, offset), offset + frame.length), 0);
      await writeAll(conn, all);
    }));
    server.signal("SIGTERM");
    const ends = await Promise.all(sessions.map((session) => readToEnd(session, frameOf)));
    for (const [s, end] of ends.entries()) {
      assert.deepEqual(end, {
        echoed: PER_SESSION,
        mismatch: null,
        close: { code: 1001, reason: "server shutting down" },
        end: "eof",
      }, `session ${s}`);
    }
    assert.equal((await server.status).code, 0, server.output().slice(-2000));
  } finally {
    for (const { conn } of sessions) closeQuietly(conn);
  }
});

Deno.test("a peer that drops its connection instead of answering the 1001 is counted as cut, and the process exits 1 saying so", async () => {
  await using server = await spawnServer();
  const sessions = await Promise.all(Array.from({ length: 3 }, () => rawWebSocket(server.port)));
  try {
    server.signal("SIGTERM");
    const [rude, ...polite] = sessions;
    // The rude peer reads the close frame, then hangs up without its own close frame.
    const frame = await rude.frames.next();
    assert.equal(frame?.opcode, Opcode.Close);
    closeQuietly(rude.conn);
    const ends = await Promise.all(polite.map((session) =>
      readToEnd(session, () => {
        throw new Error("no data frame expected");
      })
    ));
    for (const end of ends) {
      assert.deepEqual(end.close, { code: 1001, reason: "server shutting down" });
    }
    const status = await server.status;
    assert.equal(status.code, 1, server.output());
    const output = server.output();
    assert.match(output, / session\.close .* code=1006 .*close_sent=1001/);
    assert.match(output, / server\.sessions_cut sessions=1 /);
    assert.match(output, / process\.shutdown_incomplete sessions_cut=1 /);
  } finally {
    for (const { conn } of sessions) closeQuietly(conn);
  }
});
