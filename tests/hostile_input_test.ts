/**
 * Hostile input that once killed the process or answered 500 (issue #13): unparsable `Host`
 * headers, overlong paths, client strings in log lines, and sessions that end right after the
 * 101. The `Host` cases run against the real process, since the old failure was its exit.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  appWith,
  captureLog,
  closePayload,
  encodeClientFrame,
  handshakeRequest,
  Opcode,
  rawExchange,
  startServer,
} from "./_helpers.ts";
import { spawnServer, writeAll } from "./_process.ts";
import { createLogger, MAX_FIELD_CHARS } from "../src/log.ts";
import type { WebSocketSession } from "../src/mod.ts";

const BAD_HOSTS = ["127..0.1:8181", "a b", "[::1", "127.0.0.1:18$06", "x/y", "a?b", "h:99999"];

Deno.test("an unparsable Host gets 400 on every route, is counted, and the process stays up", async () => {
  await using server = await spawnServer();
  for (const host of BAD_HOSTS) {
    const upgrade = await rawExchange(server.port, handshakeRequest("/echo", { Host: host }));
    assert.equal(upgrade.status, 400, `upgrade with Host ${host}`);
    assert.match(upgrade.body, /bad Host header/);
    for (const path of ["/", "/index.html", "/healthz", "/missing.txt"]) {
      const plain = await rawExchange(
        server.port,
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(plain.status, 400, `GET ${path} with Host ${host}`);
    }
  }
  assert.equal(server.exited, false, server.output());
  const health = await fetch(`http://127.0.0.1:${server.port}/healthz`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  assert.match(
    metrics,
    new RegExp(`http_bad_requests_total\\{reason="bad_host"\\} ${BAD_HOSTS.length * 5}`),
  );
  assert.equal(server.exited, false);
  assert.ok(!server.output().includes("Uncaught"), server.output());
});

Deno.test("valid Host forms (name, IPv4, IPv6 literal, with and without port) are served", async () => {
  await using t = startServer({}, { logLevel: "info" });
  for (
    const host of ["localhost", "127.0.0.1:1", "[::1]:8181", "example.com", "xn--bcher-kva.de"]
  ) {
    const response = await rawExchange(
      t.server.addr.port,
      `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(response.status, 200, `Host ${host}`);
  }
});

Deno.test("a path segment over 255 bytes gets 404, a path over 4096 bytes 414, never 500", async () => {
  await using t = startServer({}, { logLevel: "info" });
  const long = "a".repeat(256);
  const multibyte = "%C3%A9".repeat(128); // 128 × é: 256 bytes in 128 characters
  for (const path of [`/${long}`, `/${long}/x`, `/${multibyte}`, `/${long}.html`]) {
    const response = await fetch(`${t.http}${path}`);
    assert.equal(response.status, 404, path.slice(0, 40));
    const body = await response.text();
    assert.ok(body.length < 300, `the answer does not repeat the path: ${body.length}`);
  }
  for (const path of ["/" + "b/".repeat(2100), "/" + "c".repeat(60_000)]) {
    // Raw: fetch refuses URLs this long itself.
    const response = await rawExchange(
      t.server.addr.port,
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(response.status, 414);
  }
  assert.equal(t.server.metrics.staticResponses.get(500), undefined);
  assert.ok(t.log.lines.every((line) => line.length < 2 * MAX_FIELD_CHARS + 200), "lines capped");
});

Deno.test("log lines cap every text field at 200 characters, in text and json", () => {
  for (const format of ["text", "json"] as const) {
    const lines: string[] = [];
    const logger = createLogger({ format, write: (line) => lines.push(line) });
    logger.info("request.refused", { host: "h".repeat(80_000), path: "/p" });
    assert.equal(lines.length, 1);
    assert.ok(lines[0].length < MAX_FIELD_CHARS + 120, `${format}: ${lines[0].length}`);
    assert.match(lines[0], /…\(\+79800\)/);
  }
});

/** A handler that counts the sessions it ran, echoing until the session ends. */
class CountingHandler {
  ran = 0;
  handleSession(session: WebSocketSession): Promise<void> {
    this.ran++;
    return session.echo();
  }
}

Deno.test("sessions closed or reset right after the 101 are each counted, logged open and closed, and their handlers run", async () => {
  const handler = new CountingHandler();
  const log = captureLog("info");
  await using t = startServer({ app: appWith(handler), logger: log.logger });
  const codes = [1000, 1001, 1002, 1003, 4000, 4999];
  const perCode = 20;
  const resets = 40;
  const ended: Promise<void>[] = [];
  for (let i = 0; i < codes.length * perCode + resets; i++) {
    ended.push((async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: t.server.addr.port });
      const handshake = new TextEncoder().encode(handshakeRequest("/echo"));
      if (i < codes.length * perCode) {
        // The handshake and the close frame in one write: the close arrives with the 101.
        const close = encodeClientFrame(Opcode.Close, closePayload(codes[i % codes.length]));
        const both = new Uint8Array(handshake.length + close.length);
        both.set(handshake);
        both.set(close, handshake.length);
        await writeAll(conn, both);
        // Read until the server ends the connection.
        const buffer = new Uint8Array(4096);
        while (await conn.read(buffer) !== null);
      } else {
        await writeAll(conn, handshake);
        // A reset: linger 0 is not in Deno's API, so close without reading anything.
        await conn.read(new Uint8Array(1));
      }
      conn.close();
    })());
  }
  await Promise.all(ended);
  const total = codes.length * perCode + resets;
  // Each client saw its 101, so each session is registered: wait for all to settle.
  await t.server.sessionsClosed();
  assert.equal(t.server.metrics.sessionsTotal, total);
  assert.equal(t.server.metrics.sessionsOpen, 0);
  assert.equal(handler.ran, total);
  assert.equal(log.lines.filter((l) => l.includes(" session.open ")).length, total);
  assert.equal(log.lines.filter((l) => l.includes(" session.close ")).length, total);
  for (const code of codes) {
    assert.equal(t.server.metrics.closes.get(code), perCode, `code ${code}`);
  }
  assert.equal(t.server.metrics.closes.get(1006), resets, "drops are 1006");
  assert.equal(t.server.metrics.closes.get(0), undefined, "no code 0");
});
