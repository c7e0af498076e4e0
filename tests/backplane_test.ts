/**
 * Topics across instances on a real Redis (issue #16): two server processes, chat messages
 * both ways, presence, Redis killed and restarted mid-stream, Redis frozen, a password, a node
 * killed, workers.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ServerProcess, spawnServer } from "./_process.ts";
import { haveRedis, NO_REDIS, RedisServer } from "./_redis.ts";
import { freePort, openWebSocket } from "./_helpers.ts";
import { selfSignedCertificate } from "./_certificate.ts";

const ignore = !haveRedis && Deno.env.get("CI") !== "true";

/** A chat client of one instance: it reads every message into `received`. */
class Member {
  readonly received: Record<string, unknown>[] = [];
  #waiters = new Set<() => void>();

  private constructor(readonly socket: WebSocket) {
    socket.addEventListener("message", (event) => {
      const frame = JSON.parse(String(event.data));
      this.received.push(...(Array.isArray(frame) ? frame : [frame]));
      for (const wake of [...this.#waiters]) wake();
    });
  }

  /** Opens a session on `port` and joins room `r` as `name`; resolves once joined. */
  static async join(port: number, name: string): Promise<Member> {
    const socket = await openWebSocket(`ws://127.0.0.1:${port}/chat`, "chat.v1");
    const member = new Member(socket);
    socket.send(JSON.stringify({ type: "join", room: "r", name }));
    await member.until((m) => m.type === "joined");
    return member;
  }

  say(text: string, seq: number): void {
    this.socket.send(JSON.stringify({ type: "say", room: "r", text, seq }));
  }

  /** Where the messages received from now on start. */
  mark(): number {
    return this.received.length;
  }

  /** Resolves with the first message received since `from` matching `wanted`, now or later. */
  until(
    wanted: (m: Record<string, unknown>) => boolean,
    from = 0,
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      const check = () => {
        const found = this.received.slice(from).find(wanted);
        if (found === undefined) return;
        this.#waiters.delete(check);
        resolve(found);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** The chat messages received from `from`, once there are `count` of them. */
  async from(from: string, count: number): Promise<Record<string, unknown>[]> {
    const mine = () => this.received.filter((m) => m.type === "message" && m.from === from);
    await this.until(() => mine().length >= count);
    return mine();
  }

  /** Resolves once a presence message since `from` says `n` members. */
  members(n: number, from = 0): Promise<Record<string, unknown>> {
    return this.until((m) => m.type === "presence" && m.members === n, from);
  }
}

/** Starts an instance on Redis at `redisPort`, named `node`. */
function instance(redisPort: number, node: string, args: string[] = []): Promise<ServerProcess> {
  return spawnServer([`--backplane=redis://127.0.0.1:${redisPort}`, `--node-id=${node}`, ...args]);
}

/** Reads a metric of an instance. */
async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ")[1]);
}

/**
 * Reads a metric until it satisfies `wanted`: the main thread tells the workers its backplane
 * counters after the fact, and no event says when. Polls every 20 ms for at most 5 s.
 */
async function metricUntil(port: number, name: string, wanted: (n: number) => boolean) {
  let value = await metric(port, name);
  for (let tries = 0; !wanted(value) && tries < 250; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = await metric(port, name);
  }
  return value;
}

Deno.test({
  name:
    "two instances on one Redis: chat messages cross both ways in order, exactly once, and presence counts both",
  ignore,
  async fn() {
    assert.ok(haveRedis, NO_REDIS);
    await using redis = new RedisServer(freePort());
    await redis.ready;
    await using a = await instance(redis.port, "A");
    await using b = await instance(redis.port, "B");
    const ann = await Member.join(a.port, "ann");
    const bob = await Member.join(b.port, "bob");
    await ann.members(2);
    await bob.members(2);
    const count = 300;
    for (let seq = 0; seq < count; seq++) {
      ann.say(`a${seq}`, seq);
      bob.say(`b${seq}`, seq);
    }
    for (const member of [ann, bob]) {
      for (const [from, node] of [["ann", "A"], ["bob", "B"]]) {
        const got = await member.from(from, count);
        assert.deepEqual(got.map((m) => m.seq), Array.from({ length: count }, (_, i) => i));
        assert.ok(got.every((m) => m.node === node), `labelled with ${node}`);
      }
    }
    // Exactly once: a last marker from each side arrives after everything, with no extra copy.
    ann.say("end", count);
    await bob.until((m) => m.from === "ann" && m.seq === count);
    assert.equal((await bob.from("ann", count + 1)).length, count + 1);
    // Counters reach /metrics within 250 ms: wait until A shows what it took in.
    const taken = 'websocket_backplane_messages_total{direction="in"}';
    await metricUntil(a.port, taken, (n) => n >= count);
    assert.equal(await metric(a.port, "websocket_backplane_gaps_total"), 0);
    for (const member of [ann, bob]) member.socket.close();
  },
});

Deno.test({
  name:
    "Redis killed mid-stream: local delivery goes on, cross-node publishes are counted lost, none arrives late, and delivery resumes when Redis returns",
  ignore,
  async fn() {
    assert.ok(haveRedis, NO_REDIS);
    const redisPort = freePort();
    let redis = new RedisServer(redisPort);
    await redis.ready;
    await using a = await instance(redisPort, "A");
    await using b = await instance(redisPort, "B");
    const ann = await Member.join(a.port, "ann");
    const carl = await Member.join(a.port, "carl");
    const bob = await Member.join(b.port, "bob");
    await ann.members(3);
    ann.say("before", 0);
    await bob.until((m) => m.text === "before");

    const down = a.waitFor(/ backplane\.down /);
    await redis.kill();
    await down;
    const lost = 100;
    for (let seq = 1; seq <= lost; seq++) ann.say(`during ${seq}`, seq);
    const local = await carl.from("ann", lost + 1);
    assert.deepEqual(local.map((m) => m.seq), Array.from({ length: lost + 1 }, (_, i) => i));
    const errors = await metricUntil(
      a.port,
      "websocket_backplane_publish_errors_total",
      (n) => n >= lost,
    );
    assert.ok(errors >= lost, `${errors} publishes counted lost`);
    assert.equal(await metricUntil(a.port, "websocket_backplane_up", (n) => n === 0), 0);
    // Readiness stays up by default: a Redis outage must not empty the load balancer.
    assert.equal((await fetch(`http://127.0.0.1:${a.port}/readyz`)).status, 200);

    const upA = a.waitFor(/ backplane\.up /, 2);
    const upB = b.waitFor(/ backplane\.up /, 2);
    redis = new RedisServer(redisPort);
    await redis.ready;
    const returnedMs = performance.now();
    await Promise.all([upA, upB]);
    console.log(`both instances back ${Math.round(performance.now() - returnedMs)} ms after Redis`);
    // A message crosses again, and it is the first bob gets after "before": nothing published
    // during the outage arrives late.
    ann.say("after", lost + 1);
    await bob.until((m) => m.text === "after");
    const fromAnn = await bob.from("ann", 2);
    assert.deepEqual(fromAnn.map((m) => m.text), ["before", "after"]);
    assert.ok(
      await metricUntil(a.port, "websocket_backplane_reconnects_total", (n) => n >= 1) >= 1,
    );
    for (const member of [ann, carl, bob]) member.socket.close();
    await redis.kill();
  },
});

Deno.test({
  name:
    "a node killed with SIGKILL drops out of presence, and --ready-requires-backplane follows Redis",
  ignore,
  async fn() {
    assert.ok(haveRedis, NO_REDIS);
    const redis = new RedisServer(freePort());
    await redis.ready;
    await using a = await instance(redis.port, "A", ["--ready-requires-backplane=true"]);
    const b = await instance(redis.port, "B");
    const ann = await Member.join(a.port, "ann");
    const bob = await Member.join(b.port, "bob");
    await ann.members(2);
    const killedMs = performance.now();
    const annMark = ann.mark();
    b.signal("SIGKILL");
    await b.status;
    await ann.members(1, annMark);
    console.log(
      `node B left presence ${Math.round(performance.now() - killedMs)} ms after SIGKILL`,
    );
    await b[Symbol.asyncDispose]();
    assert.equal((await fetch(`http://127.0.0.1:${a.port}/readyz`)).status, 200);
    const down = a.waitFor(/ backplane\.down /);
    await redis.kill();
    await down;
    await metricUntil(a.port, "websocket_backplane_up", (n) => n === 0);
    const readyz = await fetch(`http://127.0.0.1:${a.port}/readyz`);
    assert.equal(readyz.status, 503);
    assert.equal(await readyz.text(), "backplane down\n");
    ann.socket.close();
    bob.socket.close();
  },
});

Deno.test({
  name:
    "with --workers 2 and a backplane, a message from another instance reaches members in both workers",
  ignore,
  async fn() {
    assert.ok(haveRedis, NO_REDIS);
    await using redis = new RedisServer(freePort());
    await redis.ready;
    const port = freePort();
    await using a = await instance(redis.port, "A", ["--workers=2", `--port=${port}`]);
    await using b = await instance(redis.port, "B");
    const onA = [];
    for (let i = 0; i < 8; i++) onA.push(await Member.join(port, `a${i}`));
    const opens = await a.waitFor(/ session\.open /, onA.length);
    const workers = new Set(opens.map((line) => Number(/session=(\d+)/.exec(line)![1]) % 2));
    assert.equal(workers.size, 2, "members sit in both workers");
    const bob = await Member.join(b.port, "bob");
    await Promise.all([...onA, bob].map((member) => member.members(onA.length + 1)));
    for (let seq = 0; seq < 50; seq++) bob.say("x", seq);
    for (const member of onA) {
      const got = await member.from("bob", 50);
      assert.deepEqual(got.map((m) => m.seq), Array.from({ length: 50 }, (_, i) => i));
    }
    for (const member of [...onA, bob]) member.socket.close();
    // The other nodes see one node with 8 members, not two.
    assert.equal(await metricUntil(b.port, "websocket_backplane_nodes", (n) => n === 1), 1);
  },
});

Deno.test({
  name:
    "a Redis that stops answering (SIGSTOP) is found out by the ping, stays down while frozen, and delivery resumes when it answers again",
  ignore,
  async fn() {
    assert.ok(haveRedis, NO_REDIS);
    await using redis = new RedisServer(freePort());
    await redis.ready;
    const timeout = ["--backplane-timeout=300ms"];
    await using a = await instance(redis.port, "A", timeout);
    await using b = await instance(redis.port, "B", timeout);
    const ann = await Member.join(a.port, "ann");
    const bob = await Member.join(b.port, "bob");
    await ann.members(2);
    const down = Promise.all([a, b].map((node) => node.waitFor(/ backplane\.down .*ping/)));
    redis.signal("SIGSTOP");
    await down;
    // Frozen, it still accepts connections: the instances must not call that "up".
    const upWhileFrozen = a.waitFor(/ backplane\.up /, 2).then(() => true);
    const frozenFor = new Promise((resolve) => setTimeout(() => resolve(false), 1500));
    assert.equal(await Promise.race([upWhileFrozen, frozenFor]), false);
    ann.say("during", 1);
    assert.ok(await metricUntil(a.port, "websocket_backplane_publish_errors_total", (n) => n >= 1));
    const up = Promise.all([a, b].map((node) => node.waitFor(/ backplane\.up /, 2)));
    redis.signal("SIGCONT");
    await up;
    ann.say("after", 2);
    await bob.until((m) => m.text === "after");
    assert.deepEqual((await bob.from("ann", 1)).map((m) => m.text), ["after"]);
    for (const member of [ann, bob]) member.socket.close();
  },
});

Deno.test({
  name:
    "a password in the URL logs in; a wrong one is logged with Redis's reason and a redacted URL, and the node keeps serving",
  ignore,
  async fn() {
    assert.ok(haveRedis, NO_REDIS);
    await using redis = new RedisServer(freePort(), ["--requirepass", "s3cret"]);
    await redis.ready;
    const url = (password: string) => `--backplane=redis://:${password}@127.0.0.1:${redis.port}/2`;
    await using a = await spawnServer([url("s3cret"), "--node-id=A"]);
    await using b = await spawnServer([url("wrong"), "--node-id=B"]);
    await a.waitFor(/ backplane\.up /);
    const [line] = await b.waitFor(/ backplane\.down /);
    assert.match(line, /WRONGPASS/);
    assert.match(line, /redis:\/\/:\*\*\*@127\.0\.0\.1/);
    assert.doesNotMatch(line, /wrong/);
    assert.equal(await metric(a.port, "websocket_backplane_up"), 1);
    // B serves its own sessions all the same.
    const bob = await Member.join(b.port, "bob");
    await bob.members(1);
    bob.socket.close();
  },
});

Deno.test({
  name:
    "rediss:// carries chat over TLS to a Redis whose certificate the node trusts, and refuses one it does not",
  ignore,
  async fn() {
    assert.ok(haveRedis, NO_REDIS);
    const pems = await selfSignedCertificate();
    if (typeof pems === "string") throw new Error(`no test certificate: ${pems}`);
    const dir = await Deno.makeTempDir({ prefix: "rediss_test_" });
    await using _removed = { [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
    await Deno.writeTextFile(`${dir}/cert.pem`, pems.cert);
    await Deno.writeTextFile(`${dir}/key.pem`, pems.key);
    const tlsPort = freePort();
    await using redis = new RedisServer(freePort(), [
      ...["--tls-port", String(tlsPort), "--tls-auth-clients", "no"],
      ...["--tls-cert-file", `${dir}/cert.pem`, "--tls-key-file", `${dir}/key.pem`],
    ]);
    await redis.ready;
    const url = `--backplane=rediss://127.0.0.1:${tlsPort}`;
    const trusting = { env: { DENO_CERT: `${dir}/cert.pem` } };
    await using a = await spawnServer([url, "--node-id=A"], trusting);
    await using b = await spawnServer([url, "--node-id=B"], trusting);
    await using c = await spawnServer([url, "--node-id=C"]);
    const [refused] = await c.waitFor(/ backplane\.down /);
    assert.match(refused, /certificate/);
    const ann = await Member.join(a.port, "ann");
    const bob = await Member.join(b.port, "bob");
    await ann.members(2);
    ann.say("over tls", 0);
    assert.equal((await bob.until((m) => m.from === "ann")).text, "over tls");
    for (const member of [ann, bob]) member.socket.close();
  },
});

Deno.test({
  name:
    "a node shuts down at once while its backplane is still logging in to a frozen Redis, and exits 0",
  ignore,
  async fn() {
    assert.ok(haveRedis, NO_REDIS);
    await using redis = new RedisServer(freePort());
    await redis.ready;
    redis.signal("SIGSTOP");
    // Its log-in PING would wait 30 s; the shutdown's deadline is 2 s.
    await using a = await instance(redis.port, "A", [
      "--backplane-timeout=30s",
      "--shutdown-deadline=2s",
    ]);
    a.signal("SIGTERM");
    assert.equal((await a.status).code, 0);
    redis.signal("SIGCONT");
  },
});
