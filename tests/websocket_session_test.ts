import assert from "node:assert/strict";
import { WebSocketSession } from "../src/websocket/session.ts";
import { utf8ByteLength } from "../src/websocket/utf8.ts";
import {
  appWith,
  closeEvent,
  closeWebSocket,
  nextMessage,
  nextMessages,
  openWebSocket,
  startServer,
} from "./_helpers.ts";
import type { TestServer } from "./_helpers.ts";

/** A server whose `/echo` route speaks `test`, its sessions run by the test's own function. */
function serverWith(run: (session: WebSocketSession) => Promise<void>): TestServer {
  return startServer({ app: appWith(run, "test") });
}

/** A promise with its resolver, for handing values out of a handler. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}

Deno.test("messages sent before the handler reads are queued in order, none lost", async () => {
  const gate = deferred<void>();
  const got = deferred<string[]>();
  await using t = serverWith(async (session) => {
    await gate.promise;
    const texts: string[] = [];
    for (let i = 0; i < 100; i++) texts.push((await session.readText())!);
    got.resolve(texts);
    await session.sendText("done");
  });
  const socket = await openWebSocket(`${t.ws}/echo`, "test");
  for (let i = 0; i < 100; i++) socket.send(`m${i}`);
  socket.send("sync");
  // The handler starts reading only now; all 100 must already be waiting in the queue.
  const done = nextMessage(socket);
  gate.resolve();
  assert.deepEqual(await got.promise, Array.from({ length: 100 }, (_, i) => `m${i}`));
  assert.equal(await done, "done");
  await closeWebSocket(socket);
});

Deno.test("readMessage reports the kind; readText and readBinary convert", async () => {
  const got = deferred<unknown[]>();
  await using t = serverWith(async (session) => {
    const first = await session.readMessage();
    const second = await session.readMessage();
    const asText = await session.readText();
    const asBytes = await session.readBinary();
    got.resolve([first, second, asText, asBytes]);
  });
  const socket = await openWebSocket(`${t.ws}/echo`, "test");
  socket.send("text");
  socket.send(new Uint8Array([1, 2]));
  socket.send(new TextEncoder().encode("bytes as text"));
  socket.send("é");
  const [first, second, asText, asBytes] = await got.promise;
  assert.deepEqual(first, { kind: "text", data: "text" });
  assert.deepEqual(second, { kind: "binary", data: new Uint8Array([1, 2]) });
  assert.equal(asText, "bytes as text");
  assert.deepEqual(asBytes, new Uint8Array([0xc3, 0xa9]));
  await closeEvent(socket);
});

Deno.test("push mode hands text as a string and binary as bytes, in order", async () => {
  const gate = deferred<void>();
  const got = deferred<unknown[]>();
  await using t = serverWith(async (session) => {
    await gate.promise;
    const seen: unknown[] = [];
    await session.listen((data) => {
      seen.push(data);
      if (seen.length === 3) got.resolve(seen);
      if (seen.length === 4) void session.sendText(`${seen.length} received`);
    });
  });
  const socket = await openWebSocket(`${t.ws}/echo`, "test");
  socket.send("queued");
  socket.send(new Uint8Array([7, 8]));
  socket.send("sync");
  const reply = nextMessage(socket);
  gate.resolve();
  assert.deepEqual(await got.promise, ["queued", new Uint8Array([7, 8]), "sync"]);
  socket.send("héllo");
  assert.equal(await reply, "4 received");
  await closeWebSocket(socket);
});

Deno.test("echo mode answers every message with itself, queued ones first, and counts them", async () => {
  const gate = deferred<void>();
  const counts = deferred<number[]>();
  await using t = serverWith(async (session) => {
    await gate.promise;
    await session.echo();
    await session.closed;
    counts.resolve([session.messagesReceived, session.messagesSent]);
  });
  const socket = await openWebSocket(`${t.ws}/echo`, "test");
  socket.send("queued");
  socket.send(new Uint8Array([1, 2, 3]));
  const echoes = nextMessages(socket, 4);
  gate.resolve();
  socket.send("héllo ✓");
  socket.send(new Uint8Array(70_000).fill(9));
  const [queuedText, queuedBytes, text, bytes] = await echoes;
  assert.equal(queuedText, "queued");
  assert.deepEqual(new Uint8Array(queuedBytes as ArrayBuffer), new Uint8Array([1, 2, 3]));
  assert.equal(text, "héllo ✓");
  assert.deepEqual(new Uint8Array(bytes as ArrayBuffer), new Uint8Array(70_000).fill(9));
  await closeWebSocket(socket);
  assert.deepEqual(await counts.promise, [4, 4]);
});

Deno.test("a read resolves null after the read timeout and the session stays open", async () => {
  const got = deferred<[unknown, boolean]>();
  await using t = serverWith(async (session) => {
    const message = await session.readMessage({ timeoutMs: 30 });
    got.resolve([message, session.isConnected]);
    await session.sendText("still here");
  });
  const socket = await openWebSocket(`${t.ws}/echo`, "test");
  const reply = nextMessage(socket);
  assert.deepEqual(await got.promise, [null, true]);
  assert.equal(await reply, "still here");
  await closeWebSocket(socket);
});

Deno.test("the echo session closes with 1000 'read timeout' when the read timeout passes", async () => {
  await using t = startServer({ readTimeoutMs: 50 });
  const socket = await openWebSocket(`${t.ws}/echo`);
  socket.send("ping");
  assert.equal(await nextMessage(socket), "ping");
  const event = await closeEvent(socket);
  assert.equal(event.code, 1000);
  assert.equal(event.reason, "read timeout");
});

Deno.test("reads resolve null once the peer has closed, after the queued messages", async () => {
  const got = deferred<unknown[]>();
  const closed = deferred<void>();
  await using t = serverWith(async (session) => {
    await closed.promise;
    await session.closed;
    got.resolve([await session.readText(), await session.readText(), session.isConnected]);
  });
  const socket = await openWebSocket(`${t.ws}/echo`, "test");
  socket.send("last words");
  await closeWebSocket(socket);
  closed.resolve();
  assert.deepEqual(await got.promise, ["last words", null, false]);
});

Deno.test("close is idempotent and sends the code and reason once", async () => {
  const got = deferred<number[]>();
  await using t = serverWith(async (session) => {
    const first = session.close(4000, "first");
    const second = session.close(4001, "second");
    const [a, b] = await Promise.all([first, second]);
    await session.sendText("dropped after close");
    got.resolve([a.code, b.code]);
  });
  const socket = await openWebSocket(`${t.ws}/echo`, "test");
  let messages = 0;
  socket.addEventListener("message", () => messages++);
  const event = await closeEvent(socket);
  assert.equal(event.code, 4000);
  assert.equal(event.reason, "first");
  assert.deepEqual(await got.promise, [4000, 4000]);
  assert.equal(messages, 0);
});

Deno.test("a handler that throws closes its session with 1011 and is logged", async () => {
  await using t = serverWith(() => Promise.reject(new Error("handler bug")));
  const socket = await openWebSocket(`${t.ws}/echo`, "test");
  const event = await closeEvent(socket);
  assert.equal(event.code, 1011);
  await t.server.shutdown();
  assert.match(t.log.lines.join("\n"), /session\.handler_failed session=\d+ error="handler bug"/);
});

Deno.test("a handler that returns without closing gets a normal close", async () => {
  await using t = serverWith(async (session) => {
    await session.sendText("bye");
  });
  const socket = await openWebSocket(`${t.ws}/echo`, "test");
  assert.equal(await nextMessage(socket), "bye");
  assert.equal((await closeEvent(socket)).code, 1000);
});

Deno.test("the async iterator yields every message until the peer closes", async () => {
  const got = deferred<string[]>();
  await using t = serverWith(async (session) => {
    const texts: string[] = [];
    for await (const message of session) {
      if (message.kind === "text") texts.push(message.data);
    }
    got.resolve(texts);
  });
  const socket = await openWebSocket(`${t.ws}/echo`, "test");
  socket.send("a");
  socket.send("b");
  socket.send("c");
  await closeWebSocket(socket);
  assert.deepEqual(await got.promise, ["a", "b", "c"]);
});

Deno.test("sends wait while the send buffer is over the high-water mark", async () => {
  const got = deferred<number>();
  const chunk = new Uint8Array(512 * 1024);
  await using t = serverWith(async (session) => {
    // 8 MiB in 512 KiB sends: the buffer never holds more than the 1 MiB mark plus one send.
    let highest = 0;
    for (let i = 0; i < 16; i++) {
      await session.sendBinary(chunk);
      highest = Math.max(highest, session.bufferedAmount);
    }
    got.resolve(highest);
  });
  const socket = await openWebSocket(`${t.ws}/echo`, "test");
  const all = nextMessages(socket, 16);
  assert.ok((await got.promise) <= 1024 * 1024 + chunk.length);
  assert.equal((await all).length, 16);
  await closeEvent(socket);
});

Deno.test("a session opens and can speak first without listening for the open event", async () => {
  // An "open" listener would send every later event of the process through Deno's slower,
  // two-shape dispatch (see #awaitOpen), so the session must learn of the open another way.
  const listenedTo: string[] = [];
  const opened = deferred<WebSocketSession>();
  await using server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    const add = socket.addEventListener.bind(socket);
    socket.addEventListener = (type: string, listener: EventListenerOrEventListenerObject) => {
      listenedTo.push(type);
      add(type, listener);
    };
    const session = new WebSocketSession(socket);
    session.opened.then(() => session.sendText("hello first")).then(() => opened.resolve(session));
    return response;
  });
  const socket = await openWebSocket(`ws://127.0.0.1:${server.addr.port}/`, []);
  assert.equal(await nextMessage(socket), "hello first");
  const session = await opened.promise;
  assert.equal(session.isConnected, true);
  // Deno adds a close listener of its own (its idle timer); none may be for "open".
  assert.deepEqual([...new Set(listenedTo)].sort(), ["close", "message"]);
  await closeWebSocket(socket);
  await session.closed;
});

Deno.test("utf8ByteLength counts UTF-8 bytes without encoding", () => {
  for (const text of ["", "abc", "é", "你好", "🎉", "a\u{10FFFF}b", "\ud800x", "x\udc00"]) {
    assert.equal(utf8ByteLength(text), new TextEncoder().encode(text).length, JSON.stringify(text));
  }
});
