/**
 * The benchmark suite's settings (bench/run.ts): its flags with their defaults, the machine's
 * cores and where the server and the generator run, and the progress log.
 *
 * @module
 */

import type { GeneratorSetup } from "./loadgen.ts";
import { flag, repo } from "./procs.ts";

/** When the suite started (the progress log's clock and the report's total time). */
export const started = performance.now();
/** The suite's start date (the report's title and file name). */
export const startDate = new Date();

/**
 * Rounds of each WebSocket row. Sixteen short rounds, not eight of twice the length (the same
 * time): a row's rounds differ mostly by which process happened to be the faster one, not by
 * how long each was measured. Halving the turns widened the rounds' spread by 5-15 % on the
 * echo rows and narrowed it on handshakes, while twice the rounds narrow the median's spread
 * about 1.4 times (median per-round sd of project / baseline, 7 runs at 1 + 1 s against 20 at
 * 2 + 2 s: 32 B echo 0.037 / 0.033, 1 KiB 0.055 / 0.048, 64 KiB 0.080 / 0.075, handshakes
 * 0.046 / 0.067).
 */
export const rounds = Number(flag("rounds", "16"));
/** Rounds of the static, idle-memory and workers rows. */
export const otherRounds = Number(flag("rounds-other", "3"));
/** Measured seconds per run of the static and workers rows. */
export const seconds = Number(flag("seconds", "4"));
/**
 * Warm-up seconds before each measured run. Two, not one: with one, the server measured first
 * in a round often lost 3-10 % to the one measured second, in A/A runs as in real ones.
 */
export const warmup = Number(flag("warmup", "2"));
/**
 * The WebSocket rows take turns (bench/loadgen/measure.go): windows of `slice` seconds, the
 * project's and the baseline's one after the other, `turnWarmup` then `turnSeconds` each.
 */
export const slice = Number(flag("slice", "0.5"));
export const turnWarmup = Number(flag("turn-warmup", "1"));
export const turnSeconds = Number(flag("turn-seconds", "1"));
/**
 * The round-trip row is the exception: its p99 is the tail of one second's ~16,000 round trips
 * per server at 1 + 1 s, and its rounds spread wider than at 2 s (per-round sd of the p99
 * ratio 0.14-0.18 in the three runs at 1 s against a median 0.095, 0.05-0.24, in 25 at 2 s).
 * So it measures `latencySeconds` per server, in fewer rounds (`latencyRounds`) to keep the
 * suite under ten minutes: for this row longer rounds steady the median more than more rounds.
 */
export const latencyRounds = Number(flag("latency-rounds", "12"));
export const latencySeconds = Number(flag("latency-seconds", "2"));
/** Idle sessions of the memory row. */
export const sessions = Number(flag("sessions", "10000"));
/**
 * The fan-out row: one publisher, `fanoutSubscribers` subscribers, 32-byte text, at most
 * `fanoutWindow` messages in flight as the slowest subscriber sees them (bench/loadgen/fanout.go).
 * Thirty-two: about a quarter second of the server's work, so it never waits for the
 * generator. In trial rounds (3 each, 1 + 1 s in turns) windows of 4 and more kept the server
 * core 98-100 % busy; the generator, whose cost per delivery falls as each read picks up more
 * frames, went from 95-98 % of its core at 4 and 8 to 87-95 % at 16 and 88-93 % at 32, so at
 * 32 the server is the limit and the generator keeps up with room to spare. The ratio did not
 * move with the window beyond the rounds' spread (4: 0.96-0.97, 8: 0.95-1.01, 16: 0.98-1.06,
 * 32: 0.97-1.01); 64 made the rounds slower and noisier.
 */
export const fanoutSubscribers = Number(flag("fanout-subscribers", "1000"));
export const fanoutWindow = Number(flag("fanout-window", "32"));
/**
 * The backplane section (issue #16), informational: the 64 × 32 B echo row with and without
 * `--backplane`, and fan-out across two nodes joined by Redis against one node. Fewer rounds
 * than the target rows, to keep the section near two and a half minutes.
 */
export const backplaneRounds = Number(flag("backplane-rounds", "8"));
export const backplaneFanoutRounds = Number(flag("backplane-fanout-rounds", "8"));
/**
 * The fan-out peer rows (issue #17): the project against Node + ws, socket.io and Bun, its
 * batched and unbatched latency at a light rate, and a stalled subscriber; each in fresh pairs
 * in turns like the row, fewer rounds (about 80 s each at 8).
 */
export const peerRounds = Number(flag("peer-rounds", "8"));
/** Messages per second of the light-load latency row: the server about 20 % busy. */
export const lightRate = Number(flag("light-rate", "20"));
const only = flag("only", "").split(",").filter(Boolean);
/** The built load generator (bench/loadgen). */
export const loadgen = flag("loadgen", `${repo}/.cache/bench/loadgen`);
/** Where the report is written. */
export const outDir = flag("out", `${repo}/bench/results`);
/** Online cores of the machine (not this process's affinity, which run.sh narrows). */
function onlineCores(): number {
  const text = Deno.readTextFileSync("/sys/devices/system/cpu/online").trim();
  return text.split(",").reduce((n, part) => {
    const [a, b] = part.split("-").map(Number);
    return n + (b === undefined ? 1 : b - a + 1);
  }, 0);
}

/** Online cores of the machine. */
export const cores = onlineCores();
/** The core every server is pinned to. */
export const serverCore = "0";
/** The load generator and the core it is pinned to (the other one, when there is one). */
export const generator: GeneratorSetup = { loadgen, core: cores > 1 ? "1" : "0" };
const projectExists = (() => {
  try {
    return Deno.statSync(`${repo}/main.ts`).isFile;
  } catch {
    return false;
  }
})();
/** Whether the raw baseline plays the project (`--stand-in`, or main.ts absent). */
export const standIn = flag("stand-in", "false") === "true" || !projectExists;

function elapsed(): string {
  return `${((performance.now() - started) / 1000).toFixed(1)}s`;
}

/** Writes `message` to stderr, after the seconds since the suite started. */
export function log(message: string): void {
  console.error(`[${elapsed()}] ${message}`);
}

/** Whether the scenario `id` is to run (`--only`). */
export function wanted(id: string): boolean {
  return only.length === 0 || only.some((o) => id.includes(o));
}
