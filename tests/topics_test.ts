/**
 * Topics (issue #15): publish/subscribe across sessions, in order and at most once, with
 * limits, cleanup on close and exact metrics; across worker threads in `worker_topics_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Metrics } from "../src/metrics.ts";
import { TopicRegistry } from "../src/topics/registry.ts";
import { TopicError } from "../src/topics/topic_name.ts";
import topicsApp from "./fixtures/topics_app.ts";
import {
  closeWebSocket,
  encodeClientFrame,
  nextMessage,
  nextMessages,
  Opcode,
  openWebSocket,
  rawWebSocket,
  startServer,
} from "./_helpers.ts";
import type { TestServer } from "./_helpers.ts";

/** Opens a client of the topics app. */
function client(t: TestServer): Promise<WebSocket> {
  return openWebSocket(`${t.ws}/topics`, "topics.test");
}

/** Subscribes `socket` to `topic` and waits for the answer. */
async function subscribe(socket: WebSocket, topic: string): Promise<string> {
  socket.send(`sub ${topic}`);
  return String(await nextMessage(socket));
}

Deno.test("10,000 messages from one publisher arrive in order at 50 subscribers, not at the publisher", async () => {
  await using t = startServer({ app: topicsApp });
  const subscribers = await Promise.all(Array.from({ length: 50 }, () => client(t)));
  for (const socket of subscribers) {
    assert.match(await subscribe(socket, "news"), /^subscribed news /);
  }
  const publisher = await client(t);
  assert.match(await subscribe(publisher, "news"), /^subscribed/);
  const count = 10_000;
  for (let i = 0; i < count; i++) publisher.send(`pub news ${i}`);
  const expected = Array.from({ length: count }, (_, i) => String(i));
  for (const socket of subscribers) assert.deepEqual(await nextMessages(socket, count), expected);
  // The publisher's own next message is the answer to its next command: nothing of its own.
  publisher.send("count news");
  assert.equal(await nextMessage(publisher), "count news 51");
  assert.equal(t.server.metrics.publishes, count);
  assert.equal(t.server.metrics.deliveries, count * 50);
  await Promise.all([...subscribers, publisher].map((socket) => closeWebSocket(socket)));
});

Deno.test("publishers in parallel keep their own order, and includeSelf reaches the publisher", async () => {
  await using t = startServer({ app: topicsApp });
  const subscribers = await Promise.all(Array.from({ length: 5 }, () => client(t)));
  const publishers = await Promise.all(Array.from({ length: 4 }, () => client(t)));
  for (const socket of subscribers) await subscribe(socket, "mix");
  await subscribe(publishers[0], "mix");
  const each = 2_000;
  for (let i = 0; i < each; i++) {
    for (const [p, socket] of publishers.entries()) socket.send(`pub mix ${p}:${i}`);
  }
  for (const socket of subscribers) {
    const next = [0, 0, 0, 0];
    for (const message of await nextMessages(socket, each * 4)) {
      const [p, i] = String(message).split(":").map(Number);
      assert.equal(i, next[p], `publisher ${p} out of order`);
      next[p]++;
    }
    assert.deepEqual(next, [each, each, each, each]);
  }
  // Publisher 0 subscribed too: it got the other three's messages, and its own only with includeSelf.
  const others = await nextMessages(publishers[0], each * 3);
  assert.ok(others.every((message) => !String(message).startsWith("0:")));
  publishers[0].send("pubself mix mine");
  assert.equal(await nextMessage(publishers[0]), "mine");
});

Deno.test("a subscriber that does not read is closed with 1008 while the others lose nothing", async () => {
  const limit = 1024 * 1024;
  await using t = startServer({ app: topicsApp, maxSendBufferBytes: limit });
  const readers = await Promise.all(Array.from({ length: 3 }, () => client(t)));
  for (const socket of readers) await subscribe(socket, "flood");
  // A raw client that subscribes and then never reads a byte.
  const { conn } = await rawWebSocket(t.server.addr.port, {
    path: "/topics",
    headers: { "Sec-WebSocket-Protocol": "topics.test" },
  });
  await conn.write(encodeClientFrame(Opcode.Text, new TextEncoder().encode("sub flood")));
  const publisher = await client(t);
  publisher.send("count flood");
  // The raw subscribe was handled before the publisher's first command reached the server?
  // Not necessarily: wait until the count says 4.
  while (String(await nextMessage(publisher)) !== "count flood 4") publisher.send("count flood");
  const limited = t.log.waitFor(/session\.limit .*limit=max_send_buffer_bytes/);
  const payload = "x".repeat(16 * 1024);
  // 25 MB in rounds of 800 KB, each read by the readers before the next: the readers (in this
  // process) keep up; the one that never reads passes the kernel's buffers and the 1 MiB limit.
  const rounds = 32;
  const perRound = 50;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < perRound; i++) {
      publisher.send(`pub flood ${round * perRound + i} ${payload}`);
    }
    for (const socket of readers) {
      const got = await nextMessages(socket, perRound);
      got.forEach((message, i) => {
        assert.ok(String(message).startsWith(`${round * perRound + i} `), `message ${i}`);
      });
    }
  }
  await limited;
  publisher.send("count flood");
  assert.equal(await nextMessage(publisher), "count flood 3", "the closing subscriber left");
  // It never reads the 1008 either: once it hangs up, its close is logged as unconfirmed.
  const closed = t.log.waitFor(/session\.close .*close_sent=1008/);
  conn.close();
  await closed;
});

