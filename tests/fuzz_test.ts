/**
 * A seeded fuzz of the real process over raw sockets (issue #13): a few thousand requests mixing
 * methods, paths, percent-encodings, `Host` values, ranges, validators, WebSocket handshake
 * headers, frames after an upgrade, and garbage bytes, on static paths and `/echo`. After every
 * batch the process must be alive and healthy, and no answer may be a 5xx.
 *
 * The seed is printed on failure; `FUZZ_SEED=N deno task test tests/fuzz_test.ts` replays it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { closePayload, encodeClientFrame, Opcode } from "./_helpers.ts";
import { closeQuietly, spawnServer, writeAll } from "./_process.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261206);
const BATCHES = 15;
const PER_BATCH = 200;
const CONCURRENCY = 25;
/** Safety net per connection: a request still unanswered after this long is a hang. */
const HANG_MS = 10_000;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
const chance = (p: number) => random() < p;
const int = (max: number) => Math.floor(random() * max);

const METHODS = [
  "GET",
  "GET",
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "OPTIONS",
  "PATCH",
  "TRACE",
  "G@T",
  "get",
];
const SEGMENTS = [
  "",
  "index.html",
  "app.js",
  "style.css",
  "favicon.svg",
  "echo",
  "healthz",
  "readyz",
  "metrics",
  "..",
  ".",
  ".git",
  ".env",
  "%2e%2e",
  "%2E%2e%2f",
  "%2f",
  "%5c",
  "%00",
  "%",
  "%zz",
  "%c3%28",
  "%e2%82",
  "a%20b",
  "é",
  "%F0%9F%98%80",
  "..%2f..%2fetc%2fpasswd",
  "\\..\\",
  "a".repeat(300),
  "%C3%A9".repeat(130),
  "index.html%00.js",
  "~",
  "*",
  "static",
  "nested",
  "x;y=1",
];
const HOSTS = [
  "127.0.0.1",
  "localhost",
  "127.0.0.1:8181",
  "[::1]",
  "[::1]:80",
  "example.com",
  "",
  "127..0.1:8181",
  "a b",
  "[::1",
  "127.0.0.1:18$06",
  "x/y",
  "a?b",
  "a#b",
  "h:99999",
  "%zz",
  "\u00e9.example",
  "a".repeat(300),
  "-",
  "[fe80::1%25eth0]",
];
const RANGES = [
  "bytes=0-0",
  "bytes=0-",
  "bytes=-1",
  "bytes=-0",
  "bytes=5-2",
  "bytes=999999-",
  "bytes=0-1,3-4",
  "bytes=",
  "bytes=a-b",
  "items=0-1",
  "bytes=-99999999999999999999",
  "bytes = 1 - 2",
  "bytes=18446744073709551616-",
];
const VALIDATORS: [string, () => string][] = [
  ["If-None-Match", () => pick(['"abc"', "*", 'W/"x"', '"', "", '"a", "b"'])],
  [
    "If-Modified-Since",
    () => pick(["Sat, 01 Jan 2000 00:00:00 GMT", "yesterday", "", "Mon, 99 Foo 1 99:99:99 GMT"]),
  ],
  ["If-Range", () => pick(['"abc"', "Sat, 01 Jan 2000 00:00:00 GMT", "x"])],
  [
    "Accept-Encoding",
    () => pick(["br", "gzip;q=0", "*;q=0.5", "identity", "br;q=abc", ",,,", "gzip, br"]),
  ],
  [
    "Origin",
    () => pick(["http://127.0.0.1", "null", "http://evil.example", "file://", "%%", "http://[::1"]),
  ],
];
const KEYS = [
  "dGhlIHNhbXBsZSBub25jZQ==",
  "short",
  "",
  "dGhlIHNhbXBsZSBub25jZQ",
  "!!!!!!!!!!!!!!!!!!!!!!==",
];
const PROTOCOLS = ["echo", "chat", "echo, chat", "chat,echo", ",", "a b", "é", "echo;x", ""];

/** A random path: real files, traversal attempts, encodings, long names, a query or a fragment. */
function randomPath(): string {
  if (chance(0.05)) return pick(["*", "http://127.0.0.1/", "//", "/" + "x".repeat(5000), "%2F"]);
  const parts = Array.from({ length: 1 + int(4) }, () => pick(SEGMENTS));
  let path = "/" + parts.join("/");
  if (chance(0.2)) path += "/";
  if (chance(0.2)) path += "?" + pick(["a=1", "%zz", "x".repeat(500), ""]);
  return path;
}

