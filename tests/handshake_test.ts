import assert from "node:assert/strict";
import {
  checkHandshake,
  parseProtocols,
  readHandshake,
  RefusalReason,
  refusalResponse,
} from "../src/websocket/handshake.ts";

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

function upgrade(headers: Record<string, string> = {}, method = "GET"): Request {
  return new Request("http://localhost/echo", {
    method,
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": KEY,
      "sec-websocket-version": "13",
      ...headers,
    },
  });
}

Deno.test("a well-formed handshake passes the checks", () => {
  assert.equal(checkHandshake(upgrade()), null);
});

Deno.test("upgrade and connection tokens match case-insensitively inside lists", () => {
  const request = upgrade({ upgrade: "h2c, WebSocket", connection: "keep-alive, upgrade" });
  assert.equal(checkHandshake(request), null);
});

Deno.test("a header token that only contains upgrade or websocket does not count", () => {
  assert.equal(checkHandshake(upgrade({ connection: "upgrade-insecure" }))?.status, 426);
  assert.equal(checkHandshake(upgrade({ upgrade: "websockets" }))?.status, 426);
});

Deno.test("readHandshake hands back the offered subprotocols of a valid handshake", () => {
  assert.deepEqual(readHandshake(upgrade()), []);
  assert.deepEqual(readHandshake(upgrade({ "sec-websocket-protocol": " echo " })), ["echo"]);
  assert.deepEqual(readHandshake(upgrade({ "sec-websocket-protocol": "chat,echo" })), [
    "chat",
    "echo",
  ]);
  const refusal = readHandshake(upgrade({ "sec-websocket-protocol": "bad name" }));
  assert.equal(Array.isArray(refusal) ? null : refusal.reason, RefusalReason.BadProtocolHeader);
});

Deno.test("a handshake that is not GET is refused with 405 and Allow: GET", async () => {
  const refusal = checkHandshake(upgrade({}, "POST"));
  assert.equal(refusal?.status, 405);
  assert.equal(refusal?.reason, RefusalReason.MethodNotAllowed);
  const response = refusalResponse(refusal!);
  assert.equal(response.headers.get("allow"), "GET");
  assert.match(await response.text(), /^method POST not allowed.*\n$/);
});

Deno.test("a plain GET is refused with 426 and Upgrade: websocket", async () => {
  const refusal = checkHandshake(new Request("http://localhost/echo"));
  assert.equal(refusal?.status, 426);
  assert.equal(refusal?.reason, RefusalReason.UpgradeRequired);
  const response = refusalResponse(refusal!);
  assert.equal(response.headers.get("upgrade"), "websocket");
  assert.equal((await response.text()).split("\n").length, 2, "one line and a newline");
});

Deno.test("an upgrade without Connection: Upgrade is refused with 426", () => {
  assert.equal(checkHandshake(upgrade({ connection: "keep-alive" }))?.status, 426);
});

Deno.test("a missing Sec-WebSocket-Key is refused with 400", () => {
  const request = upgrade();
  request.headers.delete("sec-websocket-key");
  const refusal = checkHandshake(request);
  assert.equal(refusal?.status, 400);
  assert.equal(refusal?.reason, RefusalReason.BadKey);
  assert.match(refusal!.message, /missing Sec-WebSocket-Key/);
});

Deno.test("a Sec-WebSocket-Key that is not base64 of 16 bytes is refused with 400", () => {
  for (
    const key of [
      "not base64!",
      "dGhlIHNhbXBsZSBub25jZQ", // no padding
      "dGhlIHNhbXBsZSBub25jZXg=", // 17 bytes
      "dGhlIHNhbXBsZQ==", // 10 bytes
      "dGhlIHNhbXBsZSBub25jZR==", // non-zero padding bits
      `${KEY}, ${KEY}`, // two key headers
    ]
  ) {
    const refusal = checkHandshake(upgrade({ "sec-websocket-key": key }));
    assert.equal(refusal?.status, 400, key);
    assert.match(refusal!.message, /base64 of 16 bytes/, key);
  }
});

Deno.test("a Sec-WebSocket-Version other than 13 is refused with 426 naming 13", () => {
  for (const version of ["8", "14", "", "13, 8"]) {
    const refusal = checkHandshake(upgrade({ "sec-websocket-version": version }));
    assert.equal(refusal?.status, 426, version);
    assert.equal(refusal?.reason, RefusalReason.UnsupportedVersion);
    assert.equal(refusal?.headers?.["sec-websocket-version"], "13");
  }
  const request = upgrade();
  request.headers.delete("sec-websocket-version");
  assert.equal(checkHandshake(request)?.status, 426);
});

Deno.test("a Sec-WebSocket-Protocol element that is not a token is refused with 400", () => {
  const refusal = checkHandshake(upgrade({ "sec-websocket-protocol": "echo, bad name" }));
  assert.equal(refusal?.status, 400);
  assert.equal(refusal?.reason, RefusalReason.BadProtocolHeader);
});

Deno.test("protocol parsing accepts commas with and without spaces", () => {
  assert.deepEqual(parseProtocols(new Headers({ "sec-websocket-protocol": "chat, echo" })), [
    "chat",
    "echo",
  ]);
  assert.deepEqual(parseProtocols(new Headers({ "sec-websocket-protocol": "chat,echo" })), [
    "chat",
    "echo",
  ]);
  assert.deepEqual(parseProtocols(new Headers({ "sec-websocket-protocol": " chat ,\techo " })), [
    "chat",
    "echo",
  ]);
});

Deno.test("protocol parsing joins several header lines", () => {
  const headers = new Headers();
  headers.append("sec-websocket-protocol", "chat");
  headers.append("sec-websocket-protocol", "echo,superchat");
  assert.deepEqual(parseProtocols(headers), ["chat", "echo", "superchat"]);
});

Deno.test("protocol parsing skips empty elements and keeps case", () => {
  const headers = new Headers({ "sec-websocket-protocol": ",, Echo,,echo," });
  assert.deepEqual(parseProtocols(headers), ["Echo", "echo"]);
  assert.deepEqual(parseProtocols(new Headers()), []);
  assert.deepEqual(parseProtocols(new Headers({ "sec-websocket-protocol": "" })), []);
});
