/**
 * Node.js peer of the benchmark's fan-out row (issue #17): the same behaviour as
 * bench/baseline_fanout.ts on Node's `http` server and the `ws` package (pinned in
 * bench/peers/package.json). Every WebSocket upgrade (any path) is accepted with subprotocol
 * "fanout" and joins one `Set` of sockets; a message from one socket is sent, with its type, to
 * every other open socket in it. Anything else gets 426. No permessage-deflate (ws's server
 * default, as on the other servers of the row).
 *
 * Usage: `node bench/peers/node_ws_fanout.mjs --port=PORT` (listens on 127.0.0.1 only), after
 * `npm ci --prefix bench/peers`.
 */

import { createServer } from "node:http";
import { createRequire } from "node:module";
import process from "node:process";

// Loaded by Node's resolution from bench/peers/node_modules, not as an import: `deno check
// bench/` then has no npm specifier to resolve (the project's deno.json does not list ws).
const { WebSocket, WebSocketServer } = createRequire(import.meta.url)("ws");

const portArg = process.argv.find((a) => a.startsWith("--port="));
const port = Number(portArg?.slice(7) ?? "8184");
const sockets = new Set();

const server = createServer((_req, res) => {
  res.writeHead(426, { "content-type": "text/plain" });
  res.end("upgrade required\n");
});

const wss = new WebSocketServer({
  server,
  clientTracking: false,
  handleProtocols: () => "fanout",
});

wss.on("connection", (socket) => {
  sockets.add(socket);
  socket.on("message", (data, isBinary) => {
    for (const other of sockets) {
      if (other !== socket && other.readyState === WebSocket.OPEN) {
        other.send(data, { binary: isBinary });
      }
    }
  });
  socket.on("close", () => sockets.delete(socket));
  socket.on("error", () => sockets.delete(socket));
});

server.listen(port, "127.0.0.1");

process.on("SIGTERM", () => {
  for (const socket of sockets) socket.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});