/** One request as bytes: mostly well-formed HTTP/1.1, sometimes garbage. */
function randomRequest(): { bytes: Uint8Array; upgrade: boolean } {
  if (chance(0.04)) {
    const garbage = new Uint8Array(1 + int(600));
    for (let i = 0; i < garbage.length; i++) garbage[i] = int(256);
    return { bytes: garbage, upgrade: false };
  }
  const upgrade = chance(0.35);
  const path = upgrade && chance(0.7) ? "/echo" : randomPath();
  const lines = [
    `${upgrade ? (chance(0.9) ? "GET" : pick(METHODS)) : pick(METHODS)} ${path} HTTP/1.1`,
  ];
  if (chance(0.95)) lines.push(`Host: ${pick(HOSTS)}`);
  if (upgrade) {
    if (chance(0.95)) lines.push(`Upgrade: ${pick(["websocket", "WebSocket", "h2c", ""])}`);
    if (chance(0.95)) {
      lines.push(`Connection: ${pick(["Upgrade", "upgrade, keep-alive", "close"])}`);
    }
    if (chance(0.95)) lines.push(`Sec-WebSocket-Key: ${chance(0.8) ? KEYS[0] : pick(KEYS)}`);
    if (chance(0.95)) {
      lines.push(`Sec-WebSocket-Version: ${chance(0.85) ? "13" : pick(["8", "", "13, 8", "x"])}`);
    }
    if (chance(0.8)) {
      lines.push(`Sec-WebSocket-Protocol: ${chance(0.7) ? "echo" : pick(PROTOCOLS)}`);
    }
  } else {
    lines.push("Connection: close");
  }
  if (chance(0.3)) lines.push(`Range: ${pick(RANGES)}`);
  for (const [name, value] of VALIDATORS) if (chance(0.15)) lines.push(`${name}: ${value()}`);
  if (chance(0.05)) lines.push(`X-Long: ${"v".repeat(int(20_000))}`);
  const body = chance(0.1) ? "x".repeat(int(2000)) : "";
  if (body) lines.push(`Content-Length: ${body.length}`);
  return { bytes: new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n" + body), upgrade };
}

/** A random frame a client might send after an upgrade (sometimes unmasked or malformed). */
function randomFrames(): Uint8Array {
  const frames: Uint8Array[] = [];
  for (let i = int(4); i > 0; i--) {
    if (chance(0.15)) {
      const junk = new Uint8Array(1 + int(40));
      for (let j = 0; j < junk.length; j++) junk[j] = int(256);
      frames.push(junk);
    } else {
      const opcode = pick([Opcode.Text, Opcode.Binary, Opcode.Ping, 3, 0, 11]);
      const payload = new Uint8Array(int(200));
      for (let j = 0; j < payload.length; j++) payload[j] = opcode === Opcode.Text ? 97 : int(256);
      frames.push(encodeClientFrame(opcode, payload));
    }
  }
  frames.push(encodeClientFrame(Opcode.Close, closePayload(pick([1000, 1001, 4000, 999, 1005]))));
  const total = frames.reduce((n, f) => n + f.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const frame of frames) {
    out.set(frame, offset);
    offset += frame.length;
  }
  return out;
}

/** Sends one request; resolves with the status (0 when the server closed without an answer). */
async function exchange(port: number, request: ReturnType<typeof randomRequest>): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const guard = setTimeout(() => closeQuietly(conn), HANG_MS);
  let head = "";
  try {
    await writeAll(conn, request.bytes).catch(() => {});
    const chunk = new Uint8Array(16 * 1024);
    const decoder = new TextDecoder();
    let status = 0;
    let upgraded = false;
    while (true) {
      const n = await conn.read(chunk).catch(() => null);
      if (n === null) break;
      if (status === 0) {
        head += decoder.decode(chunk.subarray(0, n));
        const match = /^HTTP\/1\.1 (\d{3})/.exec(head);
        if (match) status = Number(match[1]);
      }
      // Any other answer is judged by its status; the connection may be kept alive.
      if (status !== 0 && status !== 101) break;
      if (status === 101 && !upgraded && head.includes("\r\n\r\n")) {
        upgraded = true;
        await writeAll(conn, randomFrames()).catch(() => {});
      }
    }
    return status;
  } finally {
    clearTimeout(guard);
    closeQuietly(conn);
  }
}

Deno.test(`fuzz: ${BATCHES * PER_BATCH} hostile requests on static paths and /echo get no 5xx and the process stays healthy (seed ${SEED})`, async () => {
  await using server = await spawnServer();
  const statuses = new Map<number, number>();
  for (let batch = 0; batch < BATCHES; batch++) {
    const requests = Array.from({ length: PER_BATCH }, randomRequest);
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < requests.length) {
        const request = requests[next++];
        const status = await exchange(server.port, request);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        assert.ok(
          status < 500,
          `seed ${SEED} batch ${batch}: ${status} for ${
            new TextDecoder().decode(request.bytes.subarray(0, 300))
          }`,
        );
      }
    }));
    assert.equal(server.exited, false, `seed ${SEED} batch ${batch}: exited\n${server.output()}`);
    const health = await fetch(`http://127.0.0.1:${server.port}/healthz`);
    assert.equal(health.status, 200, `seed ${SEED} batch ${batch}`);
    await health.body?.cancel();
  }
  const output = server.output();
  assert.ok(!/Uncaught|internal error|handler_failed/.test(output), output.slice(-3000));
  // The mix really reached every kind of answer.
  for (const status of [101, 200, 400, 404, 405]) {
    assert.ok((statuses.get(status) ?? 0) > 0, `no ${status} in ${JSON.stringify([...statuses])}`);
  }
});
