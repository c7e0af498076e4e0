/**
 * The suite's report text besides the rows (bench/run.ts): the machine and method lines, and
 * the path of a new report.
 *
 * @module
 */

import { repo } from "./procs.ts";
import { fmt } from "./report.ts";
import {
  backplaneFanoutRounds,
  backplaneRounds,
  cores,
  fanoutSubscribers,
  fanoutWindow,
  generator,
  latencyRounds,
  latencySeconds,
  otherRounds,
  outDir,
  rounds,
  seconds,
  serverCore,
  sessions,
  slice,
  standIn,
  startDate,
  turnSeconds,
  turnWarmup,
  wanted,
  warmup,
} from "./_run_config.ts";

async function commandOutput(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return text.trim().split("\n")[0];
  } catch {
    return "not found";
  }
}

/** The report's machine lines: CPU, memory, load, tool versions and the project's commit. */
export async function machineLines(): Promise<string[]> {
  const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  const model = cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown";
  const commit = await commandOutput("git", ["-C", repo, "rev-parse", "--short", "HEAD"]);
  const dirty = await commandOutput("git", [
    "-C",
    repo,
    "status",
    "--porcelain",
    "--",
    "src",
    "main.ts",
    "bench",
    // Reports are written there, and earlier ones may be copied in: they change no figure.
    ":(exclude)bench/results",
  ]);
  return [
    `Started: ${startDate.toISOString()}`,
    `CPU: ${model}, nproc ${cores}; memory ${
      fmt(Deno.systemMemoryInfo().total / 1024 ** 3)
    } GiB; kernel ${Deno.osRelease()}`,
    `Load average at start: ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`,
    `deno ${Deno.version.deno} (V8 ${Deno.version.v8}); ${await commandOutput("go", [
      "version",
    ])}; ${(await commandOutput("wrk", ["--version"])).replace(/ \[.*$/, "")}`,
    `Project: ${
      standIn
        ? "**stand-in** (main.ts absent or --stand-in: the raw baseline plays the project)"
        : `main.ts at commit ${commit}${
          dirty && dirty !== "not found" ? " (with local changes)" : ""
        }`
    }`,
  ];
}

/** The report's method lines, from the suite's settings. */
export function methodLines(): string[] {
  return [
    `Server pinned to core ${serverCore} (taskset), load generator (bench/loadgen, Go + gorilla/websocket; wrk for static) pinned to core ${generator.core}.`,
    `WebSocket rows (echo, round trip, handshakes): ${rounds} rounds (round trip: ${latencyRounds}), each on a freshly started pair of servers, stopped after it. In a round the generator takes turns between the two servers in windows of ${slice} s (A B, B A, A B, ...; a paused server's traffic is drained before the other's window starts), ${turnWarmup} s of warm-up and then ${turnSeconds} s (round trip: ${latencySeconds} s, for enough round trips behind each p99) measured per server; each server's windows are summed into the round's figure.`,
    `Static, idle-memory and workers rows: ${otherRounds} rounds, project and baseline one after the other (A/B, B/A, ...), ${warmup} s warm-up + ${seconds} s measured per run; every round starts both servers afresh (the idle-memory rows start one per run). Their margins are wide, so they get fewer rounds.`,
    "Cells show the **best** round and the median in parentheses. Judged ratio (bold): project / baseline within each round, median over rounds; for server-bound rates (echo throughput, handshakes, static) the figures compared are per second of server CPU. Why: this machine is shared; its speed dips by 10-15 % for seconds at a time, which one-after-the-other runs catch on one side only (taking turns in short windows puts both sides through the same dip), and one of two identical server processes can stay 5-10 % faster than the other for as long as it runs (only many rounds, each with fresh processes, average that out). Windows of one server under one load also vary by ±10-20 % among themselves (64 KiB echo), so a round sums its windows. The raw best-of-rounds ratio is shown beside it; the limit column says whether the server core was saturated.",
    wanted("fanout") &&
    `Fan-out row: 1 publisher → ${
      fmt(fanoutSubscribers)
    } subscribers on one server, 32-byte text, in turns like the WebSocket rows. The publisher sends message s only once every subscriber has received message s - ${fanoutWindow} (at most ${fanoutWindow} in flight, judged by the slowest subscriber); every subscriber must receive exactly 0, 1, 2, ... (sequence number, bytes, type), the publisher nothing, and every message sent must have reached every subscriber when the load drains. Before the first counted message the publisher sends probes until every subscriber has received one (the server subscribes a session when it opens). Figure: deliveries (messages × subscribers received) per second, compared per second of server CPU. Project: \`main.ts --app=bench/fanout_app.ts\` (subscribe on open, publish each message to the others); baseline: bench/baseline_fanout.ts (a \`Set\` of sockets and a \`send\` loop).`,
    wanted("backplane") &&
    `Backplane section (issue #16, no targets): a \`redis-server\` started by the suite on a free port (stopped by its pid afterwards); the 64 × 32 B echo row, ${backplaneRounds} rounds, \`main.ts\` with \`--backplane\` against without; fan-out from a publisher on node A to ${
      fmt(fanoutSubscribers)
    } subscribers on node B through Redis against one node, ${backplaneFanoutRounds} rounds, at window ${fanoutWindow} and 1. Methods and figures in its section below.`,
    "Baselines: bench/baseline_echo.ts (`Deno.serve` + `Deno.upgradeWebSocket`, echo `e.data`), bench/baseline_static.ts (`Deno.open` stream per request). The project runs `deno run -P main.ts --hostname=127.0.0.1 --log-level=warn --static-dir=<temp dir>` with default settings.",
    "CPU columns: server / generator CPU over the measured window in % of one core, from /proc/PID/stat (server) and getrusage or reaped-children time (generator). limit = server when the server core was ≥ 90% busy with the server (the server was the bottleneck), generator when the generator was, neither otherwise (latency-bound or disturbed).",
    "Every echo is checked byte for byte, in order, with its message type; static bodies are checked once per server before timing. Any mismatch, lost message or error fails the row.",
    `Idle memory: a fresh server per run; VmRSS 1 s after a 100-session warm-up and 1 s after opening ${
      fmt(sessions)
    } sessions (held by the generator, then each checked with one echo); figure = RSS growth / sessions.`,
  ].filter((line): line is string => typeof line === "string");
}

/** A new report file in the output folder: `<date>.md`, else `<date>-2.md`, and so on. */
export function resultPath(): string {
  Deno.mkdirSync(outDir, { recursive: true });
  const date = startDate.toISOString().slice(0, 10);
  for (let i = 1;; i++) {
    const path = `${outDir}/${date}${i === 1 ? "" : `-${i}`}.md`;
    try {
      Deno.statSync(path);
    } catch {
      return path;
    }
  }
}
