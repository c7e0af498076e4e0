import assert from "node:assert/strict";
import {
  closeWebSocket,
  handshakeRequest,
  nextMessage,
  openWebSocket,
  rawExchange,
  startServer,
} from "./_helpers.ts";

Deno.test("echo route refuses a client that offers no echo protocol", async () => {
  await using t = startServer();
  const { port } = t.server.addr;
  const none = await rawExchange(
    port,
    handshakeRequest("/echo", { "Sec-WebSocket-Protocol": null }),
  );
  assert.equal(none.status, 400);
  assert.match(none.body, /no supported subprotocol offered \(offered: none; supported: echo\)/);
  const other = await rawExchange(
    port,
    handshakeRequest("/echo", { "Sec-WebSocket-Protocol": "chat" }),
  );
  assert.equal(other.status, 400);
  assert.match(other.body, /offered: chat; supported: echo/);
  const upper = await rawExchange(
    port,
    handshakeRequest("/echo", { "Sec-WebSocket-Protocol": "ECHO" }),
  );
  assert.equal(upper.status, 400, "subprotocol names are case-sensitive");
});

Deno.test("echo route refuses malformed handshakes over the wire with specific answers", async () => {
  await using t = startServer();
  const { port } = t.server.addr;
  // (A POST that also carries Upgrade is refused 400 by Deno's HTTP layer before routing.)
  const post = await rawExchange(
    port,
    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
  );
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET");
  const plain = await rawExchange(port, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  assert.equal(plain.status, 426);
  assert.equal(plain.headers.get("upgrade"), "websocket");
  const badKey = await rawExchange(
    port,
    handshakeRequest("/echo", { "Sec-WebSocket-Key": "short" }),
  );
  assert.equal(badKey.status, 400);
  assert.match(badKey.body, /base64 of 16 bytes/);
  const noKey = await rawExchange(port, handshakeRequest("/echo", { "Sec-WebSocket-Key": null }));
  assert.equal(noKey.status, 400);
  const version = await rawExchange(
    port,
    handshakeRequest("/echo", { "Sec-WebSocket-Version": "8" }),
  );
  assert.equal(version.status, 426);
  assert.equal(version.headers.get("sec-websocket-version"), "13");
  assert.equal(t.server.metrics.handshakeRefusals.get("bad_key"), 2);
});

Deno.test("echo route accepts protocol lists without spaces and over several lines", async () => {
  await using t = startServer();
  const { port } = t.server.addr;
  const tight = await rawExchange(
    port,
    handshakeRequest("/echo", { "Sec-WebSocket-Protocol": "chat,echo" }),
  );
  assert.equal(tight.status, 101);
  assert.equal(tight.headers.get("sec-websocket-protocol"), "echo");
  assert.equal(
    tight.headers.get("sec-websocket-accept"),
    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    "RFC 6455's sample key gets its sample accept value",
  );
  const request = handshakeRequest("/echo", { "Sec-WebSocket-Protocol": "chat" })
    .replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: superchat, echo\r\n\r\n");
  const lines = await rawExchange(port, request);
  assert.equal(lines.status, 101);
  assert.equal(lines.headers.get("sec-websocket-protocol"), "echo");
});

Deno.test("the static file walk over HTTP: index, 404, HEAD, 304 and Range", async () => {
  await using t = startServer();
  const index = await fetch(`${t.http}/`);
  assert.equal(index.status, 200);
  assert.equal(index.headers.get("content-type"), "text/html; charset=utf-8");
  const html = await index.text();
  assert.match(html, /<html/i);
  const missing = await fetch(`${t.http}/no-such-file.js`);
  assert.equal(missing.status, 404);
  assert.equal(await missing.text(), "not found: /no-such-file.js\n");
  const head = await fetch(`${t.http}/index.html`, {
    method: "HEAD",
    headers: { "accept-encoding": "identity" },
  });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), String(new TextEncoder().encode(html).length));
  assert.equal(await head.text(), "");
  const etag = index.headers.get("etag")!;
  const cached = await fetch(`${t.http}/`, { headers: { "if-none-match": etag } });
  assert.equal(cached.status, 304);
  await cached.body?.cancel();
  const part = await fetch(`${t.http}/index.html`, { headers: { range: "bytes=0-14" } });
  assert.equal(part.status, 206);
  assert.equal(await part.text(), html.slice(0, 15));
  assert.equal(t.server.metrics.staticResponses.get(200), 2);
  assert.equal(t.server.metrics.staticResponses.get(404), 1);
});

