/**
 * TLS (issue #3): with a certificate and key the server speaks HTTPS and WSS on one port. A
 * self-signed certificate for `localhost` and `127.0.0.1` is made at test time with openssl;
 * clients trust it through `caCerts`. Without openssl the tests are skipped with a reason,
 * except under `CI=true`, where they fail.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  closePayload,
  encodeClientFrame,
  type FrameReader,
  isServerLine,
  mainCommand,
  Opcode,
  parseClose,
  patternBytes,
  rawWebSocket,
  REPO_ROOT,
  sameBytes,
  startServer,
} from "./_helpers.ts";
import type { ServerFrame } from "./_helpers.ts";
import { type Pems, selfSignedCertificate } from "./_certificate.ts";

const made = await selfSignedCertificate();
const IN_CI = Deno.env.get("CI") === "true";
/** Skipped (not failed) only outside CI, and only when openssl is missing or failed. */
const ignore = typeof made === "string" && !IN_CI;
if (ignore) console.warn(`tls_test.ts: skipped: ${made} (install Debian's openssl)`);

/** The certificate, or a failure that names why there is none (CI without openssl). */
function pems(): Pems {
  if (typeof made === "string") throw new Error(`no test certificate: ${made}`);
  return made;
}

const encoder = new TextEncoder();

/** Writes all of `bytes` (a write may take only part). */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/**
 * The next frame other than ping or pong (a ping is answered with a pong, as a client must),
 * or `null` when the connection ends.
 */
async function nextFrame(conn: Deno.Conn, frames: FrameReader): Promise<ServerFrame | null> {
  while (true) {
    const frame = await frames.next();
    if (frame?.opcode === Opcode.Ping) {
      await writeAll(conn, encodeClientFrame(Opcode.Pong, frame.payload));
    } else if (frame?.opcode !== Opcode.Pong) return frame;
  }
}

Deno.test({
  name: "HTTPS and WSS share one port: the page, health and a WebSocket echo over TLS",
  ignore,
  async fn() {
    const { cert, key } = pems();
    await using t = startServer({ tls: { cert, key } });
    const { port } = t.server.addr;
    const client = Deno.createHttpClient({ caCerts: [cert] });
    try {
      const page = await fetch(`https://localhost:${port}/`, { client });
      assert.equal(page.status, 200);
      assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
      assert.match(await page.text(), /<script type="module" src="app\.js"><\/script>/);
      const health = await fetch(`https://127.0.0.1:${port}/healthz`, { client });
      assert.equal(health.status, 200);
      assert.equal(await health.text(), "ok\n");
    } finally {
      client.close();
    }

    const tls = await Deno.connectTls({ hostname: "localhost", port, caCerts: [cert] });
    const { conn, frames } = await rawWebSocket(port, { conn: tls });
    try {
      await writeAll(conn, encodeClientFrame(Opcode.Text, encoder.encode("héllo over TLS ✓")));
      const binary = patternBytes(100_000);
      await writeAll(conn, encodeClientFrame(Opcode.Binary, binary));
      const text = await nextFrame(conn, frames);
      assert.equal(text?.opcode, Opcode.Text);
      assert.equal(new TextDecoder().decode(text!.payload), "héllo over TLS ✓");
      const echo = await nextFrame(conn, frames);
      assert.equal(echo?.opcode, Opcode.Binary);
      assert.ok(sameBytes(echo!.payload, binary));
      await writeAll(conn, encodeClientFrame(Opcode.Close, closePayload(1000, "bye")));
      const close = await nextFrame(conn, frames);
      assert.equal(close?.opcode, Opcode.Close);
      assert.equal(parseClose(close!.payload).code, 1000);
      assert.equal(
        await nextFrame(conn, frames),
        null,
        "the server ends the connection after the close",
      );
    } finally {
      conn.close();
    }
  },
});

