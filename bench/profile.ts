/**
 * Profiles the project's server under one benchmark load and prints where
 * its CPU time goes: self time per function (and time including callees for
 * the project's own functions), from V8's `--cpu-prof`.
 *
 * Usage (after `bash bench/run.sh` has built the generator once):
 *
 * ```sh
 * deno run -A bench/profile.ts --scenario=latency [--seconds=6] [--baseline]
 * ```
 *
 * Scenarios: echo-64x32, echo-256x1k, echo-16x64k, latency, handshake,
 * static-10k, static-1m. `--baseline` profiles bench/baseline_echo.ts or
 * bench/baseline_static.ts instead, for comparison. The .cpuprofile file is
 * kept (its path is printed) for Chrome DevTools.
 *
 * @module
 */

import { runLoadgen, runWrk } from "./loadgen.ts";
import { flag, freePort, repo, startServer } from "./procs.ts";

const scenario = flag("scenario", "echo-64x32");
const seconds = Number(flag("seconds", "6"));
const baseline = flag("baseline", "false") === "true";
const loadgen = flag("loadgen", `${repo}/.cache/bench/loadgen`);
const top = Number(flag("top", "30"));
const generator = { loadgen, core: "1" };

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function label(frame: CallFrame): string {
  const name = frame.functionName || "(anonymous)";
  if (!frame.url) return name;
  const file = frame.url.replace(`file://${repo}/`, "").replace(/^.*\/(ext|node)\//, "$1/");
  return `${name} ${file}:${frame.lineNumber + 1}`;
}

/** Self and inclusive milliseconds per function label. */
function summarize(profile: CpuProfile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const node = byId.get(id)!;
    const name = label(node.callFrame);
    total += ms;
    if (node.callFrame.functionName === "(idle)") {
      idle += ms;
      return;
    }
    self.set(name, (self.get(name) ?? 0) + ms);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const l = label(byId.get(at)!.callFrame);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + ms);
    }
  });
  return { self, inclusive, total, idle };
}

function table(
  entries: Map<string, number>,
  busy: number,
  count: number,
  filter = (_: string) => true,
) {
  return [...entries].filter(([l]) => filter(l)).sort((a, b) => b[1] - a[1]).slice(0, count)
    .map(([l, ms]) =>
      `${((ms / busy) * 100).toFixed(1).padStart(6)}%  ${ms.toFixed(0).padStart(6)} ms  ${l}`
    )
    .join("\n");
}

async function main(): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "bench_prof_" });
  const staticDir = Deno.makeTempDirSync({ prefix: "bench_static_" });
  Deno.writeTextFileSync(`${staticDir}/index.html`, "<!doctype html>\n".padEnd(10 * 1024, "x"));
  Deno.writeFileSync(`${staticDir}/1mib.bin`, new Uint8Array(1024 * 1024).fill(7));
  const isStatic = scenario.startsWith("static");
  const port = freePort();
  const script = baseline
    ? [
      isStatic ? "bench/baseline_static.ts" : "bench/baseline_echo.ts",
      "--allow-net",
      "--allow-read",
    ]
    : ["main.ts", "-P"];
  const cmd = [
    "deno",
    "run",
    `--cpu-prof-dir=${dir}`,
    "--cpu-prof",
    ...script.slice(1),
    script[0],
    `--port=${port}`,
    `--static-dir=${staticDir}`,
    ...(baseline ? [] : ["--hostname=127.0.0.1", "--log-level=warn"]),
  ];
  const server = await startServer("profiled", { cmd, port, core: "0", cwd: repo });
  const url = `ws://127.0.0.1:${port}/echo`;
  const common = { url, warmup: "1s", duration: `${seconds}s`, pids: String(server.pid) };
  const loads: Record<string, Record<string, string | number>> = {
    "echo-64x32": { mode: "throughput", conns: 64, size: 32, type: "text", window: 128 },
    "echo-256x1k": { mode: "throughput", conns: 256, size: 1024, type: "binary", window: 32 },
    "echo-16x64k": { mode: "throughput", conns: 16, size: 65536, type: "binary", window: 8 },
    "latency": { mode: "latency", conns: 1, size: 32, type: "text" },
    "handshake": { mode: "handshake", conns: 16 },
  };
  try {
    if (isStatic) {
      const file = scenario === "static-1m" ? "1mib.bin" : "index.html";
      const s = await runWrk(generator, {
        url: `http://127.0.0.1:${port}/${file}`,
        conns: scenario === "static-1m" ? 16 : 64,
        seconds,
        warmupSeconds: 1,
        pids: [server.pid],
      });
      console.log(
        `${scenario}: ${s.value.toFixed(0)} req/s, server CPU ${s.serverCpuPct.toFixed(0)}%`,
      );
    } else {
      const load = loads[scenario];
      if (!load) throw new Error(`unknown scenario ${scenario}`);
      const run = await runLoadgen(generator, { ...common, ...load }, (seconds + 40) * 1000);
      console.log(`${scenario}: ${JSON.stringify(run.result ?? run.stderr)}`);
    }
  } finally {
    await server.stop(10000);
  }
  const files = [...Deno.readDirSync(dir)].filter((f) => f.name.endsWith(".cpuprofile"));
  if (files.length === 0) throw new Error(`no profile written in ${dir}:\n${server.output()}`);
  const path = `${dir}/${files[0].name}`;
  const { self, inclusive, total, idle } = summarize(JSON.parse(Deno.readTextFileSync(path)));
  const busy = total - idle;
  console.log(`profile: ${path}`);
  console.log(
    `sampled ${total.toFixed(0)} ms, idle ${idle.toFixed(0)} ms; % below are of the ${
      busy.toFixed(0)
    } busy ms\n`,
  );
  console.log(`Self time, top ${top}:\n${table(self, busy, top)}\n`);
  console.log(
    `Including callees, project and bench functions:\n${
      table(inclusive, busy, top, (l) => /\s(src\/|main\.ts|bench\/)/.test(l))
    }`,
  );
  Deno.removeSync(staticDir, { recursive: true });
}

await main();
