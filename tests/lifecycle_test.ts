/**
 * Graceful shutdown (issue #3), proven on the real process: `deno run -P main.ts` is spawned,
 * loaded with WebSocket sessions and a large download, and sent SIGTERM or SIGINT. Readiness
 * during shutdown is also checked in-process, where shutdown can be held open at will.
 *
 * The WebSocket clients here are raw (frames over TCP, see `_helpers.ts`): they decide exactly
 * when to read, see the close frame itself and tell a clean end of the connection from a reset.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  closeEvent,
  closePayload,
  encodeClientFrame,
  handshakeRequest,
  nextMessage,
  Opcode,
  openWebSocket,
  parseClose,
  rawExchange,
  rawWebSocket,
  startServer,
} from "./_helpers.ts";
import type { RawResponse } from "./_helpers.ts";
import { closeQuietly, nextFrame, readToEnd, spawnServer, writeAll } from "./_process.ts";
import type { Message, RawSession } from "./_process.ts";

const encoder = new TextEncoder();

/** Sends a text message and returns the text of the next data frame (its echo). */
async function echoOf(session: RawSession, text: string): Promise<string> {
  await writeAll(session.conn, encodeClientFrame(Opcode.Text, encoder.encode(text)));
  const frame = await nextFrame(session);
  assert.equal(frame?.opcode, Opcode.Text);
  return new TextDecoder().decode(frame!.payload);
}

/** `size` bytes counting up from `seed`, wrapping at 251. */
function filled(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i + seed) % 251;
  return bytes;
}

/**
 * Message `index` of client `session`, unique to both: mostly text with multi-byte UTF-8,
 * every fourth binary, every twentieth a sizeable 48 KiB binary.
 */
function messageOf(session: number, index: number): Message {
  if (index % 4 === 0) {
    const size = index % 20 === 0 ? 48 * 1024 : 10 + index;
    return { opcode: Opcode.Binary, payload: filled(size, session * 7 + index) };
  }
  const text = `s${session} m${index} ` + "héllo wörld ✓ ".repeat(index % 16);
  return { opcode: Opcode.Text, payload: encoder.encode(text) };
}

/** Sum of a Prometheus counter family over its labels. */
function counterSum(metrics: string, name: string): number {
  let sum = 0;
  for (const match of metrics.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, "gm"))) {
    sum += Number(match[1]);
  }
  return sum;
}

/** A GET over a fresh connection. */
function get(port: number, path: string): Promise<RawResponse> {
  return rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
}

/** Reads `reader` to its end, checking the bytes against {@linkcode filled}`(_, 0)`. */
async function readPattern(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  offset: number,
): Promise<{ bytes: number; intact: boolean }> {
  let bytes = offset;
  let intact = true;
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    for (let i = 0; i < value.length && intact; i++) {
      if (value[i] !== (bytes + i) % 251) intact = false;
    }
    bytes += value.length;
  }
  return { bytes, intact };
}

/** 1 MiB binary messages each client sends first, while it does not read. */
const BALLAST_MESSAGES = 5;
/** Messages each client sends after the ballast. */
const MESSAGES_PER_SESSION = 200;
const SESSIONS = 20;
/** The streamed download: larger than the 1 MiB in-memory cache limit and the socket buffers. */
const DOWNLOAD_BYTES = 24 * 1024 * 1024;

for (
  const mode of [
    // The echo answers each message as it comes: unread echoes wait in the send buffers.
    { name: "push", args: [] },
    // With a read timeout it reads: the messages behind wait in the server's read queues.
    { name: "pull", args: ["--read-timeout=60s"] },
  ]
) {
  Deno.test(`SIGTERM under load (${mode.name} mode): every message the server took before the signal is echoed before a 1001 close, a streamed download finishes, exit 0`, () =>
    sigtermUnderLoad(mode.name, mode.args));
}

