/**
 * Routes declared once (issue #14, point 1): several WebSocket routes, each with its own
 * subprotocols, HTTP routes of the app's own, and static files as the fallback, in one server.
 *
 * @module
 */

import assert from "node:assert/strict";
import shoutApp from "./fixtures/shout_app.ts";
import {
  closeWebSocket,
  nextMessage,
  openWebSocket,
  rawExchange,
  startServer,
} from "./_helpers.ts";
import { handshakeRequest } from "./_helpers.ts";

Deno.test("two WebSocket routes and one HTTP route serve side by side, static files behind them", async () => {
  await using t = startServer({ app: shoutApp });
  const shout = await openWebSocket(`${t.ws}/shout`, "shout");
  const echo = await openWebSocket(`${t.ws}/echo`, "echo");
  assert.equal(shout.protocol, "shout");
  shout.send("hi there");
  echo.send("hi there");
  assert.match(String(await nextMessage(shout)), /^\d+:HI THERE$/);
  assert.equal(await nextMessage(echo), "hi there");
  await closeWebSocket(shout);
  await closeWebSocket(echo);

  const hello = await fetch(`${t.http}/hello/deno`);
  assert.equal(hello.status, 200);
  assert.equal(await hello.text(), "hello deno\n");
  const page = await fetch(`${t.http}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<!doctype html>/i);
  const health = await fetch(`${t.http}/healthz`);
  assert.equal(await health.text(), "ok\n");
});

Deno.test("each WebSocket route names its own subprotocols when a client offers none of them", async () => {
  await using t = startServer({ app: shoutApp });
  const { port } = t.server.addr;
  const onShout = await rawExchange(
    port,
    handshakeRequest("/shout", { "Sec-WebSocket-Protocol": "echo" }),
  );
  assert.equal(onShout.status, 400);
  assert.match(onShout.body, /offered: echo; supported: shout\)$/m);
  const onEcho = await rawExchange(
    port,
    handshakeRequest("/echo", { "Sec-WebSocket-Protocol": "shout" }),
  );
  assert.equal(onEcho.status, 400);
  assert.match(onEcho.body, /offered: shout; supported: echo\)$/m);
});

Deno.test("an HTTP route answers another method with 405 and Allow; an app without static files answers 404", async () => {
  await using t = startServer({ app: { ...shoutApp, static: undefined } });
  const post = await fetch(`${t.http}/hello/deno`, { method: "POST" });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
  const missing = await fetch(`${t.http}/index.html`);
  assert.equal(missing.status, 404);
  assert.equal(await missing.text(), "not found: /index.html\n");
});

Deno.test("a route cannot shadow /healthz, /readyz or /metrics", () => {
  assert.throws(
    () => startServer({ app: { websocket: { "/metrics": { x: () => () => {} } } } }),
    /WebSocket route "\/metrics"/,
  );
});
