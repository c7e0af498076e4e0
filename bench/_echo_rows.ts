/**
 * The suite's echo rows (bench/run.ts): echo throughput at three message sizes, round-trip
 * latency and handshakes, the project against bench/baseline_echo.ts in turns.
 *
 * @module
 */

import { fmt, type Row } from "./report.ts";
import { latencyRounds, latencySeconds, rounds, standIn, wanted } from "./_run_config.ts";
import { baselineEchoCmd, compare, inTurns, pairStarter, projectCmd } from "./_servers.ts";
import { p99Samples } from "./_figures.ts";

/** An echo row: its id for `--only`, its title and the generator's load. */
interface EchoScenario {
  id: string;
  scenario: string;
  args: Record<string, string | number>;
}

/** The echo rows, in the report's order. */
export const echoScenarios: EchoScenario[] = [
  {
    id: "echo-64x32",
    scenario: "Echo 64 conns × 32 B text (window 128)",
    args: { conns: 64, size: 32, type: "text", window: 128 },
  },
  {
    id: "echo-256x1k",
    scenario: "Echo 256 conns × 1 KiB binary (window 32)",
    args: { conns: 256, size: 1024, type: "binary", window: 32 },
  },
  {
    id: "echo-16x64k",
    scenario: "Echo 16 conns × 64 KiB binary (window 8)",
    args: { conns: 16, size: 65536, type: "binary", window: 8 },
  },
];

/** The echo, round-trip and handshake rows (targets), project against the raw Deno echo. */
export async function wsSection(rows: Row[]): Promise<void> {
  const ids = [...echoScenarios.map((s) => s.id), "latency", "handshake"];
  if (!ids.some(wanted)) return;
  const startPair = pairStarter(
    "project",
    standIn ? baselineEchoCmd : projectCmd,
    "baseline-echo",
    baselineEchoCmd,
  );
  for (const s of echoScenarios.filter((s) => wanted(s.id))) {
    const samples = await compare(s.id, {
      count: rounds,
      startPair,
      runRound: inTurns({ mode: "throughput", ...s.args }, {
        value: (r) => r.rate,
        extra: (r) => ({ bytesPerSec: r.bytesPerSec }),
      }),
      show: (x) => `${fmt(x.value)} msgs/s`,
    });
    rows.push({
      scenario: s.scenario,
      metric: "msgs/s",
      better: "higher",
      target: { op: ">=", ratio: 0.97 },
      perCpu: true,
      ...samples,
    });
  }
  if (wanted("latency")) {
    const samples = await compare("latency", {
      count: latencyRounds,
      startPair,
      runRound: inTurns({ mode: "latency", conns: 1, size: 32, type: "text" }, {
        value: (r) => r.p50Us ?? NaN,
        extra: (r) => ({ p99Us: r.p99Us ?? NaN, rate: r.rate }),
        seconds: latencySeconds,
      }),
      show: (x) => `p50 ${fmt(x.value)} µs p99 ${fmt(x.extra.p99Us)} µs`,
    });
    const scenario = "Round trip, 1 conn × 32 B text";
    const target = { op: "<=" as const, ratio: 1.05 };
    rows.push({ scenario, metric: "p50 µs", better: "lower", target, ...samples });
    rows.push({
      scenario,
      metric: "p99 µs",
      better: "lower",
      target,
      project: p99Samples(samples.project),
      baseline: p99Samples(samples.baseline),
    });
  }
  if (wanted("handshake")) {
    const samples = await compare("handshake", {
      count: rounds,
      startPair,
      runRound: inTurns({ mode: "handshake", conns: 16 }, { value: (r) => r.rate }),
      show: (x) => `${fmt(x.value)} handshakes/s`,
    });
    rows.push({
      scenario: "Handshake + close, 16 workers",
      metric: "handshakes/s",
      better: "higher",
      target: { op: ">=", ratio: 0.95 },
      perCpu: true,
      ...samples,
    });
  }
}
