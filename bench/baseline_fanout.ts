/**
 * Baseline of the benchmark's fan-out row: the smallest raw Deno fan-out server. Every
 * WebSocket upgrade (any path) is accepted with subprotocol "fanout" and joins one `Set` of
 * sockets; a message from one socket is sent to every other open socket in it. Anything else
 * gets 426.
 *
 * A socket joins at the upgrade, and the send loop skips one that is not open yet: an "open"
 * listener would slow Deno's dispatch of every later message (bench/README.md).
 *
 * With subprotocol "fanout.batch" (issue #17) a socket's messages of one macrotask go as one
 * frame, a JSON array when there are several: the hand-written floor of batching in Deno, for
 * bench/fanout_app.ts's batched protocol to be measured against. Each socket's pending
 * messages are flushed when a message posted on a `MessageChannel` arrives.
 *
 * Usage: `deno run --allow-net bench/baseline_fanout.ts --port=PORT` (listens on 127.0.0.1
 * only).
 *
 * @module
 */

const port = Number(Deno.args.find((a) => a.startsWith("--port="))?.slice(7) ?? "8183");
const sockets = new Set<WebSocket>();
/** Sockets that speak "fanout.batch", and their messages of this macrotask. */
const batching = new Set<WebSocket>();
const pending = new Map<WebSocket, string[]>();
const turn = new MessageChannel();
turn.port1.onmessage = () => {
  for (const [socket, messages] of pending) {
    if (socket.readyState !== WebSocket.OPEN) continue;
    socket.send(messages.length === 1 ? messages[0] : `[${messages.join(",")}]`);
  }
  pending.clear();
};

/** The batching sockets' share of a message from `from` (the plain loop is left as it was). */
function sendBatched(from: WebSocket, data: string | ArrayBuffer): void {
  for (const other of batching) {
    if (other === from || other.readyState !== WebSocket.OPEN) continue;
    const messages = pending.get(other);
    if (typeof data !== "string") other.send(data);
    else if (messages) messages.push(data);
    else {
      if (pending.size === 0) turn.port2.postMessage(null);
      pending.set(other, [data]);
    }
  }
}

const server = Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, (req) => {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("upgrade required\n", { status: 426 });
  }
  const batch = req.headers.get("sec-websocket-protocol")?.split(",")[0].trim() === "fanout.batch";
  const { socket, response } = Deno.upgradeWebSocket(req, {
    protocol: batch ? "fanout.batch" : "fanout",
  });
  const set = batch ? batching : sockets;
  set.add(socket);
  socket.onmessage = (e) => {
    for (const other of sockets) {
      if (other !== socket && other.readyState === WebSocket.OPEN) other.send(e.data);
    }
    if (batching.size > 0) sendBatched(socket, e.data);
  };
  socket.onclose = () => set.delete(socket);
  return response;
});

// A clean exit on SIGTERM lets `deno run --cpu-prof` write its profile (bench/profile.ts).
Deno.addSignalListener("SIGTERM", () => {
  turn.port1.close();
  void server.shutdown();
});
