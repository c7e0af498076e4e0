import assert from "node:assert/strict";
import { Metrics } from "../src/metrics.ts";
import { WebSocketHandler } from "../src/websocket/route.ts";
import type { SessionRequest, WebSocketSessionHandler } from "../src/websocket/route.ts";
import { captureLog, rawWebSocket, startServer } from "./_helpers.ts";

const INFO: Deno.ServeHandlerInfo = {
  remoteAddr: { transport: "tcp", hostname: "192.0.2.7", port: 40000 },
  completed: Promise.resolve(),
};

function handshake(headers: Record<string, string> = {}): Request {
  return new Request("http://127.0.0.1:8181/echo", {
    headers: {
      host: "127.0.0.1:8181",
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      ...headers,
    },
  });
}

/** A producer that records what it was asked and refuses everything. */
function refusingProducer() {
  const calls: { request: SessionRequest; protocols: string[] }[] = [];
  const producer = (request: SessionRequest, protocols: string[]) => {
    calls.push({ request, protocols });
    return null;
  };
  return { calls, producer };
}

Deno.test("the producer gets a request snapshot and the offered protocols in order", () => {
  const { calls, producer } = refusingProducer();
  const handler = new WebSocketHandler(producer);
  handler.handle(handshake({ "sec-websocket-protocol": "chat,echo" }), INFO);
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0].protocols, ["chat", "echo"]);
  assert.equal(calls[0].request.url.pathname, "/echo");
  assert.equal(calls[0].request.remoteHostname, "192.0.2.7");
  assert.equal(calls[0].request.headers.get("sec-websocket-protocol"), "chat,echo");
});

Deno.test("a producer that returns null gets a 400 naming the supported protocols", async () => {
  const metrics = new Metrics();
  const log = captureLog();
  const handler = new WebSocketHandler(() => null, {
    supportedProtocols: ["echo"],
    metrics,
    logger: log.logger,
  });
  const response = handler.handle(handshake({ "sec-websocket-protocol": "chat" }), INFO);
  assert.equal(response.status, 400);
  const body = await response.text();
  assert.match(body, /offered: chat; supported: echo/);
  assert.equal(body.trimEnd().includes("\n"), false, "one line");
  assert.equal(metrics.handshakeRefusals.get("no_supported_protocol"), 1);
  assert.match(log.lines.join("\n"), /handshake\.refused status=400 reason=no_supported_protocol/);
});

Deno.test("a handler whose protocol the client did not offer is refused, never answered", () => {
  const liar: WebSocketSessionHandler = { socketProtocol: "echo", handleSession() {} };
  const handler = new WebSocketHandler(() => liar, { supportedProtocols: ["echo"] });
  const response = handler.handle(handshake({ "sec-websocket-protocol": "chat" }), INFO);
  assert.equal(response.status, 400);
});

Deno.test("handshake errors are answered before the producer is asked", () => {
  const { calls, producer } = refusingProducer();
  const handler = new WebSocketHandler(producer);
  assert.equal(handler.handle(handshake({ "sec-websocket-version": "8" }), INFO).status, 426);
  assert.equal(handler.handle(new Request("http://127.0.0.1:8181/echo"), INFO).status, 426);
  assert.equal(calls.length, 0);
});

Deno.test("a browser upgrade from another origin is refused with 403", async () => {
  const metrics = new Metrics();
  const { calls, producer } = refusingProducer();
  const handler = new WebSocketHandler(producer, { metrics });
  const response = handler.handle(handshake({ origin: "https://evil.example" }), INFO);
  assert.equal(response.status, 403);
  assert.match(await response.text(), /origin https:\/\/evil\.example is not allowed/);
  assert.equal(metrics.handshakeRefusals.get("origin_not_allowed"), 1);
  assert.equal(calls.length, 0);
});

Deno.test("same-origin pages pass the origin check, on IPs, names and default ports", () => {
  const cases: [string, string][] = [
    ["http://127.0.0.1:8181", "127.0.0.1:8181"],
    ["http://localhost:8181", "localhost:8181"],
    ["https://chat.example.com", "chat.example.com"],
    ["https://chat.example.com", "chat.example.com:443"],
    ["http://chat.example.com", "chat.example.com:80"],
  ];
  for (const [origin, host] of cases) {
    const { calls, producer } = refusingProducer();
    const handler = new WebSocketHandler(producer);
    const response = handler.handle(handshake({ origin, host }), INFO);
    assert.equal(response.status, 400, `${origin} on ${host} reached the producer`);
    assert.equal(calls.length, 1);
  }
});

Deno.test("a page on another port of the same host counts as another origin", () => {
  const handler = new WebSocketHandler(() => null);
  const request = handshake({ origin: "http://127.0.0.1:3000", host: "127.0.0.1:8181" });
  assert.equal(handler.handle(request, INFO).status, 403);
});

Deno.test("allowed origins and * let cross-origin pages through", () => {
  const listed = new WebSocketHandler(() => null, { allowedOrigins: ["https://app.example"] });
  assert.equal(listed.handle(handshake({ origin: "https://app.example" }), INFO).status, 400);
  assert.equal(listed.handle(handshake({ origin: "https://other.example" }), INFO).status, 403);
  const any = new WebSocketHandler(() => null, { allowedOrigins: ["*"] });
  assert.equal(any.handle(handshake({ origin: "https://other.example" }), INFO).status, 400);
});

Deno.test("a request without Origin (a non-browser client) passes the origin check", () => {
  const handler = new WebSocketHandler(() => null);
  assert.equal(handler.handle(handshake(), INFO).status, 400);
});

Deno.test("a handler that is shutting down refuses handshakes with 503 and Retry-After", async () => {
  const handler = new WebSocketHandler(() => null);
  await handler.closeAll();
  const response = handler.handle(handshake(), INFO);
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "5");
  assert.match(await response.text(), /shutting down/);
});

/** Opens a session whose handler reports the headers it sees in `handleSession`. */
async function headersSeenBy(requestHeaders: readonly string[] | "all" | undefined) {
  let resolve!: (headers: Headers) => void;
  const seen = new Promise<Headers>((r) => resolve = r);
  const handler: WebSocketSessionHandler = {
    socketProtocol: "echo",
    requestHeaders,
    handleSession(request) {
      resolve(request.headers);
    },
  };
  await using t = startServer({ producer: () => handler });
  const { conn, frames } = await rawWebSocket(t.server.addr.port, {
    headers: { "X-Custom": "kept?", Cookie: "id=42", "User-Agent": "test-agent" },
  });
  const headers = await seen;
  // The server closes the session when the handler returns; answer and hang up.
  await frames.next();
  conn.close();
  return headers;
}

Deno.test("a session handler sees the common request headers by default, after the upgrade", async () => {
  const headers = await headersSeenBy(undefined);
  assert.equal(headers.get("cookie"), "id=42");
  assert.equal(headers.get("user-agent"), "test-agent");
  assert.equal(headers.get("sec-websocket-protocol"), "echo");
  assert.equal(headers.get("x-custom"), null, "not declared, not kept");
});

Deno.test("a session handler sees exactly the request headers it declares, or all", async () => {
  const declared = await headersSeenBy(["x-custom"]);
  assert.deepEqual([...declared], [["x-custom", "kept?"]]);
  const all = await headersSeenBy("all");
  assert.equal(all.get("x-custom"), "kept?");
  assert.equal(all.get("cookie"), "id=42");
  assert.equal(all.get("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
});