async function sigtermUnderLoad(mode: string, args: string[]) {
  const staticDir = await Deno.makeTempDir({ prefix: "lifecycle_static_" });
  try {
    await Deno.writeFile(`${staticDir}/big.bin`, filled(DOWNLOAD_BYTES, 0));
    await using server = await spawnServer([
      `--static-dir=${staticDir}`,
      "--log-level=debug",
      ...args,
    ]);
    const { port } = server;

    // A download in flight: the first chunk is read now, the rest only after the signal.
    const client = Deno.createHttpClient({});
    const download = await fetch(`http://127.0.0.1:${port}/big.bin`, { client });
    const body = download.body!.getReader();
    const sessions: RawSession[] = [];
    try {
      assert.equal(download.status, 200);
      assert.equal(download.headers.get("content-length"), String(DOWNLOAD_BYTES));
      const first = await body.read();
      assert.ok(!first.done && first.value.length < DOWNLOAD_BYTES);

      // Each client sends 5 MiB of ballast then 200 mixed messages without reading: the
      // echoes fill the socket buffers, the server's handlers wait for the peer to read, and
      // the messages behind wait in the server's queues.
      for (let s = 0; s < SESSIONS; s++) sessions.push(await rawWebSocket(port));
      const total = BALLAST_MESSAGES + MESSAGES_PER_SESSION;
      const message = (session: number, index: number) =>
        index < BALLAST_MESSAGES
          ? { opcode: Opcode.Binary, payload: filled(1024 * 1024, session * 31 + index) }
          : messageOf(session, index);
      await Promise.all(sessions.map(async ({ conn }, s) => {
        for (let i = 0; i < total; i++) {
          const { opcode, payload } = message(s, i);
          await writeAll(conn, encodeClientFrame(opcode, payload));
        }
      }));
      // The server has taken on every message (one debug line each) before the signal.
      await server.waitFor(/ DEBUG session\.message /, SESSIONS * total);
      const before = (await get(port, "/metrics")).body;
      const received = counterSum(before, "websocket_messages_received_total");
      const inFlight = received - counterSum(before, "websocket_messages_sent_total");
      assert.equal(received, SESSIONS * total);
      // The clients have read nothing yet. In pull mode many messages also wait unanswered in
      // the server's queues; in push mode every echo is already in the send buffers.
      if (mode === "pull") {
        assert.ok(inFlight > SESSIONS, `only ${inFlight} messages unanswered at the signal`);
      }

      const signalledAt = performance.now();
      server.signal("SIGTERM");
      await server.waitFor(/ INFO server\.shutdown sessions=20$/);

      // While the sessions drain: not ready, new sessions refused, health still fine.
      assert.equal((await get(port, "/healthz")).status, 200);
      const ready = await get(port, "/readyz");
      assert.equal(ready.status, 503);
      assert.equal(ready.headers.get("cache-control"), "no-store");
      const refused = await rawExchange(port, handshakeRequest("/echo"));
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get("retry-after"), "5");
      assert.match(refused.body, /server shutting down/);

      // Now the clients read: every message sent before the signal comes back, then 1001.
      const ends = await Promise.all(
        sessions.map((session, s) => readToEnd(session, (i) => message(s, i))),
      );
      for (const [s, end] of ends.entries()) {
        assert.deepEqual(
          end,
          {
            echoed: total,
            mismatch: null,
            close: { code: 1001, reason: "server shutting down" },
            end: "eof",
          },
          `session ${s}`,
        );
      }

      // The download, still in flight while the server shuts down, arrives whole.
      const rest = await readPattern(body, first.value!.length);
      assert.deepEqual(rest, { bytes: DOWNLOAD_BYTES, intact: true });
      assert.ok(first.value!.every((byte, i) => byte === i % 251));

      const status = await server.status;
      const elapsedMs = Math.round(performance.now() - signalledAt);
      assert.equal(status.code, 0, server.output());
      const closes = server.text("stdout").filter((line) => / session\.close /.test(line));
      assert.equal(closes.length, SESSIONS);
      for (const line of closes) {
        // (The code is the one the client's close frame echoed.)
        assert.match(line, new RegExp(` code=1001 .* received=${total} sent=${total}$`));
      }
      assert.ok(server.text("stdout").some((line) => / INFO server\.stopped/.test(line)));
      console.log(
        `    sigterm under load (${mode}): ${SESSIONS * total} echoes unread by the clients, ` +
          `${inFlight} unanswered in the server at the signal, all echoed; ` +
          `exit 0 after ${elapsedMs} ms`,
      );
    } finally {
      for (const { conn } of sessions) closeQuietly(conn);
      await body.cancel();
      client.close();
    }
  } finally {
    await Deno.remove(staticDir, { recursive: true });
  }
}

