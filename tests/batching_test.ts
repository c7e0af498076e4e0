/**
 * Batched deliveries (issue #17): a session that opted in gets a burst of published messages
 * in fewer frames, complete, in order and within the batch's bounds; a lone message goes at
 * once as itself; the handler's own replies and other sessions are never batched.
 *
 * @module
 */

import assert from "node:assert/strict";
import chatApp from "../apps/chat/app.ts";
import topicsApp, { TEST_BATCHES } from "./fixtures/topics_app.ts";
import { utf8ByteLength } from "../src/websocket/utf8.ts";
import { DeliveryBatch } from "../src/topics/_delivery_batch.ts";
import { jsonArrayBatches } from "../src/topics/batching.ts";
import { BUSY_MS } from "../src/_turn_clock.ts";
import { TopicHub } from "../src/topics/hub.ts";
import { closeWebSocket, nextMessage, openWebSocket, startServer } from "./_helpers.ts";
import type { TestServer } from "./_helpers.ts";

/** Messages and the frames they came in, as a `topics.batch` client reads them. */
interface Taken {
  messages: string[];
  frames: string[][];
}

/** Reads frames until `count` messages have come: a frame is one, or a JSON array of them. */
async function take(socket: WebSocket, count: number): Promise<Taken> {
  const taken: Taken = { messages: [], frames: [] };
  while (taken.messages.length < count) {
    const frame = String(await nextMessage(socket));
    const messages: string[] = frame.startsWith("[") ? JSON.parse(frame) : [frame];
    taken.frames.push(messages);
    taken.messages.push(...messages);
  }
  return taken;
}

async function client(t: TestServer, protocol: string, topic?: string): Promise<WebSocket> {
  const socket = await openWebSocket(`${t.ws}/topics`, protocol);
  if (topic !== undefined) {
    socket.send(`sub ${topic}`);
    assert.match(String(await nextMessage(socket)), new RegExp(`^subscribed ${topic} `));
  }
  return socket;
}

Deno.test("a quiet turn's first delivery is sent within the call; the rest of the turn go as one frame at its end", async () => {
  const frames: string[] = [];
  let frameSent: () => void = () => {};
  const batch = new DeliveryBatch(jsonArrayBatches(), (frame) => {
    frames.push(frame);
    frameSent();
  });
  const nextFrame = () => new Promise<void>((resolve) => (frameSent = resolve));
  // What a session does: send at once what the batch does not take.
  const deliver = (data: string | Uint8Array, bytes: number) => {
    if (!batch.take(data, bytes)) frames.push(typeof data === "string" ? data : "binary");
  };
  deliver('{"n":1}', 7);
  assert.deepEqual(frames, ['{"n":1}']); // at once, not after the turn
  deliver('{"n":2}', 7);
  deliver('{"n":3}', 7);
  assert.equal(frames.length, 1);
  await nextFrame();
  assert.deepEqual(frames, ['{"n":1}', '[{"n":2},{"n":3}]']);
  // That turn was busy: for BUSY_MS the clock stays busy and a turn's first waits too.
  deliver('{"n":4}', 7);
  assert.equal(frames.length, 2);
  await nextFrame();
  assert.deepEqual(frames.slice(2), ['{"n":4}']);
  // Quiet for longer than that (the behaviour under test is a span of time, not an event):
  // the next lone message goes at once again.
  await new Promise((resolve) => setTimeout(resolve, BUSY_MS + 5));
  deliver('{"n":5}', 7);
  assert.deepEqual(frames.slice(3), ['{"n":5}']);
  // Binary is never joined, and goes after what was pending.
  deliver('{"n":6}', 7);
  deliver(new Uint8Array([1]), 1);
  assert.deepEqual(frames.slice(4), ['{"n":6}', "binary"]);
  batch.close();
});

Deno.test("a batch format that throws costs no message: each goes alone, in order", async () => {
  const frames: string[] = [];
  let allSent: () => void = () => {};
  const sent = new Promise<void>((resolve) => (allSent = resolve));
  const failing = {
    join(): string {
      throw new Error("no joining today");
    },
  };
  const batch = new DeliveryBatch(failing, (frame) => {
    frames.push(frame);
    if (frames.length === 3) allSent();
  });
  const logged = console.error;
  const errors: unknown[] = [];
  console.error = (...args: unknown[]) => void errors.push(args.join(" "));
  try {
    for (const n of [1, 2, 3]) if (!batch.take(`m${n}`, 2)) frames.push(`m${n}`);
    if (frames.length === 3) allSent();
    await sent;
  } finally {
    console.error = logged;
    batch.close();
  }
  assert.deepEqual(frames, ["m1", "m2", "m3"]);
  assert.deepEqual(errors, ["batch format: no joining today"]);
});

