/**
 * The suite's servers and how a row's rounds run (bench/run.ts): the command lines of the
 * project and the raw baselines, starting one, and {@linkcode compare} with its two kinds of
 * round, {@linkcode inTurns} (WebSocket rows) and {@linkcode oneAfterTheOther}.
 *
 * @module
 */

import { type LoadgenResult, runLoadgenInTurns, type Sample, toSample } from "./loadgen.ts";
import {
  echoServerCmd,
  freePort,
  processTree,
  repo,
  type ServerProcess,
  startServer,
} from "./procs.ts";
import { fmt } from "./report.ts";
import { generator, log, serverCore, slice, turnSeconds, turnWarmup } from "./_run_config.ts";

/** The temporary folder of the static files (and of the suite's Redis). */
export const staticDir = Deno.makeTempDirSync({ prefix: "bench_static_" });
/** The static files' names. */
export const files = { small: "index.html", large: "1mib.bin" };

/** Writes the static files into {@linkcode staticDir}: their contents by name. */
export function writeStaticFiles(): Record<string, Uint8Array> {
  const line = "<p>WebSocket echo benchmark filler line, 64 bytes of plain text.</p>\n";
  let html = "<!doctype html>\n<html><head><title>bench</title></head><body>\n";
  while (html.length < 10 * 1024 - 32) html += line;
  html = (html + "</body></html>\n").padEnd(10 * 1024, " ");
  const small = new TextEncoder().encode(html.slice(0, 10 * 1024));
  const large = new Uint8Array(1024 * 1024);
  for (let i = 0; i < large.length; i++) large[i] = (i * 2654435761) >>> 24;
  Deno.writeFileSync(`${staticDir}/${files.small}`, small);
  Deno.writeFileSync(`${staticDir}/${files.large}`, large);
  return { [files.small]: small, [files.large]: large };
}

// The same command lines as the instruction counter and the heap tools (echoServerCmd), so
// every tool measures the server as the suite runs it.
/** The project's echo and static server (default app) on `port`, with `extra` settings. */
export function projectCmd(port: number, extra: string[] = []): string[] {
  return [...echoServerCmd(false, port), `--static-dir=${staticDir}`, ...extra];
}

/** The raw Deno echo baseline (bench/baseline_echo.ts) on `port`. */
export function baselineEchoCmd(port: number): string[] {
  return echoServerCmd(true, port);
}

/** The project serving bench/fanout_app.ts (the topics API), with `extra` settings. */
export function projectFanoutCmd(port: number, extra: string[] = []): string[] {
  return [
    "deno",
    "run",
    "-P",
    "main.ts",
    "--app=bench/fanout_app.ts",
    `--port=${port}`,
    "--hostname=127.0.0.1",
    "--log-level=warn",
    ...extra,
  ];
}

/** The raw Deno fan-out baseline (bench/baseline_fanout.ts) on `port`. */
export function baselineFanoutCmd(port: number): string[] {
  return ["deno", "run", "--allow-net", "bench/baseline_fanout.ts", `--port=${port}`];
}

/** The raw Deno static-file baseline (bench/baseline_static.ts) on `port`. */
export function baselineStaticCmd(port: number): string[] {
  return [
    "deno",
    "run",
    "--allow-net",
    "--allow-read",
    "bench/baseline_static.ts",
    `--port=${port}`,
    `--static-dir=${staticDir}`,
  ];
}

/** Starts `cmd` on a free port, pinned to `core` (default the server core). */
export function start(name: string, cmd: (port: number) => string[], core = serverCore) {
  const port = freePort();
  return startServer(name, { cmd: cmd(port), port, core, cwd: repo, readyTimeoutMs: 60000 });
}

/** Starts a round's two servers at once: the project's as `projectName`, the baseline's. */
export function pairStarter(
  projectName: string,
  project: (port: number) => string[],
  baselineName: string,
  baseline: (port: number) => string[],
): () => Promise<Pair> {
  return async () => {
    const [p, b] = await Promise.all([start(projectName, project), start(baselineName, baseline)]);
    return { project: p, baseline: b };
  };
}

/** The two sides of a compared row. */
export type Side = "project" | "baseline";

/** The two servers of one round. */
export type Pair = Record<Side, ServerProcess>;

/** Measures one round: a sample per side, on the round's servers, `order[0]` first. */
export type RoundRunner = (pair: Pair | undefined, order: Side[]) => Promise<Record<Side, Sample>>;

/** What {@linkcode compare} runs, and how it shows each sample in the progress log. */
interface CompareOptions {
  /** How many rounds. */
  count: number;
  /** Starts the round's two servers; `null` when `runRound` starts its own. */
  startPair: (() => Promise<Pair>) | null;
  /** Measures one round. */
  runRound: RoundRunner;
  /** One sample as text for the progress log. */
  show: (s: Sample) => string;
  /** What the log calls each side (default its name). */
  labels?: Record<Side, string>;
}