Deno.test("SIGTERM mid-stream: every message a client sent before the signal is echoed before the 1001 close", async () => {
  await using server = await spawnServer();
  const sessions: RawSession[] = await Promise.all(
    Array.from({ length: SESSIONS }, () => rawWebSocket(server.port)),
  );
  // Clients stream and read at once; the signal goes when half the planned messages are out.
  // A message counts as sent before the signal when its write began before `kill`.
  const planned = 400;
  const killAt = (SESSIONS * planned) / 2;
  let written = 0;
  let signalled = false;
  let signalledAt = 0;
  const sentBefore = new Array<number>(SESSIONS).fill(0);
  const ends = await Promise.all(sessions.map(async (session, s) => {
    const reading = readToEnd(session, (i) => messageOf(s, i));
    try {
      for (let i = 0; i < planned && !signalled; i++) {
        const { opcode, payload } = messageOf(s, i);
        sentBefore[s]++;
        await writeAll(session.conn, encodeClientFrame(opcode, payload));
        if (++written === killAt) {
          signalled = true;
          signalledAt = performance.now();
          server.signal("SIGTERM");
        }
      }
    } catch {
      // The connection ended under a write; the reader reports how.
    }
    return await reading;
  }));
  const status = await server.status;
  const elapsedMs = Math.round(performance.now() - signalledAt);
  const serverSide = server.text("stdout").filter((line) => / session\.close /.test(line));
  const total = sentBefore.reduce((a, b) => a + b, 0);
  const echoed = ends.reduce((sum, end) => sum + end.echoed, 0);
  const summary = `${total} messages sent before the signal, ${echoed} echoed; ` +
    `${ends.filter((end) => end.close === null).length} sessions saw no close frame, ` +
    `${ends.filter((end) => end.end !== "eof").length} ended unclean ` +
    `(${[...new Set(ends.map((end) => end.end))].join(", ")})`;
  for (const [s, end] of ends.entries()) {
    assert.deepEqual(
      end,
      {
        echoed: sentBefore[s],
        mismatch: null,
        close: { code: 1001, reason: "server shutting down" },
        end: "eof",
      },
      `session ${s}: ${sentBefore[s]} messages sent before the signal. All: ${summary}. ` +
        `Server side:\n${serverSide.join("\n")}`,
    );
  }
  assert.equal(status.code, 0, server.output());
  console.log(
    `    sigterm mid-stream: ${total} messages sent before the signal, all echoed; ` +
      `exit 0 after ${elapsedMs} ms`,
  );
});

Deno.test("while shutdown is in progress /readyz answers 503 and new WebSocket handshakes get 503 shutting_down", async () => {
  await using t = startServer();
  const info: Deno.ServeHandlerInfo = {
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 },
    completed: Promise.resolve(),
  };
  const before = await t.server.handler(new Request(`${t.http}/readyz`), info);
  assert.equal(before.status, 200);
  await before.body?.cancel();

  // A client that does not answer the close frame holds the shutdown open.
  const session = await rawWebSocket(t.server.addr.port);
  const { conn } = session;
  try {
    assert.equal(await echoOf(session, "hello"), "hello");
    let stopped = false;
    const stopping = t.server.shutdown().then(() => stopped = true);
    assert.equal(t.server.ready, false);

    const ready = await t.server.handler(new Request(`${t.http}/readyz`), info);
    assert.equal(ready.status, 503);
    assert.equal(ready.headers.get("cache-control"), "no-store");
    assert.equal(await ready.text(), "shutting down\n");
    const health = await t.server.handler(new Request(`${t.http}/healthz`), info);
    assert.equal(health.status, 200, "the process is still healthy, only not ready");
    await health.body?.cancel();
    const upgrade = await t.server.handler(
      new Request(`${t.http}/echo`, {
        headers: {
          host: `127.0.0.1:${t.server.addr.port}`,
          upgrade: "websocket",
          connection: "Upgrade",
          "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
          "sec-websocket-version": "13",
          "sec-websocket-protocol": "echo",
        },
      }),
      info,
    );
    assert.equal(upgrade.status, 503);
    assert.equal(upgrade.headers.get("retry-after"), "5");
    assert.equal(await upgrade.text(), "server shutting down\n");
    assert.equal(t.server.metrics.handshakeRefusals.get("shutting_down"), 1);
    assert.ok(
      t.log.lines.some((line) => / handshake\.refused status=503 reason=shutting_down /.test(line)),
    );

    const close = await nextFrame(session);
    assert.equal(close?.opcode, Opcode.Close);
    assert.deepEqual(parseClose(close!.payload), { code: 1001, reason: "server shutting down" });
    assert.equal(stopped, false, "shutdown waits for the client's close frame");
    await writeAll(conn, encodeClientFrame(Opcode.Close, closePayload(1001)));
    assert.equal(
      await nextFrame(session),
      null,
      "the server ends the connection after the handshake",
    );
    await stopping;
    assert.equal(t.server.metrics.closes.get(1001), 1);
  } finally {
    closeQuietly(conn);
  }
});