Deno.test("a hub that has closed takes a late publish without throwing", async () => {
  const hub = new TopicHub();
  const { port1, port2 } = new MessageChannel();
  hub.add(port1);
  port2.postMessage({ c: "news", n: 1 }); // a worker with a subscriber
  // No event says the hub has read it: look again after each macrotask.
  while (hub.localCount("news") === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  await hub.close();
  hub.publish("news", "late");
  port2.close();
});

Deno.test("a burst reaches batching subscribers complete and in order, in fewer frames within the bounds", async () => {
  await using t = startServer({ app: topicsApp });
  const batched = await Promise.all(
    Array.from({ length: 20 }, () => client(t, "topics.batch", "news")),
  );
  const plain = await client(t, "topics.test", "news");
  const publisher = await client(t, "topics.test");
  // Short messages reach the count bound first, long ones the byte bound.
  const expected = Array.from(
    { length: 5_000 },
    (_, i) => i < 2_500 ? `s${i}` : `${i}-${"x".repeat(40)}`,
  );
  for (const message of expected) publisher.send(`pub news ${message}`);
  let frames = 0;
  for (const socket of batched) {
    const taken = await take(socket, expected.length);
    assert.deepEqual(taken.messages, expected);
    for (const frame of taken.frames) {
      assert.ok(frame.length <= TEST_BATCHES.maxMessages!, `${frame.length} messages in a frame`);
      const bytes = frame.reduce((sum, m) => sum + utf8ByteLength(m), 0);
      assert.ok(frame.length === 1 || bytes <= TEST_BATCHES.maxBytes!, `${bytes} bytes in a frame`);
    }
    frames += taken.frames.length;
  }
  // A burst read in a few turns is a few frames per turn, far from one per message.
  assert.ok(frames < (batched.length * expected.length) / 4, `${frames} frames`);
  // The subscriber that did not opt in gets one frame per message.
  const one = await take(plain, expected.length);
  assert.deepEqual(one.messages, expected);
  assert.equal(one.frames.length, expected.length);
  assert.equal(t.server.metrics.deliveries, expected.length * 21);
  await Promise.all([...batched, plain, publisher].map((socket) => closeWebSocket(socket)));
});

Deno.test("after a burst, lone published messages reach a batching subscriber one by one, each as itself", async () => {
  await using t = startServer({ app: topicsApp });
  const subscriber = await client(t, "topics.batch", "quiet");
  const publisher = await client(t, "topics.test");
  // A burst first, so the session has just been busy; then one message at a time.
  for (let i = 0; i < 500; i++) publisher.send(`pub quiet burst${i}`);
  assert.equal((await take(subscriber, 500)).messages.at(-1), "burst499");
  for (let i = 0; i < 20; i++) {
    publisher.send(`pub quiet lone${i}`);
    assert.equal(await nextMessage(subscriber), `lone${i}`);
  }
  await Promise.all([subscriber, publisher].map((socket) => closeWebSocket(socket)));
});

Deno.test("a handler's own reply comes after the deliveries pending before it", async () => {
  await using t = startServer({ app: topicsApp });
  const session = await client(t, "topics.batch", "self");
  const count = 300;
  for (let i = 0; i < count; i++) session.send(`pubself self m${i}`);
  session.send("count self");
  const taken = await take(session, count + 1);
  assert.deepEqual(taken.messages, [
    ...Array.from({ length: count }, (_, i) => `m${i}`),
    "count self 1",
  ]);
  assert.ok(taken.frames.length < count, `${taken.frames.length} frames`);
  await closeWebSocket(session);
});

Deno.test("chat.v1 batches a busy room: a burst reaches another member in order, in fewer frames", async () => {
  await using t = startServer({ app: chatApp });
  const [ann, bob] = await Promise.all([1, 2].map(() => openWebSocket(`${t.ws}/chat`, "chat.v1")));
  ann.send(JSON.stringify({ type: "join", room: "busy", name: "ann" }));
  bob.send(JSON.stringify({ type: "join", room: "busy", name: "bob" }));
  // Each reads its own joined/presence messages until the room counts both of them.
  for (const socket of [ann, bob]) {
    while (true) {
      const frame = JSON.parse(String(await nextMessage(socket)));
      const messages = Array.isArray(frame) ? frame : [frame];
      if (messages.some((m) => m.members === 2)) break;
    }
  }
  const count = 1_000;
  for (let seq = 0; seq < count; seq++) {
    ann.send(JSON.stringify({ type: "say", room: "busy", text: `t${seq}`, seq }));
  }
  const seqs: number[] = [];
  let frames = 0;
  while (seqs.length < count) {
    const frame = JSON.parse(String(await nextMessage(bob)));
    frames++;
    for (const m of Array.isArray(frame) ? frame : [frame]) {
      if (m.type === "message") seqs.push(m.seq);
    }
  }
  assert.deepEqual(seqs, Array.from({ length: count }, (_, i) => i));
  assert.ok(frames < count / 4, `${frames} frames for ${count} messages`);
  await Promise.all([ann, bob].map((socket) => closeWebSocket(socket)));
});
