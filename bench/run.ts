/**
 * The benchmark suite (issue #5): compares the project's server with minimal
 * raw Deno baselines on echo throughput, latency, handshakes, topic fan-out
 * (issue #15), idle-session memory and static files, interleaving project and
 * baseline runs, and writes a Markdown report to bench/results/<date>.md (also
 * printed). Its backplane section (issue #16, no targets) runs the project with
 * and without a Redis backplane, and fan-out across two nodes.
 *
 * Run it through `bash bench/run.sh` (installs Go, gorilla/websocket and wrk
 * from Debian if missing, builds bench/loadgen, raises the fd limit). Flags:
 *
 * - `--rounds=16`    rounds per WebSocket scenario: a fresh pair of servers each, measured
 *                    in turns of `--slice=0.5` s, `--turn-warmup=1` + `--turn-seconds=1` s each
 * - `--latency-rounds=12` rounds of the round-trip row
 * - `--latency-seconds=2` its measured seconds per server (its p99 needs the round trips)
 * - `--rounds-other=3` rounds of the static, idle-memory and workers scenarios (project
 *                    and baseline one after the other, A/B then B/A)
 * - `--seconds=4`    measured seconds per run of those (plus `--warmup=2`)
 * - `--sessions=10000` idle sessions for the memory scenario
 * - `--fanout-subscribers=1000` subscribers of the fan-out row (one publisher besides them)
 * - `--fanout-window=32` fan-out messages in flight (sent, not yet received by every subscriber)
 * - `--backplane-rounds=8` rounds of the backplane section's echo row (issue #16; needs
 *                    `redis-server`, skipped with the reason printed without it)
 * - `--backplane-fanout-rounds=8` rounds of its cross-node fan-out row
 * - `--peer-rounds=8` rounds of each fan-out peer row (issue #17: Node + ws, socket.io, Bun,
 *                    light-load latency, a stalled subscriber, socket.io across two nodes;
 *                    needs `node`, and `npm` once to install bench/peers; the peers are
 *                    skipped with the reason printed without them; 0 skips the rows)
 * - `--light-rate=20` messages per second of the light-load latency row
 * - `--only=a,b`     run only scenarios whose id contains one of these (default: all)
 * - `--stand-in`     use the raw baseline in place of the project (default: off; on when
 *                    main.ts is absent)
 * - `--loadgen=PATH` the built load generator (default .cache/bench/loadgen; run.sh passes it)
 * - `--out=DIR`      where to write the report (default bench/results)
 *
 * The server runs on core 0 and every load generator on core 1 (taskset).
 *
 * This file runs the sections in order and writes the report; the rest lives in modules of
 * its own: bench/_run_config.ts (the flags above and the progress log), bench/_servers.ts
 * (command lines, `compare` and the ways a round runs), the sections (bench/_echo_rows.ts,
 * _fanout_rows.ts, _fanout_peer_rows.ts, _memory_rows.ts, _static_rows.ts, _workers_rows.ts,
 * _backplane_rows.ts, _cross_node_rows.ts), what they share (bench/_fanout_load.ts,
 * _figures.ts, _redis.ts) and the machine and method lines (bench/_report_text.ts).
 *
 * @module
 */

import { repo, stopAll } from "./procs.ts";
import { renderReport, type Row, type Section } from "./report.ts";
import {
  loadgen,
  log,
  rounds,
  seconds,
  standIn,
  startDate,
  started,
  warmup,
} from "./_run_config.ts";
import { staticDir, writeStaticFiles } from "./_servers.ts";
import { wsSection } from "./_echo_rows.ts";
import { fanoutSection } from "./_fanout_rows.ts";
import { memorySection } from "./_memory_rows.ts";
import { staticSection } from "./_static_rows.ts";
import { fanoutWorkersSection, workersSection } from "./_workers_rows.ts";
import { backplaneSection } from "./_backplane_rows.ts";
import { machineLines, methodLines, resultPath } from "./_report_text.ts";

async function main(): Promise<void> {
  Deno.statSync(loadgen); // fail early without the generator
  const machine = await machineLines();
  log(
    `rounds ${rounds}, ${warmup}+${seconds} s per run, project: ${
      standIn ? "stand-in" : "main.ts"
    }`,
  );
  const contents = writeStaticFiles();
  const rows: Row[] = [];
  const sections: Section[] = [];
  await wsSection(rows);
  const fanout = await fanoutSection(rows);
  if (fanout) sections.push(fanout);
  await memorySection(rows);
  await staticSection(rows, contents);
  const workers = await workersSection();
  if (workers) sections.push(workers);
  const fanoutWorkers = await fanoutWorkersSection();
  if (fanoutWorkers) sections.push(fanoutWorkers);
  const backplane = await backplaneSection(rows);
  if (backplane) sections.push(backplane);
  const report = renderReport({
    title: `Benchmark ${startDate.toISOString().slice(0, 16).replace("T", " ")} UTC`,
    machine,
    method: methodLines(),
    rows,
    sections,
    totalSeconds: (performance.now() - started) / 1000,
  });
  const path = resultPath();
  Deno.writeTextFileSync(path, report);
  // The repository's `deno fmt --check` covers Markdown: store the report formatted.
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", path] }).output();
  console.log(Deno.readTextFileSync(path));
  log(`report written to ${path.replace(`${repo}/`, "")}`);
}

let cleaning = false;
async function cleanUp(): Promise<void> {
  if (cleaning) return;
  cleaning = true;
  await stopAll();
  try {
    Deno.removeSync(staticDir, { recursive: true });
  } catch { /* already gone */ }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    log(`${signal}: stopping servers`);
    await cleanUp();
    Deno.exit(130);
  });
}

try {
  await main();
} finally {
  await cleanUp();
}
