/**
 * The backplane's parts without Redis: URLs checked at start-up, envelopes, gap counting and
 * presence expiry (issue #16).
 *
 * @module
 */

import assert from "node:assert/strict";
import { backplaneUrlProblem, redactedUrl } from "../src/backplane/backplane_url.ts";
import { decodeEnvelope, encodeEnvelope, GapCounter } from "../src/backplane/envelope.ts";
import { RemotePresence } from "../src/backplane/presence.ts";
import { createServer } from "../src/server/server.ts";
import { mainCommand } from "./_helpers.ts";

Deno.test("a bad --backplane is a start-up error with one line naming it, status 2", async () => {
  const cases: [string, string][] = [
    ["http://h:1", 'unknown scheme "http:" (use redis:// or rediss://)'],
    ["redis://:6379", "no host (redis://host:6379)"],
    ["redis://h:70000", 'port must be between 1 and 65535, got "70000"'],
    ["redis://h:6379/x", 'database must be a number from 0 to 99, got "x"'],
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

Deno.test("envelopes carry text and bytes, and gaps in an origin's numbers are counted per topic", () => {
  const text = decodeEnvelope(encodeEnvelope("A", 1, "hé"))!;
  assert.deepEqual(text, { origin: "A", seq: 1, data: "hé" });
  const bytes = decodeEnvelope(encodeEnvelope("A", 2, new Uint8Array([0, 255, 7])))!;
  assert.deepEqual([...bytes.data as Uint8Array], [0, 255, 7]);
  assert.equal(decodeEnvelope("not json"), null);
  assert.equal(decodeEnvelope('{"o":"A"}'), null);
  const gaps = new GapCounter();
  assert.equal(gaps.missing("t", { origin: "A", seq: 5, data: "" }), 0, "the first seen");
  assert.equal(gaps.missing("t", { origin: "A", seq: 6, data: "" }), 0);
  assert.equal(gaps.missing("t", { origin: "A", seq: 9, data: "" }), 2);
  assert.equal(gaps.missing("u", { origin: "A", seq: 1, data: "" }), 0, "numbers are per topic");
  gaps.forget("t");
  assert.equal(gaps.missing("t", { origin: "A", seq: 20, data: "" }), 0, "followed again");
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
