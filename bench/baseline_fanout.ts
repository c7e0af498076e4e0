/**
 * Baseline of the benchmark's fan-out row: the smallest raw Deno fan-out server. Every
 * WebSocket upgrade (any path) is accepted with subprotocol "fanout" and joins one `Set` of
 * sockets; a message from one socket is sent to every other open socket in it. Anything else
 * gets 426.
 *
 * A socket joins at the upgrade, and the send loop skips one that is not open yet: an "open"
 * listener would slow Deno's dispatch of every later message (bench/README.md).
 *
 * Usage: `deno run --allow-net bench/baseline_fanout.ts --port=PORT` (listens on 127.0.0.1
 * only).
 *
 * @module
 */

const port = Number(Deno.args.find((a) => a.startsWith("--port="))?.slice(7) ?? "8183");
const sockets = new Set<WebSocket>();

const server = Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, (req) => {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("upgrade required\n", { status: 426 });
  }
  const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "fanout" });
  sockets.add(socket);
  socket.onmessage = (e) => {
    for (const other of sockets) {
      if (other !== socket && other.readyState === WebSocket.OPEN) other.send(e.data);
    }
  };
  socket.onclose = () => sockets.delete(socket);
  return response;
});

// A clean exit on SIGTERM lets `deno run --cpu-prof` write its profile (bench/profile.ts).
Deno.addSignalListener("SIGTERM", () => server.shutdown());
