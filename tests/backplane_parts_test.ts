/**
 * The backplane's parts without Redis: URLs checked at start-up, envelopes, gap counting,
 * presence expiry (issue #16), the outbox that batches a turn's publishes and the Redis
 * protocol reader (issue #17).
 *
 * @module
 */

import assert from "node:assert/strict";
import { backplaneUrlProblem, redactedUrl } from "../src/backplane/backplane_url.ts";
import {
  decodeEnvelope,
  encodeBatch,
  encodeEnvelope,
  type Envelope,
  GapCounter,
} from "../src/backplane/envelope.ts";
import { Outbox } from "../src/backplane/_outbox.ts";
import { encodeCommand, RespError, RespReader, type RespValue } from "../src/backplane/_resp.ts";
import { RemotePresence } from "../src/backplane/presence.ts";
import { createServer } from "../src/server/server.ts";
import { mainCommand } from "./_helpers.ts";

Deno.test("a bad --backplane is a start-up error with one line naming it, status 2", async () => {
  const cases: [string, string][] = [
    ["http://h:1", 'unknown scheme "http:" (use redis:// or rediss://)'],
    ["redis://:6379", "no host (redis://host:6379)"],
    ["redis://h:70000", 'port must be between 1 and 65535, got "70000"'],
    ["redis://h:6379/x", 'database must be a number from 0 to 99, got "x"'],
    ["redis://:50%off@h:6379", "user or password is not percent-encoded (write % as %25)"],
  ];
  for (const [url, problem] of cases) {
    assert.equal(backplaneUrlProblem(url), problem);
    const { code, stderr } = await mainCommand([`--backplane=${url}`]).output();
    const lines = new TextDecoder().decode(stderr).split("\n").filter((l) => l.startsWith("error"));
    assert.equal(code, 2);
    assert.deepEqual(lines, [`error: --backplane: ${problem}`]);
  }
  assert.equal(backplaneUrlProblem("rediss://user:pw@cache.internal:6380/2"), null);
  assert.equal(redactedUrl("redis://user:pw@h:1"), "redis://user:***@h:1");
});

Deno.test("envelopes carry text, bytes and a turn's batch of text, and gaps in an origin's numbers are counted per topic", () => {
  const text = decodeEnvelope(encodeEnvelope("A", 1, "hé"))!;
  assert.deepEqual(text, { origin: "A", seq: 1, messages: ["hé"] });
  const bytes = decodeEnvelope(encodeEnvelope("A", 2, new Uint8Array([0, 255, 7])))!;
  assert.deepEqual([...bytes.messages[0] as Uint8Array], [0, 255, 7]);
  const batch = decodeEnvelope(encodeBatch("A", 3, ["x", "y"]))!;
  assert.deepEqual(batch, { origin: "A", seq: 3, messages: ["x", "y"] });
  assert.equal(decodeEnvelope("not json"), null);
  assert.equal(decodeEnvelope('{"o":"A"}'), null);
  assert.equal(decodeEnvelope('{"o":"A","s":1,"ts":[]}'), null);
  assert.equal(decodeEnvelope('{"o":"A","s":1,"ts":["a",2]}'), null);
  const gaps = new GapCounter();
  const at = (seq: number, count = 1) => ({ origin: "A", seq, messages: Array(count).fill("") });
  assert.equal(gaps.missing("t", at(5)), 0, "the first seen");
  assert.equal(gaps.missing("t", at(6, 3)), 0, "a batch of 6, 7 and 8");
  assert.equal(gaps.missing("t", at(9)), 0, "9 follows the batch");
  assert.equal(gaps.missing("t", at(12)), 2);
  assert.equal(gaps.missing("u", at(1)), 0, "numbers are per topic");
  gaps.forget("t");
  assert.equal(gaps.missing("t", at(20)), 0, "followed again");
});

Deno.test("the backplane's outbox: a quiet turn's first publish goes at once, the rest of its text to one topic as one envelope, in order across topics", async () => {
  const sent: [string, Envelope][] = [];
  let sentOne: () => void = () => {};
  const outbox = new Outbox("A", (topic, wire, count) => {
    const envelope = decodeEnvelope(wire)!;
    assert.equal(envelope.messages.length, count);
    sent.push([topic, envelope]);
    sentOne();
  });
  const next = () => new Promise<void>((resolve) => (sentOne = resolve));
  outbox.publish("t", "a");
  assert.deepEqual(sent, [["t", { origin: "A", seq: 1, messages: ["a"] }]], "at once");
  outbox.publish("t", "b");
  outbox.publish("t", "c");
  assert.equal(sent.length, 1);
  await next();
  assert.deepEqual(sent[1], ["t", { origin: "A", seq: 2, messages: ["b", "c"] }]);
  // That turn was busy, so the next turn's first waits too. Another topic, binary data and a
  // lost publish each send what was pending first.
  outbox.publish("t", "d");
  outbox.publish("t", "e");
  outbox.publish("u", "f");
  outbox.publish("u", new Uint8Array([1]));
  outbox.skip("t");
  outbox.publish("t", "g");
  outbox.publish("t", "h");
  outbox.close();
  assert.deepEqual(sent.slice(2).map(([topic, e]) => [topic, e.seq, e.messages.length]), [
    ["t", 4, 2], // d and e, sent when u's text came
    ["u", 1, 1], // f, sent before the binary
    ["u", 2, 1], // the binary, alone
    ["t", 7, 2], // g and h after the lost 6, sent on close
  ]);
});