Deno.test("traversal attempts over raw HTTP never leave static/", async () => {
  await using t = startServer();
  const { port } = t.server.addr;
  for (
    const path of [
      "/../deno.json",
      "/%2e%2e/deno.json",
      "/..%2fdeno.json",
      "/..%5cdeno.json",
      "/%2e%2e%2f%2e%2e%2fetc/passwd",
      "/..\\..\\deno.json",
      "/%00",
      "/.gitignore",
    ]
  ) {
    const response = await rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.ok([400, 404].includes(response.status), `${path} got ${response.status}`);
    assert.doesNotMatch(response.body, /"tasks"|root:/, path);
  }
});

Deno.test("health, readiness and metrics answer with no-store and are not static files", async () => {
  await using t = startServer();
  const health = await fetch(`${t.http}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.headers.get("cache-control"), "no-store");
  assert.equal(await health.text(), "ok\n");
  const ready = await fetch(`${t.http}/readyz`);
  assert.equal(ready.status, 200);
  assert.equal(ready.headers.get("cache-control"), "no-store");
  await ready.body?.cancel();
  const metrics = await fetch(`${t.http}/metrics`);
  assert.equal(metrics.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  assert.match(await metrics.text(), /^# HELP websocket_sessions_open/);
  const post = await fetch(`${t.http}/healthz`, { method: "POST" });
  assert.equal(post.status, 405);
  await post.body?.cancel();
});

Deno.test("garbage requests get a 4xx or a dropped connection, never a 500", async () => {
  await using t = startServer();
  const { port } = t.server.addr;
  for (
    const request of [
      "NONSENSE\r\n\r\n",
      "GET / HTTP/9.9\r\nHost: x\r\n\r\n",
      "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(128 * 1024)}\r\n\r\n`,
      "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    ]
  ) {
    try {
      const response = await rawExchange(port, request);
      assert.ok(
        response.status >= 400 && response.status < 500,
        `${request.slice(0, 30)}: ${response.status}`,
      );
    } catch (error) {
      // Hyper closes the connection on unparseable input: acceptable, as long as no 500.
      assert.match(String(error), /connection closed|reset|Broken pipe/i);
    }
  }
  const socket = await openWebSocket(`${t.ws}/echo`);
  socket.send("still serving");
  assert.equal(await nextMessage(socket), "still serving");
  await closeWebSocket(socket);
});

Deno.test("the page's own origin may upgrade on localhost, 127.0.0.1 and behind a proxy", async () => {
  await using t = startServer();
  const { port } = t.server.addr;
  const cases: Record<string, string>[] = [
    { Host: `127.0.0.1:${port}`, Origin: `http://127.0.0.1:${port}` },
    { Host: `localhost:${port}`, Origin: `http://localhost:${port}` },
    // A reverse proxy for https://chat.example passes the public Host on.
    { Host: "chat.example", Origin: "https://chat.example" },
  ];
  for (const headers of cases) {
    const response = await rawExchange(port, handshakeRequest("/echo", headers));
    assert.equal(response.status, 101, JSON.stringify(headers));
  }
  const foreign = await rawExchange(
    port,
    handshakeRequest("/echo", { Host: `127.0.0.1:${port}`, Origin: "https://evil.example" }),
  );
  assert.equal(foreign.status, 403);
});

Deno.test("allowed origins configured on the server let a cross-origin page connect", async () => {
  await using t = startServer({ allowedOrigins: ["https://app.example"] });
  const { port } = t.server.addr;
  const allowed = await rawExchange(
    port,
    handshakeRequest("/echo", { Host: `127.0.0.1:${port}`, Origin: "https://app.example" }),
  );
  assert.equal(allowed.status, 101);
});
