import assert from "node:assert/strict";
import { initialStats } from "../src/backplane/backplane.ts";
import { Metrics } from "../src/metrics.ts";
import {
  closeWebSocket,
  handshakeRequest,
  nextMessages,
  openWebSocket,
  rawExchange,
  startServer,
} from "./_helpers.ts";

/** The value of one sample line in a Prometheus exposition, or `undefined`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

Deno.test("metrics count exactly what clients did", async () => {
  await using t = startServer();
  const { port } = t.server.addr;
  const socket = await openWebSocket(`${t.ws}/echo`);
  const replies = nextMessages(socket, 5);
  socket.send("héllo"); // 6 bytes
  socket.send("");
  socket.send("abc");
  socket.send(new Uint8Array(100));
  socket.send(new Uint8Array(28));
  await replies;
  await closeWebSocket(socket, 4000, "bye");
  await t.server.sessionsClosed();
  await rawExchange(port, handshakeRequest("/echo", { "Sec-WebSocket-Key": "bad" }));
  await rawExchange(port, handshakeRequest("/echo", { "Sec-WebSocket-Protocol": "chat" }));
  await rawExchange(port, handshakeRequest("/echo", { "Sec-WebSocket-Protocol": "chat" }));
  await (await fetch(`${t.http}/`)).body?.cancel();
  await (await fetch(`${t.http}/missing`)).body?.cancel();

  const text = await (await fetch(`${t.http}/metrics`)).text();
  const expected: Record<string, number> = {
    "websocket_sessions_open": 0,
    "websocket_sessions_total": 1,
    'websocket_messages_received_total{kind="text"}': 3,
    'websocket_messages_received_total{kind="binary"}': 2,
    'websocket_bytes_received_total{kind="text"}': 9,
    'websocket_bytes_received_total{kind="binary"}': 128,
    'websocket_messages_sent_total{kind="text"}': 3,
    'websocket_messages_sent_total{kind="binary"}': 2,
    'websocket_bytes_sent_total{kind="text"}': 9,
    'websocket_bytes_sent_total{kind="binary"}': 128,
    'websocket_handshake_refusals_total{reason="bad_key"}': 1,
    'websocket_handshake_refusals_total{reason="no_supported_protocol"}': 2,
    'websocket_closes_total{code="4000"}': 1,
    'http_static_responses_total{status="200"}': 1,
    'http_static_responses_total{status="404"}': 1,
  };
  for (const [series, value] of Object.entries(expected)) {
    assert.equal(sample(text, series), value, series);
  }
});

Deno.test("the exposition has HELP and TYPE for every family and escapes labels", () => {
  const metrics = new Metrics();
  metrics.countRefusal('odd "reason"\\n');
  const text = metrics.render();
  const familiesOf = (text: string) =>
    [...text.matchAll(/^# TYPE (\S+) (counter|gauge)$/gm)].map((m) => m[1]);
  const families = familiesOf(text);
  assert.equal(families.length, 16, "11 of sessions, messages and HTTP, 5 of topics");
  for (const family of families) assert.match(text, new RegExp(`^# HELP ${family} `, "m"));
  assert.match(text, /reason="odd \\"reason\\"\\\\n"} 1/);
  assert.ok(text.endsWith("\n"));
  // With a backplane, its 7 families follow.
  metrics.backplane = { ...initialStats(), up: true, gaps: 2 };
  const withBackplane = metrics.render();
  assert.equal(familiesOf(withBackplane).length, 23);
  assert.match(withBackplane, /^websocket_backplane_up 1$/m);
  assert.match(withBackplane, /^websocket_backplane_gaps_total 2$/m);
});