/**
 * Runs `count` rounds of `runRound`, alternating which side goes first (A/B, B/A, ...), so
 * each round's two samples are neighbours in time and are compared as a pair. With
 * `startPair`, every round gets two freshly started servers, stopped after it: in A/A runs
 * (the same server on both sides) one of two identical processes could stay 5-10 % faster
 * than the other for as long as it ran, so a process's luck must not carry across rounds.
 */
export async function compare(
  id: string,
  { count, startPair, runRound, show, labels }: CompareOptions,
): Promise<Record<Side, Sample[]>> {
  const out: Record<Side, Sample[]> = { project: [], baseline: [] };
  for (let round = 0; round < count; round++) {
    const order: Side[] = round % 2 === 0 ? ["project", "baseline"] : ["baseline", "project"];
    const pair = startPair ? await startPair() : undefined;
    try {
      const samples = await runRound(pair, order);
      for (const side of order) {
        const sample = samples[side];
        out[side].push(sample);
        const errs = sample.mismatches + sample.lost + sample.errors;
        log(
          `${id} ${labels?.[side] ?? side} round ${round + 1}: ${show(sample)}  srv ${
            fmt(sample.serverCpuPct)
          }% gen ${fmt(sample.genCpuPct)}%${errs ? `  PROBLEMS ${errs}` : ""}`,
        );
      }
    } finally {
      if (pair) await Promise.all([pair.project.stop(), pair.baseline.stop()]);
    }
  }
  return out;
}

/** A round of two runs, one server after the other, in the round's order. */
export function oneAfterTheOther(
  runOne: (side: Side, server: ServerProcess | undefined) => Promise<Sample>,
): RoundRunner {
  return async (pair, order) => {
    const out = {} as Record<Side, Sample>;
    for (const side of order) out[side] = await runOne(side, pair?.[side]);
    return out;
  };
}

/** How {@linkcode inTurns} reads and times a round. */
interface InTurnsOptions {
  /** The sample's main figure from the generator's result. */
  value: (r: LoadgenResult) => number;
  /** Its named secondary figures. */
  extra?: (r: LoadgenResult) => Record<string, number>;
  /** Measured seconds per server (default `--turn-seconds`). */
  seconds?: number;
  /** The WebSocket path on both servers (default `/echo`). */
  path?: string;
  /** What differs by side: path, subprotocol, fan-out wire and stalled subscribers. */
  sides?: Partial<Record<Side, SideLoad>>;
}

/** One side's own part of a round's load (the generator's flags for its server). */
export interface SideLoad {
  /** Its WebSocket path (default the round's). */
  path?: string;
  /** The subprotocol offered (default the load's `protocol`). */
  protocol?: string;
  /** The fan-out wire format (bench/loadgen/wire.go; default `plain`). */
  wire?: string;
  /** Fan-out subscribers that stop reading (default 0). */
  stall?: number;
}

/**
 * A round of a WebSocket scenario: one loadgen run against both servers in turns (windows
 * of `slice` seconds, the first in `order` first), each server's windows summed into its
 * sample. Taking turns puts both servers through the same stretch of the machine's speed.
 */
export function inTurns(
  args: Record<string, string | number>,
  { value, extra, seconds: measuredSeconds = turnSeconds, path = "/echo", sides }: InTurnsOptions,
): RoundRunner {
  const flags = (server: ServerProcess, side: Side, n: "" | "2") => {
    const load = sides?.[side];
    const out: Record<string, string | number> = {
      [`url${n}`]: `ws://127.0.0.1:${server.port}${load?.path ?? path}`,
      [`pids${n}`]: processTree(server.pid).join(","),
    };
    if (sides) {
      out[`protocol${n}`] = load?.protocol ?? args.protocol;
      out[`wire${n}`] = load?.wire ?? "plain";
      out[`stall${n}`] = load?.stall ?? 0;
    }
    return out;
  };
  return async (pair, order) => {
    const [first, second] = await runLoadgenInTurns(generator, {
      ...args,
      ...flags(pair![order[0]], order[0], ""),
      ...flags(pair![order[1]], order[1], "2"),
      warmup: `${turnWarmup}s`,
      duration: `${measuredSeconds}s`,
      slice: `${slice * 1000}ms`,
    }, (2 * (turnWarmup + measuredSeconds) + 60) * 1000);
    return {
      [order[0]]: toSample(first, value, extra),
      [order[1]]: toSample(second, value, extra),
    } as Record<Side, Sample>;
  };
}
