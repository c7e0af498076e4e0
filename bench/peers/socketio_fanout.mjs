/**
 * Socket.IO peer of the benchmark's fan-out row (issue #17): socket.io 4.8.4 on Node's `http`
 * server, WebSocket transport only (no HTTP long-polling), with optionally
 * `@socket.io/redis-adapter` 8.3.0 over node-redis 4.7.1 so that several processes on one Redis
 * form a cluster (all pinned in bench/peers/package.json). Every socket joins the room "f" of
 * the main namespace; an event "m" from one socket is emitted to every other member of "f"
 * (`socket.to("f")`, which leaves the sender out), on this process and, with --redis, on every
 * other process attached to the same Redis. Plain HTTP requests outside socket.io's path get 426.
 * No permessage-deflate (engine.io's default, set explicitly), socket.io's default ping
 * (pingInterval 25 s, pingTimeout 20 s: a client must answer each ping).
 *
 * Wire protocol (engine.io v4 + socket.io v5 packets, each one WebSocket text frame):
 * - connect: GET ws://127.0.0.1:PORT/socket.io/?EIO=4&transport=websocket
 * - server → client: `0{"sid":"…","upgrades":[],"pingInterval":25000,"pingTimeout":20000,
 *   "maxPayload":1000000}` (engine.io open)
 * - client → server: `40` (connect to the main namespace "/");
 *   server → client: `40{"sid":"…"}` (namespace connected; the socket is then in room "f")
 * - client publishes: `42["m","<payload>"]`; every other member receives exactly
 *   `42["m","<payload>"]` (the payload is a JSON string; binary payloads are not used)
 * - server → client: `2` (ping) every pingInterval; the client must answer `3` (pong) within
 *   pingTimeout or is disconnected.
 * A handshake that offers a WebSocket subprotocol (as the bench's client does with "fanout") is
 * accepted: engine.io gives `ws` no protocol handler, so `ws` answers with the first protocol
 * offered ("fanout"); without an offer there is no Sec-WebSocket-Protocol in the answer.
 *
 * Usage: `node bench/peers/socketio_fanout.mjs --port=PORT [--redis=redis://127.0.0.1:PORT]`
 * (listens on 127.0.0.1 only), after `npm ci --prefix bench/peers`.
 */

import { createServer } from "node:http";
import { createRequire } from "node:module";
import process from "node:process";

// Loaded by Node's resolution from bench/peers/node_modules, not as imports: `deno check
// bench/` then has no npm specifier to resolve (the project's deno.json lists none of these).
const require = createRequire(import.meta.url);
const { Server } = require("socket.io");

const arg = (name) => {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
};
const port = Number(arg("port") ?? "8186");
const redisUrl = arg("redis");

const server = createServer((_req, res) => {
  // Only requests that are not socket.io's reach this handler (engine.io takes its own path).
  res.writeHead(426, { "content-type": "text/plain" });
  res.end("upgrade required\n");
});

const options = {
  transports: ["websocket"],
  serveClient: false,
  perMessageDeflate: false,
};

const redisClients = [];
if (redisUrl !== undefined) {
  const { createClient } = require("redis");
  const { createAdapter } = require("@socket.io/redis-adapter");
  const pubClient = createClient({ url: redisUrl });
  const subClient = pubClient.duplicate();
  // node-redis emits "error" (and reconnects) on a lost connection: without a listener the
  // process would crash.
  const onError = (err) => {
    console.error("socketio_fanout: redis:", err.message);
  };
  for (const client of [pubClient, subClient]) client.on("error", onError);
  // node-redis retries a refused connection forever: give up after 5 s instead of never
  // listening.
  const giveUp = setTimeout(() => {
    console.error(`socketio_fanout: no connection to ${redisUrl} after 5 s`);
    process.exit(1);
  }, 5000);
  await Promise.all([pubClient.connect(), subClient.connect()]);
  clearTimeout(giveUp);
  redisClients.push(pubClient, subClient);
  options.adapter = createAdapter(pubClient, subClient);
}

const io = new Server(server, options);

io.on("connection", (socket) => {
  socket.join("f");
  socket.on("m", (data) => socket.to("f").emit("m", data));
});

server.listen(port, "127.0.0.1");

process.on("SIGTERM", () => {
  io.close()
    .then(() => Promise.allSettled(redisClients.map((client) => client.quit())))
    .finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});
