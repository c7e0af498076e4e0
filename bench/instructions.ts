/**
 * Counts the machine instructions a server runs per echoed message, for the project and for the
 * raw baseline (bench/baseline_echo.ts), under valgrind's callgrind, and prints them side by
 * side.
 *
 * Seconds on this shared machine move by several percent between two identical processes, so
 * the timed suite (bench/run.ts) cannot see a change of 1-2 %. Instructions do not depend on how
 * busy the machine is: two runs of one server agree within about 1 % (32-byte text; 3 % for 1 KiB
 * binary) on the part that runs as JavaScript (V8's generated code, which callgrind sees as code
 * with no file). An instruction is not a unit of time, so this is no speed figure: it shows
 * where work was added or removed.
 *
 * ```sh
 * deno task bench:instructions [--scenario=echo-64x32] [--seconds=30] [--warmup=15] [--runs=1]
 * ```
 *
 * Needs valgrind (Debian package `valgrind`) and the load generator that `bash bench/run.sh`
 * builds. Each server first runs `--warmup` seconds of the load uncounted (V8 compiles its hot
 * code meanwhile), then `--seconds` counted. Scenarios: `echo-64x32` (text) and `echo-256x1k`
 * (binary); both keep 16 messages in flight per connection, so the messages still in flight
 * when counting starts and stops are under 1 % of those counted.
 *
 * @module
 */

import { runLoadgen } from "./loadgen.ts";
import { echoServerCmd, flag, freePort, repo, startServer } from "./procs.ts";

const scenario = flag("scenario", "echo-64x32");
const seconds = Number(flag("seconds", "30"));
const warmup = Number(flag("warmup", "15"));
const runs = Number(flag("runs", "1"));
const loadgen = flag("loadgen", `${repo}/.cache/bench/loadgen`);
const generator = { loadgen, core: "1" };

const loads: Record<string, Record<string, string | number>> = {
  "echo-64x32": { mode: "throughput", conns: 64, size: 32, type: "text", window: 16 },
  "echo-256x1k": { mode: "throughput", conns: 256, size: 1024, type: "binary", window: 16 },
};

/** What one server ran while the counted load went on. */
interface Count {
  side: "project" | "baseline";
  messages: number;
  /** All instructions, per message. */
  total: number;
  /** Instructions in code with no file: V8's generated code (JavaScript and builtins). */
  generated: number;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Sums callgrind's per-function counts of one dump: all of them, and those of generated code. */
async function readDump(path: string): Promise<{ total: number; generated: number }> {
  const text = await run("callgrind_annotate", ["--threshold=100", path]);
  let total = 0;
  let generated = 0;
  for (const line of text.split("\n")) {
    const m = line.match(/^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$/);
    if (!m || m[2].includes("PROGRAM TOTALS")) continue;
    const n = Number(m[1].replaceAll(",", ""));
    total += n;
    if (m[2].endsWith("[???]")) generated += n;
  }
  return { total, generated };
}

async function count(side: Count["side"], load: Record<string, string | number>): Promise<Count> {
  const dir = Deno.makeTempDirSync({ prefix: "bench_instructions_" });
  const port = freePort();
  const server = await startServer(side, {
    cmd: [
      "valgrind",
      "--tool=callgrind",
      // V8 writes and rewrites machine code at run time.
      "--smc-check=all-non-file",
      "--instr-atstart=no",
      `--callgrind-out-file=${dir}/callgrind.%p`,
      ...echoServerCmd(side === "baseline", port),
    ],
    port,
    core: "0",
    cwd: repo,
    readyTimeoutMs: 120000,
  });
  const pid = String(server.pid); // taskset and valgrind exec: this is the server itself
  const url = `ws://127.0.0.1:${port}/echo`;
  const timeoutMs = (warmup + seconds + 120) * 1000;
  try {
    await runLoadgen(generator, { ...load, url, warmup: "1s", duration: `${warmup}s` }, timeoutMs);
    await run("callgrind_control", ["--instr=on", pid]);
    const counted = await runLoadgen(
      generator,
      { ...load, url, warmup: "0s", duration: `${seconds}s` },
      timeoutMs,
    );
    await run("callgrind_control", ["--dump", pid]);
    const result = counted.result;
    if (!result || result.mismatches + result.lost + result.errors > 0) {
      throw new Error(
        `${side}: the counted load failed: ${JSON.stringify(result)} ${counted.stderr}`,
      );
    }
    const dumps = [...Deno.readDirSync(dir)].filter((f) => f.name.endsWith(".1"));
    if (dumps.length !== 1) throw new Error(`${side}: no callgrind dump in ${dir}`);
    const { total, generated } = await readDump(`${dir}/${dumps[0].name}`);
    return {
      side,
      messages: result.count,
      total: total / result.count,
      generated: generated / result.count,
    };
  } finally {
    await server.stop(30000);
    Deno.removeSync(dir, { recursive: true });
  }
}

function row(c: Count): string {
  const f = (n: number) => n.toFixed(0).padStart(8);
  return `| ${c.side.padEnd(8)} | ${String(c.messages).padStart(8)} | ${f(c.total)} | ${
    f(c.generated)
  } | ${f(c.total - c.generated)} |`;
}

async function main(): Promise<void> {
  const load = loads[scenario];
  if (!load) throw new Error(`unknown scenario ${scenario}; one of ${Object.keys(loads)}`);
  Deno.statSync(loadgen); // fail early without the generator
  const counts: Count[] = [];
  for (let i = 0; i < runs; i++) {
    // Alternate which side goes first, as the timed suite does.
    const order: Count["side"][] = i % 2 === 0 ? ["project", "baseline"] : ["baseline", "project"];
    for (const side of order) counts.push(await count(side, load));
  }
  console.log(`Instructions per echoed message, ${scenario} (${JSON.stringify(load)})\n`);
  console.log("| server   | messages | all      | V8 code  | runtime  |");
  console.log("| -------- | -------: | -------: | -------: | -------: |");
  for (const c of counts) console.log(row(c));
  const mean = (side: Count["side"], key: "total" | "generated") => {
    const mine = counts.filter((c) => c.side === side);
    return mine.reduce((a, c) => a + c[key], 0) / mine.length;
  };
  for (const key of ["total", "generated"] as const) {
    console.log(
      `\nproject / baseline, ${key === "total" ? "all instructions" : "V8 code"}: ${
        (mean("project", key) / mean("baseline", key)).toFixed(3)
      }`,
    );
  }
}

await main();