Deno.test("a second SIGTERM exits at once with status 1 while the graceful shutdown waits", async () => {
  await using server = await spawnServer(["--shutdown-deadline=60s"]);
  const session = await rawWebSocket(server.port);
  try {
    assert.equal(await echoOf(session, "hi"), "hi");
    server.signal("SIGTERM");
    const close = await nextFrame(session);
    assert.equal(close?.opcode, Opcode.Close);
    assert.deepEqual(parseClose(close!.payload), { code: 1001, reason: "server shutting down" });

    // This client never answers, so the shutdown stays in progress: the real process is not
    // ready and refuses new sessions.
    const ready = await get(server.port, "/readyz");
    assert.equal(ready.status, 503);
    assert.equal(ready.body, "shutting down\n");
    const refused = await rawExchange(server.port, handshakeRequest("/echo"));
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "5");

    const signalledAt = performance.now();
    server.signal("SIGTERM");
    const status = await server.status;
    const elapsedMs = Math.round(performance.now() - signalledAt);
    assert.equal(status.code, 1, server.output());
    await server.waitFor(/ WARN process\.forced_exit signal=SIGTERM why="second signal"/);
    console.log(`    second signal: exit 1 after ${elapsedMs} ms (deadline 60 s)`);
  } finally {
    closeQuietly(session.conn);
  }
});

Deno.test("the shutdown deadline ends the process with status 1 when a client never answers the close", async () => {
  await using server = await spawnServer(["--shutdown-deadline=1s"]);
  const session = await rawWebSocket(server.port);
  try {
    assert.equal(await echoOf(session, "hi"), "hi");
    const signalledAt = performance.now();
    server.signal("SIGTERM");
    const close = await nextFrame(session);
    assert.equal(close?.opcode, Opcode.Close);
    assert.deepEqual(parseClose(close!.payload), { code: 1001, reason: "server shutting down" });
    const status = await server.status;
    const elapsedMs = Math.round(performance.now() - signalledAt);
    assert.equal(status.code, 1, server.output());
    await server.waitFor(/ WARN process\.forced_exit why="shutdown deadline passed"/);
    assert.ok(!server.text().some((line) => / server\.stopped/.test(line)));
    console.log(`    deadline 1 s: exit 1 after ${elapsedMs} ms`);
  } finally {
    closeQuietly(session.conn);
  }
});

Deno.test("SIGINT shuts down like SIGTERM: sessions get 1001, exit 0", async () => {
  await using server = await spawnServer();
  const socket = await openWebSocket(`ws://127.0.0.1:${server.port}/echo`);
  socket.send("before the signal");
  assert.equal(await nextMessage(socket), "before the signal");
  server.signal("SIGINT");
  const closed = await closeEvent(socket);
  assert.equal(closed.code, 1001);
  assert.equal(closed.reason, "server shutting down");
  assert.ok(closed.wasClean);
  const status = await server.status;
  assert.equal(status.code, 0, server.output());
  await server.waitFor(/ INFO process\.signal signal=SIGINT deadline_ms=5000$/);
});
