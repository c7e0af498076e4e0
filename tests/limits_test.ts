import assert from "node:assert/strict";
import {
  appWith,
  closeEvent,
  closeWebSocket,
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
import type { TestServer } from "./_helpers.ts";
import type { WebSocketSession } from "../src/websocket/session.ts";

/** Proves the server still serves a normal client after a limit was hit. */
async function assertStillEchoes(t: TestServer): Promise<void> {
  const socket = await openWebSocket(`${t.ws}/echo`);
  socket.send("after the limit");
  assert.equal(await nextMessage(socket), "after the limit");
  await closeWebSocket(socket);
}

Deno.test("connections past the total limit get 503 with Retry-After until one closes", async () => {
  await using t = startServer({ maxConnections: 2 });
  const first = await openWebSocket(`${t.ws}/echo`);
  const second = await openWebSocket(`${t.ws}/echo`);
  const refused = await rawExchange(t.server.addr.port, handshakeRequest("/echo"));
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("retry-after"), "5");
  assert.match(refused.body, /server at its connection limit/);
  assert.equal(t.server.metrics.handshakeRefusals.get("too_many_connections"), 1);
  const closed = t.log.waitFor(/session\.close /);
  await closeWebSocket(first);
  await closed;
  await assertStillEchoes(t);
  await closeWebSocket(second);
});

Deno.test("connections past the per-address limit get 503 naming the address limit", async () => {
  await using t = startServer({ maxConnectionsPerAddress: 1 });
  const first = await openWebSocket(`${t.ws}/echo`);
  const refused = await rawExchange(t.server.addr.port, handshakeRequest("/echo"));
  assert.equal(refused.status, 503);
  assert.match(refused.body, /too many connections from this address/);
  const closed = t.log.waitFor(/session\.close /);
  await closeWebSocket(first);
  // The slot is free once the server has seen the close.
  await closed;
  await assertStillEchoes(t);
});

// At info level (the default) the echo answers on its own path; debug logging turns it off.
for (const logLevel of ["info", "debug"] as const) {
  Deno.test(`a message over the size limit closes the session with 1009 and the server goes on (${logLevel} logging)`, async () => {
    await using t = startServer({ maxMessageBytes: 1024 }, { logLevel });
    const socket = await openWebSocket(`${t.ws}/echo`);
    // The limit is in UTF-8 bytes: 1,024 of them pass as 512 two-byte characters or 1,024
    // ASCII ones, and 1,025 fail in 513 characters, which UTF-16 units would let through.
    const atLimit = "é".repeat(512);
    socket.send(atLimit);
    assert.equal(await nextMessage(socket), atLimit, "exactly the limit passes");
    socket.send("x".repeat(1024));
    assert.equal((await nextMessage(socket) as string).length, 1024);
    socket.send("é".repeat(512) + "x");
    // The answer is the close, not an echo.
    await assert.rejects(nextMessage(socket), /closed with 1009 after 0\/1 messages/);
    const event = await closeEvent(socket);
    assert.equal(event.code, 1009);
    assert.equal(event.reason, "message of 1025 bytes exceeds 1024");
    await t.server.sessionsClosed();
    assert.equal(t.server.metrics.closes.get(1009), 1);
    assert.equal(t.server.metrics.received.textBytes, 1024 + 1024 + 1025);
    assert.equal(t.server.metrics.sent.textBytes, 1024 + 1024);
    await assertStillEchoes(t);
    assert.match(
      t.log.lines.join("\n"),
      /session\.limit session=\d+ limit=max_message_bytes bytes=1025/,
    );
  });
}

/**
 * Floods the server with `frame` while never reading, then reads whatever the server sent
 * before it dropped the connection. Returns the close the client saw, if any got through
 * (a peer that does not read may never see it), and how much it wrote.
 */
async function floodWithoutReading(port: number, frame: Uint8Array, count: number) {
  const { conn, frames } = await rawWebSocket(port);
  let written = 0;
  try {
    for (let i = 0; i < count; i++) {
      await conn.write(frame);
      written += frame.length;
    }
  } catch {
    // The server gave up on us: the connection is closed under our writes.
  }
  let close: { code: number; reason: string } | undefined;
  try {
    for (let next = await frames.next(); next; next = await frames.next()) {
      if (next.opcode === Opcode.Close) {
        close = parseClose(next.payload);
        break;
      }
    }
  } catch {
    // Reset by the server: unread data on a closed socket.
  }
  conn.close();
  return { close, written };
}

function mebibytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

for (
  const mode of [
    // The echo answers at once (push mode, on its own path at info level): what grows is
    // its unsent output.
    {
      name: "push",
      options: {},
      logLevel: "info",
      limit: "max_send_buffer_bytes",
      reason: "send buffer over limit",
    },
    // With a read timeout it reads and waits on backpressure: what grows is its unread input.
    {
      name: "pull",
      options: { readTimeoutMs: 60_000 },
      logLevel: "debug",
      limit: "max_read_queue_bytes",
      reason: "read queue over limit",
    },
  ] as const
) {
  Deno.test(`an echo client that does not read is closed with 1008 and its memory freed (${mode.name} mode)`, async () => {
    const limit = 256 * 1024;
    await using t = startServer({
      maxMessageBytes: limit,
      maxSendBufferBytes: limit,
      maxReadQueueBytes: limit,
      ...mode.options,
    }, { logLevel: mode.logLevel });
    const rssBefore = Deno.memoryUsage().rss;
    const frame = encodeClientFrame(Opcode.Binary, new Uint8Array(64 * 1024));
    const limited = t.log.waitFor(/session\.limit/);
    const { close, written } = await floodWithoutReading(t.server.addr.port, frame, 512);
    await t.server.sessionsClosed();
    assert.match(await limited, new RegExp(`limit=${mode.limit}`));
    // The peer read nothing, so it never confirmed the 1008: the wire saw a drop (1006).
    assert.equal(t.server.metrics.closes.get(1006), 1);
    assert.match(
      t.log.lines.join("\n"),
      new RegExp(`session\\.close .* code=1006 reason="${mode.reason}.* close_sent=1008`),
    );
    if (close) assert.equal(close.code, 1008);
    const rssAfter = Deno.memoryUsage().rss;
    console.log(
      `slow consumer (${mode.name}): wrote ${mebibytes(written)} unread; RSS before ` +
        `${mebibytes(rssBefore)}, after ${mebibytes(rssAfter)}`,
    );
    await assertStillEchoes(t);
  });
}

Deno.test("a handler that ignores backpressure is closed with 1008 at the send-buffer limit", async () => {
  const limit = 256 * 1024;
  const handler = {
    async handleSession(session: WebSocketSession) {
      // Fire-and-forget sends: only the send-buffer limit stands between this and the heap.
      for await (const message of session) {
        for (let i = 0; i < 64 && session.isConnected; i++) void session.send(message.data);
      }
    },
  };
  await using t = startServer({
    app: appWith(handler),
    maxSendBufferBytes: limit,
    maxReadQueueBytes: 64 * limit,
  });
  const frame = encodeClientFrame(Opcode.Binary, new Uint8Array(16 * 1024));
  const limited = t.log.waitFor(/session\.limit/);
  await floodWithoutReading(t.server.addr.port, frame, 64);
  await t.server.sessionsClosed();
  assert.match(await limited, /limit=max_send_buffer_bytes/);
  assert.equal(t.server.metrics.closes.get(1006), 1);
  assert.match(
    t.log.lines.join("\n"),
    /code=1006 reason="send buffer over limit: the peer is not reading" close_sent=1008/,
  );
  await assertStillEchoes(t);
});

Deno.test("slowly dribbled and abandoned handshakes do not block other clients", async () => {
  await using t = startServer();
  const { port } = t.server.addr;
  const request = new TextEncoder().encode(handshakeRequest("/echo"));
  const dribblers = await Promise.all(
    Array.from({ length: 200 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
  );
  // Each sends only part of its headers and then goes quiet.
  await Promise.all(dribblers.map((conn, i) => conn.write(request.subarray(0, 10 + (i % 50)))));
  await assertStillEchoes(t);
  const health = await fetch(`${t.http}/healthz`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  for (const conn of dribblers) conn.close();
});

Deno.test("a flood of bad handshakes is refused one by one and the server goes on", async () => {
  await using t = startServer();
  const { port } = t.server.addr;
  const bad = handshakeRequest("/echo", { "Sec-WebSocket-Version": "7" });
  const answers = await Promise.all(Array.from({ length: 300 }, () => rawExchange(port, bad)));
  assert.ok(answers.every((answer) => answer.status === 426));
  assert.equal(t.server.metrics.handshakeRefusals.get("unsupported_version"), 300);
  await assertStillEchoes(t);
});
