import assert from "node:assert/strict";
import type { UpgradeInfo, WebSocketRoute } from "../src/app.ts";
import { Metrics } from "../src/metrics.ts";
import { WebSocketUpgrader } from "../src/websocket/upgrader.ts";
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

/** A route speaking `protocols` whose factory records its calls and answers 418 (reached). */
function recordingRoute(protocols: string[] = ["echo"]) {
  const calls: { request: Request; info: UpgradeInfo }[] = [];
  const route: WebSocketRoute = Object.fromEntries(protocols.map((protocol) => [
    protocol,
    (request: Request, info: UpgradeInfo) => {
      calls.push({ request, info });
      return new Response("reached", { status: 418 });
    },
  ]));
  return { calls, route };
}

function handle(upgrader: WebSocketUpgrader, request: Request, route: WebSocketRoute): Response {
  return upgrader.handle(request, INFO, new URL(request.url), "/echo", route);
}

Deno.test("the factory gets the live request, the peer and the client's first protocol the route speaks", () => {
  const { calls, route } = recordingRoute(["echo", "chat"]);
  const response = handle(
    new WebSocketUpgrader(),
    handshake({ "sec-websocket-protocol": "x, echo, chat", "x-token": "t1" }),
    route,
  );
  assert.equal(response.status, 418, "the factory's own refusal is the answer");
  assert.equal(calls.length, 1);
  assert.equal(calls[0].info.protocol, "echo");
  assert.equal(calls[0].info.url.pathname, "/echo");
  assert.deepEqual(calls[0].info.remoteAddr, { hostname: "192.0.2.7", port: 40000 });
  assert.equal(calls[0].request.headers.get("x-token"), "t1");
});

Deno.test("a client offering none of the route's protocols gets a 400 naming them, from the route", async () => {
  const metrics = new Metrics();
  const log = captureLog();
  const { calls, route } = recordingRoute(["chat.v1", "chat.v2"]);
  const upgrader = new WebSocketUpgrader({ metrics, logger: log.logger });
  const response = handle(upgrader, handshake({ "sec-websocket-protocol": "echo" }), route);
  assert.equal(response.status, 400);
  const body = await response.text();
  assert.match(body, /offered: echo; supported: chat\.v1, chat\.v2/);
  assert.equal(body.trimEnd().includes("\n"), false, "one line");
  assert.equal(metrics.handshakeRefusals.get("no_supported_protocol"), 1);
  assert.match(log.lines.join("\n"), /handshake\.refused status=400 reason=no_supported_protocol/);
  assert.equal(calls.length, 0);
});

Deno.test('a route keyed "" takes clients that offer no subprotocol', () => {
  const { calls, route } = recordingRoute([""]);
  assert.equal(handle(new WebSocketUpgrader(), handshake(), route).status, 418);
  assert.equal(calls[0].info.protocol, "");
});

Deno.test("a factory that returns null refuses with 403, counted as refused", async () => {
  const metrics = new Metrics();
  const upgrader = new WebSocketUpgrader({ metrics });
  const response = handle(upgrader, handshake({ "sec-websocket-protocol": "echo" }), {
    echo: () => null,
  });
  assert.equal(response.status, 403);
  assert.match(await response.text(), /refused by the route/);
  assert.equal(metrics.handshakeRefusals.get("refused"), 1);
});

Deno.test("handshake errors are answered before the factory is asked", () => {
  const { calls, route } = recordingRoute();
  const upgrader = new WebSocketUpgrader();
  assert.equal(handle(upgrader, handshake({ "sec-websocket-version": "8" }), route).status, 426);
  assert.equal(handle(upgrader, new Request("http://127.0.0.1:8181/echo"), route).status, 426);
  assert.equal(calls.length, 0);
});

Deno.test("a browser upgrade from another origin is refused with 403", async () => {
  const metrics = new Metrics();
  const { calls, route } = recordingRoute();
  const upgrader = new WebSocketUpgrader({ metrics });
  const response = handle(upgrader, handshake({ origin: "https://evil.example" }), route);
  assert.equal(response.status, 403);
  assert.match(await response.text(), /origin https:\/\/evil\.example is not allowed/);
  assert.equal(metrics.handshakeRefusals.get("origin_not_allowed"), 1);
  assert.equal(calls.length, 0);
});

/** The status a request to a recording route gets: 418 once it passed every check. */
function statusOf(upgrader: WebSocketUpgrader, headers: Record<string, string>): number {
  const { route } = recordingRoute();
  return handle(upgrader, handshake({ "sec-websocket-protocol": "echo", ...headers }), route)
    .status;
}

Deno.test("same-origin pages pass the origin check, on IPs, names and default ports", () => {
  const cases: [string, string][] = [
    ["http://127.0.0.1:8181", "127.0.0.1:8181"],
    ["http://localhost:8181", "localhost:8181"],
    ["https://chat.example.com", "chat.example.com"],
    ["https://chat.example.com", "chat.example.com:443"],
    ["http://chat.example.com", "chat.example.com:80"],
  ];
  for (const [origin, host] of cases) {
    assert.equal(statusOf(new WebSocketUpgrader(), { origin, host }), 418, `${origin} on ${host}`);
  }
});

Deno.test("a page on another port of the same host counts as another origin", () => {
  const headers = { origin: "http://127.0.0.1:3000", host: "127.0.0.1:8181" };
  assert.equal(statusOf(new WebSocketUpgrader(), headers), 403);
});

Deno.test("allowed origins and * let cross-origin pages through", () => {
  const listed = new WebSocketUpgrader({ allowedOrigins: ["https://app.example"] });
  assert.equal(statusOf(listed, { origin: "https://app.example" }), 418);
  assert.equal(statusOf(listed, { origin: "https://other.example" }), 403);
  const any = new WebSocketUpgrader({ allowedOrigins: ["*"] });
  assert.equal(statusOf(any, { origin: "https://other.example" }), 418);
});

Deno.test("a request without Origin (a non-browser client) passes the origin check", () => {
  assert.equal(statusOf(new WebSocketUpgrader(), {}), 418);
});

Deno.test("an upgrader that is shutting down refuses handshakes with 503 and Retry-After", async () => {
  const upgrader = new WebSocketUpgrader();
  await upgrader.closeAll();
  const response = handle(upgrader, handshake({ "sec-websocket-protocol": "echo" }), {
    echo: () => null,
  });
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "5");
  assert.match(await response.text(), /shutting down/);
});

Deno.test("a factory copies what it needs from the live request, and its handler reads it after the upgrade", async () => {
  let resolve!: (seen: string) => void;
  const seen = new Promise<string>((r) => resolve = r);
  await using t = startServer({
    app: {
      websocket: {
        "/echo": {
          echo: (request) => {
            const user = request.headers.get("cookie") ?? "none";
            return (session) => resolve(`${user} ${session.protocol}`);
          },
        },
      },
    },
  });
  const { conn, frames } = await rawWebSocket(t.server.addr.port, {
    headers: { Cookie: "id=42" },
  });
  assert.equal(await seen, "id=42 echo");
  // The server closes the session when the handler returns; answer and hang up.
  await frames.next();
  conn.close();
});