Deno.test({
  name:
    "the TLS port does not serve plain HTTP, and a client that does not trust the certificate is refused",
  ignore,
  async fn() {
    const { cert, key } = pems();
    await using t = startServer({ tls: { cert, key } });
    const { port } = t.server.addr;

    // Plain HTTP: what comes back is a TLS alert (or nothing), never an HTTP response.
    const plain = await Deno.connect({ hostname: "127.0.0.1", port });
    let answer = new Uint8Array(0);
    try {
      await writeAll(plain, encoder.encode("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
      const chunk = new Uint8Array(4096);
      while (true) {
        const n = await plain.read(chunk);
        if (n === null) break;
        answer = new Uint8Array([...answer, ...chunk.subarray(0, n)]);
      }
    } catch (error) {
      assert.ok(error instanceof Deno.errors.ConnectionReset, String(error));
    } finally {
      plain.close();
    }
    assert.doesNotMatch(new TextDecoder().decode(answer), /^HTTP\//);
    assert.ok(answer.length === 0 || answer[0] === 0x15, `not a TLS alert record: ${answer}`);

    // No trust in the self-signed certificate: the handshake fails on the client.
    const untrusting = await Deno.connectTls({ hostname: "localhost", port });
    try {
      await assert.rejects(untrusting.handshake(), /certificate|UnknownIssuer/i);
    } finally {
      untrusting.close();
    }
    const client = Deno.createHttpClient({});
    try {
      await assert.rejects(fetch(`https://localhost:${port}/healthz`, { client }), TypeError);
    } finally {
      client.close();
    }

    // The server is unharmed by either.
    const trusting = Deno.createHttpClient({ caCerts: [cert] });
    try {
      const health = await fetch(`https://localhost:${port}/healthz`, { client: trusting });
      assert.equal(await health.text(), "ok\n");
    } finally {
      trusting.close();
    }
  },
});

Deno.test({
  name: "the demo page picks wss: when it was served over https:",
  ignore,
  async fn() {
    const { cert, key } = pems();
    await using t = startServer({ tls: { cert, key } });
    const client = Deno.createHttpClient({ caCerts: [cert] });
    try {
      const script = await fetch(`https://localhost:${t.server.addr.port}/app.js`, { client });
      assert.equal(script.status, 200);
      const source = await script.text();
      assert.equal(source, await Deno.readTextFile(`${REPO_ROOT}/static/app.js`));
      // The scheme follows the page's: wss: for https:, ws: otherwise, on the page's own host.
      assert.match(source, /\.protocol === "https:" \? "wss:" : "ws:"/);
      assert.match(source, /`\$\{scheme\}\/\/\$\{\w+\.host\}\/echo`/);
    } finally {
      client.close();
    }
  },
});

/** Output lines without Deno's warning about permissions in deno.json. */
function linesOf(bytes: Uint8Array): string[] {
  return new TextDecoder().decode(bytes).split("\n").filter(isServerLine);
}

Deno.test({
  name: "the real process with --tls-cert and --tls-key logs an https: URL and serves HTTPS",
  ignore,
  async fn() {
    const { cert, key } = pems();
    const dir = await Deno.makeTempDir({ prefix: "tls_main_" });
    const client = Deno.createHttpClient({ caCerts: [cert] });
    try {
      await Deno.writeTextFile(`${dir}/cert.pem`, cert);
      await Deno.writeTextFile(`${dir}/key.pem`, key);
      const child = mainCommand([
        "--port=0",
        "--hostname=127.0.0.1",
        `--tls-cert=${dir}/cert.pem`,
        `--tls-key=${dir}/key.pem`,
      ]).spawn();
      // Safety net only: a child still alive after this long is killed (never a timing check).
      const guard = setTimeout(() => child.kill("SIGKILL"), 30_000);
      child.status.finally(() => clearTimeout(guard));
      const stderr = new Response(child.stderr).text();
      const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      let url: string | undefined;
      try {
        while (url === undefined) {
          const { value, done } = await stdout.read();
          if (done) throw new Error(`exited before listening:\n${seen}\n${await stderr}`);
          seen += value;
          url = / server\.listening url=(https:\/\/127\.0\.0\.1:\d+\/)/.exec(seen)?.[1];
        }
        const health = await fetch(`${url}healthz`, { client });
        assert.equal(health.status, 200);
        assert.equal(await health.text(), "ok\n");
      } finally {
        child.kill("SIGTERM");
        while (!(await stdout.read()).done) { /* drain */ }
      }
      assert.equal((await child.status).code, 0, await stderr);
    } finally {
      client.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a missing --tls-cert file stops the process with status 2 and one line, before it listens", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tls_missing_" });
  try {
    await Deno.writeTextFile(`${dir}/key.pem`, "not used");
    const { code, stdout, stderr } = await mainCommand([
      "--port=0",
      "--hostname=127.0.0.1",
      `--tls-cert=${dir}/missing.pem`,
      `--tls-key=${dir}/key.pem`,
    ]).output();
    assert.equal(code, 2);
    assert.deepEqual(linesOf(stdout), [], "nothing listened");
    assert.deepEqual(linesOf(stderr), [
      `error: --tls-cert: cannot read "${dir}/missing.pem": no such file`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