Deno.test("presence sums the other nodes' counts and forgets a node after the expiry", () => {
  const changes: [string, number][] = [];
  const presence = new RemotePresence((topic, total) => changes.push([topic, total]), 10_000);
  presence.apply("B", { room: 2 }, true, 0);
  presence.apply("C", { room: 1, hall: 1 }, true, 0);
  assert.equal(presence.total("room"), 3);
  presence.apply("B", { room: 1 }, false, 5_000);
  presence.apply("C", { room: 1 }, true, 5_000); // a full refresh without hall: hall is 0
  assert.equal(presence.total("hall"), 0);
  assert.deepEqual(presence.sweep(12_000), [], "both heard from at 5 s");
  presence.apply("B", {}, false, 12_000);
  assert.deepEqual(presence.sweep(15_001), ["C"]);
  assert.equal(presence.total("room"), 1);
  presence.drop("B");
  assert.equal(presence.total("room"), 0);
  assert.deepEqual(changes.at(-1), ["room", 0]);
});

Deno.test("createServer alone refuses a backplane: it needs serve()'s main thread", () => {
  assert.throws(
    () => createServer({}, { port: 0, backplane: "redis://127.0.0.1:6379" }),
    /backplane: needs serve\(\)/,
  );
});

/** Everything `reader` has whole. */
function drain(reader: RespReader): RespValue[] {
  const values: RespValue[] = [];
  for (let value = reader.next(); value !== undefined; value = reader.next()) values.push(value);
  return values;
}

Deno.test("Redis replies split at any byte come out whole, in order, with UTF-8 intact", () => {
  const wire = new TextEncoder().encode(
    "+OK\r\n-WRONGPASS no\r\n:42\r\n$-1\r\n*-1\r\n$6\r\nh\u00e9llo\r\n$0\r\n\r\n" +
      "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$6\r\n\u2713 ok\r\n*2\r\n*1\r\n:1\r\n$1\r\nx\r\n",
  );
  const expected = [
    "OK",
    new RespError("WRONGPASS no"),
    42,
    null,
    null,
    "h\u00e9llo",
    "",
    ["message", "news", "\u2713 ok"],
    [[1], "x"],
  ];
  for (let split = 0; split <= wire.length; split++) {
    const reader = new RespReader();
    reader.push(wire.subarray(0, split));
    const values = drain(reader);
    reader.push(wire.subarray(split));
    assert.deepEqual([...values, ...drain(reader)], expected, `split at byte ${split}`);
    assert.equal(reader.pending, 0);
  }
  // In small chunks, read as they come: the buffer compacts what is left between them.
  const reader = new RespReader();
  const values: RespValue[] = [];
  for (let round = 0; round < 200; round++) {
    for (let at = 0; at < wire.length; at += 7) {
      reader.push(wire.subarray(at, at + 7));
      values.push(...drain(reader));
    }
  }
  assert.deepEqual(values, Array.from({ length: 200 }, () => expected).flat());
});

Deno.test("a command round-trips through the reader, byte lengths of non-ASCII text included", () => {
  const reader = new RespReader();
  const big = "\u00e9".repeat(150_000); // 300 KB: the reader's buffer grows
  const bytes = encodeCommand(["PUBLISH", "ws:t:caf\u00e9", big]);
  for (let at = 0; at < bytes.length; at += 4096) reader.push(bytes.subarray(at, at + 4096));
  assert.deepEqual(drain(reader), [["PUBLISH", "ws:t:caf\u00e9", big]]);
});

Deno.test("a byte stream that is not RESP stops the reader with a reason", () => {
  const reader = new RespReader();
  reader.push(new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\n"));
  assert.throws(() => reader.next(), /not RESP/);
  const lengths = new RespReader();
  lengths.push(new TextEncoder().encode("$abc\r\n"));
  assert.throws(() => lengths.next(), /not RESP: length/);
  // Longer than Redis's 512 MiB: the reader does not grow its buffer waiting for it.
  const huge = new RespReader();
  huge.push(new TextEncoder().encode("$600000000\r\nxy"));
  assert.throws(() => huge.next(), /not RESP: length "600000000"/);
});
