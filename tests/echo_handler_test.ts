import assert from "node:assert/strict";
import {
  closeEvent,
  closeWebSocket,
  nextMessage,
  nextMessages,
  openWebSocket,
  patternBytes,
  sameBytes,
  startServer,
} from "./_helpers.ts";

Deno.test("echo answers the echo protocol and echoes text as text", async () => {
  await using t = startServer();
  const socket = await openWebSocket(`${t.ws}/echo`, "echo");
  assert.equal(socket.protocol, "echo");
  socket.send("hello, world");
  assert.equal(await nextMessage(socket), "hello, world");
  await closeWebSocket(socket);
});

Deno.test("echo picks echo out of several offered protocols", async () => {
  await using t = startServer();
  const socket = await openWebSocket(`${t.ws}/echo`, ["chat", "echo", "superchat"]);
  assert.equal(socket.protocol, "echo");
  await closeWebSocket(socket);
});

Deno.test("echo echoes binary as binary, byte for byte", async () => {
  await using t = startServer();
  const socket = await openWebSocket(`${t.ws}/echo`);
  const payload = patternBytes(4096);
  socket.send(payload);
  const echoed = await nextMessage(socket);
  assert.ok(echoed instanceof ArrayBuffer, "binary comes back as binary");
  assert.ok(sameBytes(echoed, payload));
  await closeWebSocket(socket);
});

Deno.test("echo echoes empty text and empty binary messages with their kinds", async () => {
  await using t = startServer();
  const socket = await openWebSocket(`${t.ws}/echo`);
  const replies = nextMessages(socket, 2);
  socket.send("");
  socket.send(new Uint8Array(0));
  const [text, binary] = await replies;
  assert.equal(text, "");
  assert.ok(binary instanceof ArrayBuffer);
  assert.equal(binary.byteLength, 0);
  await closeWebSocket(socket);
});

Deno.test("echo keeps multi-byte UTF-8 intact", async () => {
  await using t = startServer();
  const socket = await openWebSocket(`${t.ws}/echo`);
  const text = "héllo — 你好 🎉 \u{10FFFF} ☃";
  socket.send(text);
  assert.equal(await nextMessage(socket), text);
  await closeWebSocket(socket);
});

Deno.test("echo returns a 1 MiB binary message and a 1 MiB text message intact", async () => {
  await using t = startServer();
  const socket = await openWebSocket(`${t.ws}/echo`);
  const bytes = patternBytes(1024 * 1024);
  const text = "0123456789abcdef".repeat(64 * 1024);
  const replies = nextMessages(socket, 2);
  socket.send(bytes);
  socket.send(text);
  const [binary, echoedText] = await replies;
  assert.ok(sameBytes(binary as ArrayBuffer, bytes));
  assert.equal(echoedText, text);
  await closeWebSocket(socket);
});

Deno.test("echo answers 1,000 pipelined messages in order", async () => {
  await using t = startServer();
  const socket = await openWebSocket(`${t.ws}/echo`);
  const count = 1000;
  const replies = nextMessages(socket, count);
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0) socket.send(`message ${i}`);
    else socket.send(new Uint32Array([i]));
  }
  const echoed = await replies;
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0) assert.equal(echoed[i], `message ${i}`);
    else assert.equal(new Uint32Array(echoed[i] as ArrayBuffer)[0], i);
  }
  await closeWebSocket(socket);
});

Deno.test("50 concurrent sessions each get only their own echoes", async () => {
  await using t = startServer();
  const sockets = await Promise.all(
    Array.from({ length: 50 }, () => openWebSocket(`${t.ws}/echo`)),
  );
  const perSocket = 20;
  await Promise.all(sockets.map(async (socket, s) => {
    const replies = nextMessages(socket, perSocket);
    for (let i = 0; i < perSocket; i++) socket.send(`session ${s} message ${i}`);
    const echoed = await replies;
    assert.deepEqual(
      echoed,
      Array.from({ length: perSocket }, (_, i) => `session ${s} message ${i}`),
    );
  }));
  assert.equal(t.server.metrics.sessionsOpen, 50);
  await Promise.all(sockets.map((socket) => closeWebSocket(socket)));
});

Deno.test("echo closes with the peer's close code and logs one line per open and close", async () => {
  await using t = startServer();
  const socket = await openWebSocket(`${t.ws}/echo`);
  socket.send("one");
  await nextMessage(socket);
  const closed = closeEvent(socket);
  socket.close(4001, "done here");
  const event = await closed;
  assert.equal(event.code, 4001);
  assert.equal(event.wasClean, true);
  await t.server.shutdown();
  const opens = t.log.lines.filter((line) => line.includes("session.open"));
  const closes = t.log.lines.filter((line) => line.includes("session.close"));
  assert.equal(opens.length, 1);
  assert.match(opens[0], /session=\d+ remote=127\.0\.0\.1:\d+ protocol=echo/);
  assert.equal(closes.length, 1);
  assert.match(closes[0], /protocol=echo code=4001 reason="done here" duration_ms=\d+/);
  assert.match(closes[0], /received=1 sent=1/);
  assert.equal(t.server.metrics.closes.get(4001), 1);
});

Deno.test("message contents are logged only at debug level", async () => {
  for (const level of ["info", "debug"] as const) {
    const lines: string[] = [];
    const { createLogger } = await import("../src/log.ts");
    await using t = startServer({ logger: createLogger({ level, write: (l) => lines.push(l) }) });
    const socket = await openWebSocket(`${t.ws}/echo`);
    socket.send("secret-payload");
    await nextMessage(socket);
    await closeWebSocket(socket);
    await t.server.shutdown();
    assert.equal(lines.some((l) => l.includes("secret-payload")), level === "debug", level);
  }
});