Deno.test("a closed session leaves its topics before its close is counted, and gets nothing after", async () => {
  await using t = startServer({ app: topicsApp });
  const leaving = await client(t);
  const staying = await client(t);
  await subscribe(leaving, "room");
  await subscribe(leaving, "hall");
  await subscribe(staying, "room");
  assert.equal(t.server.subscriberCount("room"), 2);
  assert.equal(t.server.metrics.subscriptions, 3);
  assert.equal(t.server.metrics.topics, 2);
  const closed = t.log.waitFor(/session\.close /);
  await closeWebSocket(leaving);
  await closed;
  assert.equal(t.server.subscriberCount("room"), 1);
  assert.equal(t.server.subscriberCount("hall"), 0);
  assert.equal(t.server.metrics.subscriptions, 1);
  assert.equal(t.server.metrics.topics, 1);
  t.server.publish("room", "after");
  assert.equal(await nextMessage(staying), "after");
  assert.equal(t.server.metrics.deliveries, 1);
});

Deno.test("nothing is delivered after unsubscribe: the publisher's next message on another topic comes first", async () => {
  await using t = startServer({ app: topicsApp });
  const subscriber = await client(t);
  const publisher = await client(t);
  await subscribe(subscriber, "a");
  await subscribe(subscriber, "b");
  subscriber.send("unsub a");
  assert.equal(await nextMessage(subscriber), "unsubscribed a");
  publisher.send("pub a gone");
  publisher.send("pub b here");
  assert.equal(await nextMessage(subscriber), "here");
});

Deno.test("topic limits: 100 per session, names non-empty and at most 256 bytes, each with its reason", async () => {
  await using t = startServer({ app: topicsApp, maxTopicsPerSession: 100 });
  const socket = await client(t);
  for (let i = 0; i < 100; i++) assert.match(await subscribe(socket, `t${i}`), /^subscribed/);
  assert.equal(await subscribe(socket, "t100"), "error at the limit of 100 topics per session");
  assert.match(await subscribe(socket, "t0"), /^subscribed/, "an old topic again is no new one");
  const fresh = await client(t);
  assert.equal(
    await subscribe(fresh, "é".repeat(129)),
    "error topic name is 258 bytes, over the limit of 256",
  );
  assert.match(await subscribe(fresh, "é".repeat(128)), /^subscribed/);
  fresh.send("sub ");
  assert.equal(await nextMessage(fresh), "error topic name is empty");
  const registry = new TopicRegistry();
  assert.throws(() => registry.publish(42 as unknown as string, "x"), TopicError);
  assert.throws(() => registry.publish("", "x"), /topic name is empty/);
});

Deno.test("topics metrics are exact: publishes, deliveries, drops, topics and subscriptions", async () => {
  await using t = startServer({ app: topicsApp });
  const a = await client(t);
  const b = await client(t);
  await subscribe(a, "m");
  await subscribe(b, "m");
  a.send("pub m one");
  assert.equal(await nextMessage(b), "one");
  t.server.publish("m", "two");
  await nextMessages(a, 1);
  await nextMessages(b, 1);
  const text = t.server.metrics.render();
  assert.match(text, /^websocket_topics 1$/m);
  assert.match(text, /^websocket_subscriptions 2$/m);
  assert.match(text, /^websocket_publishes_total 2$/m);
  assert.match(text, /^websocket_deliveries_total 3$/m);
  await closeWebSocket(a);
  await closeWebSocket(b);
});

Deno.test("a delivery a subscriber refuses (its close has begun) is counted as dropped, by reason", () => {
  const metrics = new Metrics();
  const registry = new TopicRegistry({ metrics });
  const open = {
    got: [] as string[],
    deliver(data: string | Uint8Array | ArrayBuffer) {
      this.got.push(String(data));
      return true;
    },
  };
  const closing = { deliver: () => false };
  registry.subscribe(open, new Set(), "t");
  registry.subscribe(closing, new Set(), "t");
  assert.equal(registry.publish("t", "x"), 1);
  assert.deepEqual(open.got, ["x"]);
  assert.equal(metrics.deliveries, 1);
  assert.equal(metrics.deliveriesDropped.get("closing"), 1);
  assert.match(metrics.render(), /^websocket_deliveries_dropped_total\{reason="closing"\} 1$/m);
});

Deno.test("shutdown leaves topics first: no subscriber is left while the sessions still drain", async () => {
  const t = startServer({ app: topicsApp });
  const sockets = await Promise.all([client(t), client(t)]);
  for (const socket of sockets) await subscribe(socket, "news");
  assert.equal(t.server.subscriberCount("news"), 2);
  const stopping = t.server.shutdown();
  assert.equal(t.server.subscriberCount("news"), 0);
  assert.equal(t.server.metrics.subscriptions, 0);
  assert.equal(t.server.metrics.sessionsOpen, 2, "both still open, draining");
  await stopping;
  for (const socket of sockets) assert.equal((await closeWebSocket(socket)).code, 1001);
});
