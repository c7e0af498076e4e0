/**
 * The suite's idle-memory row (bench/run.ts): the memory each idle WebSocket session costs, on
 * a fresh server per run, the project against bench/baseline_echo.ts.
 *
 * @module
 */

import { runIdle } from "./loadgen.ts";
import { processTree, rssBytes } from "./procs.ts";
import { fmt, type Row } from "./report.ts";
import { generator, otherRounds, sessions, standIn, wanted } from "./_run_config.ts";
import { baselineEchoCmd, compare, oneAfterTheOther, projectCmd, start } from "./_servers.ts";

/** The idle-sessions row (target): RSS per session, the project against the raw Deno echo. */
export async function memorySection(rows: Row[]): Promise<void> {
  if (!wanted("idle")) return;
  const samples = await compare("idle", {
    count: otherRounds,
    startPair: null,
    runRound: oneAfterTheOther(async (side) => {
      const cmd = side === "project" && !standIn ? projectCmd : baselineEchoCmd;
      const server = await start(side, cmd);
      try {
        const pids = processTree(server.pid);
        return await runIdle(generator, {
          url: `ws://127.0.0.1:${server.port}/echo`,
          sessions,
          pids,
          readRss: () => pids.reduce((a, pid) => a + rssBytes(pid), 0),
          timeoutMs: 120000,
        });
      } finally {
        await server.stop(10000);
      }
    }),
    show: (x) => `${fmt(x.value)} bytes/session (${fmt(x.extra.opened)} opened)`,
  });
  rows.push({
    scenario: `${fmt(sessions)} idle sessions (fresh server)`,
    metric: "RSS bytes/session",
    better: "lower",
    target: { op: "<=", ratio: 1.1 },
    ...samples,
  });
}
