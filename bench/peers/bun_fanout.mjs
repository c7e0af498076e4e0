/**
 * Bun peer of the benchmark's fan-out row (issue #17): the same behaviour as
 * bench/baseline_fanout.ts on `Bun.serve` (uWebSockets underneath), run by the `bun` binary that
 * the npm package `bun` (pinned in bench/peers/package.json) installs. Every WebSocket upgrade
 * (any path) is accepted, with subprotocol "fanout" when the client offers one, and subscribes
 * to the topic "f"; a message from one socket is published, with its type (text stays text,
 * binary stays binary), to every other subscriber of "f". Anything else gets 426.
 *
 * The fan-out is `ws.publish("f", msg)`: uWebSockets' topic publish, the same C++ path as
 * `server.publish`, but `server.publish` has no way to leave the sender out (bun-types 1.4.4:
 * `publish(topic, data, compress)`), while `ws.publish` skips the publishing socket itself
 * (`publishToSelf: false`, Bun's default, set explicitly below).
 *
 * Settings of the `websocket` handler, each set explicitly:
 * - `perMessageDeflate: false`: no compression (Bun's default, as on the other servers of the
 *   row).
 * - `idleTimeout: 0`: no idle disconnect (and no automatic pings) during a run; Bun's default
 *   is 120 s, 0 disables it.
 * - `backpressureLimit: 0`: no limit on the bytes queued for one socket (bun-types 1.4.4: "0
 *   means no limit"). Bun's default is 16 MiB with `closeOnBackpressureLimit: false`, and past
 *   it a publish silently skips that subscriber (the message is lost for it, the connection
 *   stays open). Measured with Bun 1.4.4 and a burst of 1024 binary messages of 64 KiB (64 MiB)
 *   from one publisher: with the defaults two subscribers that both kept reading got only about
 *   half of them (509 and 489), and one that paused got 321; with 0 every subscriber got all
 *   1024, the paused one too once it read again. So every message is queued until its
 *   subscriber reads it (as Node's ws and Deno do) and memory grows instead for a subscriber
 *   that stops reading. `closeOnBackpressureLimit: true` is set too so that, should a limit
 *   ever apply, the subscriber is disconnected (which the bench notices) rather than served
 *   with gaps.
 *
 * Usage: `bench/peers/node_modules/.bin/bun bench/peers/bun_fanout.mjs --port=PORT` (listens on
 * 127.0.0.1 only), after `npm ci --prefix bench/peers`.
 */

import process from "node:process";

const portArg = process.argv.find((a) => a.startsWith("--port="));
const port = Number(portArg?.slice(7) ?? "8185");
const TOPIC = "f";

// `Bun` is the global of the bun runtime; read through globalThis so that `deno check`/`deno
// lint` of the repo need no Bun types.
const server = globalThis.Bun.serve({
  hostname: "127.0.0.1",
  port,
  fetch(req, server) {
    if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      const headers = req.headers.has("sec-websocket-protocol")
        ? { "Sec-WebSocket-Protocol": "fanout" }
        : undefined;
      if (server.upgrade(req, { headers })) return undefined;
    }
    return new Response("upgrade required\n", {
      status: 426,
      headers: { "content-type": "text/plain" },
    });
  },
  websocket: {
    perMessageDeflate: false,
    idleTimeout: 0,
    backpressureLimit: 0,
    closeOnBackpressureLimit: true,
    publishToSelf: false,
    open(ws) {
      ws.subscribe(TOPIC);
    },
    message(ws, msg) {
      ws.publish(TOPIC, msg);
    },
  },
});

process.on("SIGTERM", () => {
  server.stop(true).finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});
