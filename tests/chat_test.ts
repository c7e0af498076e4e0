/**
 * The chat app (issue #15): rooms, presence, the `chat.v1` protocol's errors, and order
 * across worker threads, with real clients against real servers.
 *
 * @module
 */

import assert from "node:assert/strict";
import chatApp from "../apps/chat/app.ts";
import { spawnServer } from "./_process.ts";
import { closeWebSocket, freePort, nextMessage, openWebSocket, startServer } from "./_helpers.ts";

/** A server message, as the client reads it (a frame may hold one or an array). */
type Received = { type: string; [field: string]: unknown };

/** A chat client: its socket and every message it has read so far. */
class ChatClient {
  readonly received: Received[] = [];
  constructor(readonly socket: WebSocket) {}

  static async open(url: string): Promise<ChatClient> {
    return new ChatClient(await openWebSocket(url, "chat.v1"));
  }

  send(command: Record<string, unknown>): void {
    this.socket.send(JSON.stringify(command));
  }

  /** Reads one frame: one message or an array of them. */
  async #read(): Promise<void> {
    const frame = JSON.parse(String(await nextMessage(this.socket)));
    this.received.push(...(Array.isArray(frame) ? frame : [frame]));
  }

  /** Reads messages until one satisfies `wanted` (or has already); returns it. */
  async until(wanted: (message: Received) => boolean): Promise<Received> {
    let seen = 0;
    while (true) {
      for (; seen < this.received.length; seen++) {
        if (wanted(this.received[seen])) return this.received[seen];
      }
      await this.#read();
    }
  }

  /** The first `count` chat messages of `room`, in the order received. */
  async messages(room: string, count: number): Promise<Received[]> {
    const isMessage = (m: Received) => m.type === "message" && m.room === room;
    while (this.received.filter(isMessage).length < count) await this.#read();
    return this.received.filter(isMessage).slice(0, count);
  }

  /** Waits for a members count of `members` in `room` (from `joined` or `presence`). */
  members(room: string, members: number): Promise<Received> {
    return this.until((m) =>
      (m.type === "presence" || m.type === "joined") && m.room === room && m.members === members
    );
  }
}

Deno.test("two members of a room exchange messages both ways, each seeing its own with its seq", async () => {
  await using t = startServer({ app: chatApp });
  const ann = await ChatClient.open(`${t.ws}/chat`);
  const bob = await ChatClient.open(`${t.ws}/chat`);
  ann.send({ type: "join", room: "lobby", name: "ann" });
  assert.deepEqual(await ann.until((m) => m.type === "joined"), {
    type: "joined",
    room: "lobby",
    members: 1,
  });
  bob.send({ type: "join", room: "lobby", name: "bob" });
  await bob.members("lobby", 2);
  await ann.members("lobby", 2);
  ann.send({ type: "say", room: "lobby", text: "hi bob", seq: 1 });
  bob.send({ type: "say", room: "lobby", text: "<img src=x onerror=alert(1)>", seq: 7 });
  for (const client of [ann, bob]) {
    const said = await client.messages("lobby", 2);
    const byFrom = Object.fromEntries(said.map((m) => [m.from, m]));
    assert.deepEqual(byFrom.ann, {
      type: "message",
      room: "lobby",
      from: "ann",
      text: "hi bob",
      seq: 1,
      node: "local",
    });
    assert.equal(byFrom.bob.text, "<img src=x onerror=alert(1)>");
    assert.equal(byFrom.bob.seq, 7);
  }
  bob.send({ type: "leave", room: "lobby" });
  await ann.members("lobby", 1);
  await closeWebSocket(ann.socket);
  await closeWebSocket(bob.socket);
});

Deno.test("bad chat input gets an error with its reason and the session stays open", async () => {
  await using t = startServer({ app: chatApp });
  const client = await ChatClient.open(`${t.ws}/chat`);
  const cases: [string | Uint8Array, RegExp][] = [
    ["hello", /^not JSON$/],
    ["[1,2]", /^not a JSON object$/],
    ['{"type":"dance","room":"a"}', /^unknown type "dance"$/],
    ['{"type":"join","room":"a b","name":"x"}', /^room must be 1 to 64 characters/],
    ['{"type":"join","room":"a","name":"  "}', /^name must be a non-empty string/],
    ['{"type":"join","room":"a","name":"bell\\u0007"}', /^name must be a non-empty string/],
    [`{"type":"join","room":"a","name":"${"n".repeat(33)}"}`, /^name over 32 characters$/],
    ['{"type":"say","room":"a","text":"hi","seq":1}', /^not in room a$/],
    ['{"type":"leave","room":"a"}', /^not in room a$/],
    [new Uint8Array([1, 2]), /^binary frames are not part of chat\.v1$/],
  ];
  for (const [frame, reason] of cases) {
    client.socket.send(frame);
    const error = await client.until((m) => m.type === "error");
    client.received.length = 0;
    assert.match(String(error.reason), reason, String(frame));
  }
  client.send({ type: "join", room: "a", name: "ann" });
  await client.until((m) => m.type === "joined");
  client.send({ type: "say", room: "a", text: "x".repeat(2001), seq: 1 });
  assert.equal((await client.until((m) => m.type === "error")).reason, "text over 2000 characters");
  client.received.length = 0;
  client.send({ type: "join", room: "a", name: "ann" });
  assert.equal((await client.until((m) => m.type === "error")).reason, "already in room a");
  client.send({ type: "say", room: "a", text: "still here", seq: 2 });
  assert.equal((await client.until((m) => m.type === "message")).text, "still here");
  await closeWebSocket(client.socket);
});

Deno.test("chat room keeps one sender's order across workers, and counts members in both", async () => {
  const port = freePort();
  await using server = await spawnServer(["--workers=2", `--port=${port}`]);
  const url = `ws://127.0.0.1:${port}/chat`;
  const clients = await Promise.all(Array.from({ length: 12 }, () => ChatClient.open(url)));
  for (const [i, client] of clients.entries()) {
    client.send({ type: "join", room: "r", name: `c${i}` });
  }
  // Every member hears the final count, whichever worker it sits in.
  await Promise.all(clients.map((client) => client.members("r", clients.length)));
  const opens = await server.waitFor(/ session\.open .*path=\/chat/, clients.length);
  const workers = new Set(opens.map((line) => Number(/session=(\d+)/.exec(line)![1]) % 2));
  assert.equal(workers.size, 2, "members sit in both workers");
  const count = 500;
  for (let seq = 0; seq < count; seq++) clients[0].send({ type: "say", room: "r", text: "n", seq });
  for (const client of clients) {
    const seqs = (await client.messages("r", count)).map((m) => m.seq);
    assert.deepEqual(seqs, Array.from({ length: count }, (_, i) => i));
  }
  await closeWebSocket(clients[1].socket);
  await Promise.all(clients.slice(2).map((client) => client.members("r", clients.length - 1)));
  await Promise.all(clients.map((client) => closeWebSocket(client.socket)));
});
