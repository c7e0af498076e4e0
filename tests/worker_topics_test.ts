/**
 * Topics across worker threads (issue #15): a publish reaches subscribers in every worker,
 * through the main thread's hub, in order; counts are process-wide.
 *
 * @module
 */

import assert from "node:assert/strict";
import { spawnServer } from "./_process.ts";
import { closeWebSocket, freePort, nextMessage, nextMessages, openWebSocket } from "./_helpers.ts";

Deno.test("with --workers 2 one publisher's messages reach subscribers in both workers, in order", async () => {
  const port = freePort();
  await using server = await spawnServer([
    "--app=tests/fixtures/topics_app.ts",
    "--workers=2",
    `--port=${port}`,
  ]);
  const url = `ws://127.0.0.1:${port}/topics`;
  // Session ids are 1, 3, 5… in worker 0 and 2, 4, 6… in worker 1: subscribe until both have 3.
  const subscribers: WebSocket[] = [];
  const perWorker = [0, 0];
  while (perWorker[0] < 3 || perWorker[1] < 3) {
    assert.ok(
      subscribers.length < 200,
      `the kernel put every connection in one worker: ${perWorker}`,
    );
    const socket = await openWebSocket(url, "topics.test");
    socket.send("sub news");
    const id = Number(String(await nextMessage(socket)).split(" ")[2]);
    perWorker[id % 2]++;
    subscribers.push(socket);
  }
  const publisher = await openWebSocket(url, "topics.test");
  // The publisher's worker learns the other worker's count through the hub: ask until it has.
  publisher.send("count news");
  while (await nextMessage(publisher) !== `count news ${subscribers.length}`) {
    publisher.send("count news");
  }
  const count = 2_000;
  for (let i = 0; i < count; i++) publisher.send(`pub news ${i}`);
  const expected = Array.from({ length: count }, (_, i) => String(i));
  for (const socket of subscribers) assert.deepEqual(await nextMessages(socket, count), expected);
  await Promise.all([...subscribers, publisher].map((socket) => closeWebSocket(socket)));
  assert.equal(server.exited, false);
});
