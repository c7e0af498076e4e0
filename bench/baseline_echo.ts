/**
 * Baseline for the benchmark suite: the smallest raw Deno WebSocket echo
 * server. It accepts every upgrade that offers subprotocol "echo" and sends
 * each message back as received; anything else gets 426.
 *
 * Usage: `deno run --allow-net bench/baseline_echo.ts --port=PORT`
 * (listens on 127.0.0.1 only).
 *
 * @module
 */

const port = Number(Deno.args.find((a) => a.startsWith("--port="))?.slice(7) ?? "8182");

const server = Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, (req) => {
  if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("upgrade required\n", { status: 426 });
  }
  const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "echo" });
  socket.onmessage = (e) => socket.send(e.data);
  return response;
});

// A clean exit on SIGTERM lets `deno run --cpu-prof` write its profile (bench/profile.ts).
Deno.addSignalListener("SIGTERM", () => server.shutdown());
