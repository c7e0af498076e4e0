/**
 * The fan-out row's peers (issue #17): Node.js + ws, socket.io 4.8 rooms (alone, and two
 * nodes on one Redis with @socket.io/redis-adapter) and Bun 1.4's topic publish. They live in
 * bench/peers, a package of the bench's own (pinned in its package.json and lock, installed
 * with `npm ci --prefix bench/peers` on first use), never a dependency of the server.
 *
 * @module
 */

import { repo } from "./procs.ts";

/** Versions of the peers' runtimes and packages, as installed. */
export interface PeerVersions {
  node: string;
  bun: string;
  ws: string;
  socketio: string;
  redisAdapter: string;
}

/** Which peer, as the suite starts it. */
export type Peer = "node-ws" | "socketio" | "bun";

/** A peer's server command on `port` (socket.io joins the cluster on `redisUrl` when given). */
export function peerCmd(peer: Peer, port: number, redisUrl?: string): string[] {
  switch (peer) {
    case "node-ws":
      return ["node", "bench/peers/node_ws_fanout.mjs", `--port=${port}`];
    case "socketio":
      return [
        "node",
        "bench/peers/socketio_fanout.mjs",
        `--port=${port}`,
        ...(redisUrl ? [`--redis=${redisUrl}`] : []),
      ];
    case "bun":
      return [
        `${repo}/bench/peers/node_modules/.bin/bun`,
        "bench/peers/bun_fanout.mjs",
        `--port=${port}`,
      ];
  }
}

/** What the generator talks to each peer (bench/loadgen/wire.go). */
export const PEER_LOAD: Record<Peer, { path: string; wire: string; protocol: string }> = {
  "node-ws": { path: "/fanout", wire: "plain", protocol: "fanout" },
  // Engine.IO's WebSocket transport, straight away (no polling first).
  socketio: { path: "/socket.io/?EIO=4&transport=websocket", wire: "socketio", protocol: "fanout" },
  // Bun relays the JSON strings of the batched row as they come, one frame each.
  bun: { path: "/fanout", wire: "json", protocol: "fanout" },
};

/** Output of a command run from the repository, or `null` if it cannot start or fails. */
export async function commandText(
  cmd: string,
  args: string[],
  log: (line: string) => void,
): Promise<string | null> {
  try {
    const out = await new Deno.Command(cmd, { args, cwd: repo, stdin: "null" }).output();
    if (!out.success) {
      log(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim().slice(-400)}`);
      return null;
    }
    return new TextDecoder().decode(out.stdout).trim();
  } catch {
    return null;
  }
}

function installedVersion(pkg: string): string | null {
  try {
    const path = `${repo}/bench/peers/node_modules/${pkg}/package.json`;
    return String(JSON.parse(Deno.readTextFileSync(path)).version);
  } catch {
    return null;
  }
}

/**
 * Readies the peers: `node` on PATH, and bench/peers/node_modules, installed with `npm ci`
 * when a package is missing. Returns the versions, or why the peers are skipped.
 */
export async function peerSetup(
  log: (line: string) => void,
): Promise<PeerVersions | { skip: string }> {
  const node = await commandText("node", ["--version"], log);
  if (node === null) return { skip: "`node` is not on PATH" };
  const packages = ["ws", "socket.io", "@socket.io/redis-adapter", "bun"];
  if (packages.some((p) => installedVersion(p) === null)) {
    log("peers: bench/peers/node_modules incomplete, running npm ci --prefix bench/peers");
    const args = ["ci", "--prefix", "bench/peers", "--no-audit", "--no-fund"];
    if (await commandText("npm", args, log) === null) {
      return { skip: "`npm ci --prefix bench/peers` failed (or `npm` is not on PATH)" };
    }
  }
  const [ws, socketio, redisAdapter] = ["ws", "socket.io", "@socket.io/redis-adapter"].map(
    installedVersion,
  );
  const bun = await commandText(`${repo}/bench/peers/node_modules/.bin/bun`, ["--version"], log);
  if (ws === null || socketio === null || redisAdapter === null || bun === null) {
    return { skip: "bench/peers/node_modules is incomplete after npm ci" };
  }
  return { node, bun, ws, socketio, redisAdapter };
}
