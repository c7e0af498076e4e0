/**
 * The suite's multi-core sections (bench/run.ts, reports, not targets): the project with
 * `--workers=1` against `--workers=2`, unpinned, on the echo load and on the fan-out load.
 *
 * @module
 */

import {
  type GeneratorSetup,
  type LoadgenRun,
  runLoadgen,
  type Sample,
  toSample,
} from "./loadgen.ts";
import { processTree } from "./procs.ts";
import { best, fmt, median, type Section } from "./report.ts";
import {
  cores,
  fanoutSubscribers,
  generator,
  log,
  otherRounds,
  seconds,
  standIn,
  wanted,
  warmup,
} from "./_run_config.ts";
import { projectCmd, projectFanoutCmd, start } from "./_servers.ts";
import { fanoutArgs, fanoutExtra, fanoutSample } from "./_fanout_load.ts";
import { perCpuSecond } from "./_figures.ts";

/** How long one run of the generator may take. */
function loadgenTimeout(): number {
  return (warmup + seconds + 30) * 1000;
}

/**
 * Rounds of the project with `--workers=1` and `--workers=2`, in turns, server and generator
 * unpinned on all cores: one sample per server per round, by worker count.
 */
async function workersRounds(
  name: string,
  cmd: (port: number, extra: string[]) => string[],
  load: Record<string, string | number>,
  path: string,
  sampleOf: (run: LoadgenRun) => Sample,
  describe: (sample: Sample) => string,
): Promise<Record<string, Sample[]>> {
  const all = cores > 1 ? `0-${cores - 1}` : "0";
  const unpinned: GeneratorSetup = { ...generator, core: all };
  const results: Record<string, Sample[]> = { "1": [], "2": [] };
  for (let round = 0; round < otherRounds; round++) {
    for (const n of round % 2 === 0 ? ["1", "2"] : ["2", "1"]) {
      const server = await start(
        `${name.replaceAll(" ", "-")}-${n}`,
        (port) => cmd(port, [`--workers=${n}`]),
        all,
      );
      try {
        await new Promise((r) => setTimeout(r, 500)); // let every worker listen
        const run = await runLoadgen(unpinned, {
          ...load,
          url: `ws://127.0.0.1:${server.port}${path}`,
          warmup: `${warmup}s`,
          duration: `${seconds}s`,
          pids: processTree(server.pid).join(","),
        }, loadgenTimeout());
        const sample = sampleOf(run);
        results[n].push(sample);
        log(`${name}=${n} round ${round + 1}: ${describe(sample)}`);
      } finally {
        await server.stop();
      }
    }
  }
  return results;
}

/**
 * Multi-core: compare `--workers=1` and `--workers=2` (one listener per
 * core) on the 64 × 32 B echo load.
 */
export async function workersSection(): Promise<Section | null> {
  if (!wanted("workers")) return null;
  const title = "Multi-core: 1 vs 2 workers (64 conns × 32 B echo)";
  if (standIn) {
    return { title, body: "Not run: the stand-in server has no `--workers` setting." };
  }
  const results = await workersRounds(
    "workers",
    projectCmd,
    { mode: "throughput", conns: 64, size: 32, type: "text", window: 128 },
    "/echo",
    (run) => toSample(run, (r) => r.rate),
    (sample) => `${fmt(sample.value)} msgs/s srv ${fmt(sample.serverCpuPct)}%`,
  );
  const line = (n: string) => {
    const b = best(results[n], "higher");
    const errs = results[n].reduce((a, s) => a + s.mismatches + s.lost + s.errors, 0);
    return `| ${n} | ${fmt(b?.value ?? NaN)} | ${fmt(b?.serverCpuPct ?? NaN)}% | ${
      fmt(b?.genCpuPct ?? NaN)
    }% | ${errs} |`;
  };
  const ratio = (best(results["2"], "higher")?.value ?? NaN) /
    (best(results["1"], "higher")?.value ?? NaN);
  return {
    title,
    body: [
      `Server and generator both unpinned on all ${cores} cores: the generator competes with the ` +
      "workers for the same cores, so this shows scaling on this box, not the server's ceiling. " +
      "CPU is percent of one core (up to 100% × cores).",
      "",
      "| Workers | Best msgs/s | Server CPU | Generator CPU | Errors |",
      "|--:|--:|--:|--:|--:|",
      line("1"),
      line("2"),
      "",
      `2 workers / 1 worker: ${fmt(ratio)}.`,
    ].join("\n"),
  };
}

/**
 * Multi-core on the fan-out load (a report, not a target): the project with `--workers=2`
 * against `--workers=1`, both unpinned like the echo workers section, one after the other.
 */
export async function fanoutWorkersSection(): Promise<Section | null> {
  if (!wanted("fanout") && !wanted("workers")) return null;
  const title = `Multi-core fan-out: 1 vs 2 workers (1 → ${
    fmt(fanoutSubscribers)
  } subscribers × 32 B)`;
  if (standIn) {
    return { title, body: "Not run: the stand-in server has no `--workers` setting." };
  }
  const results = await workersRounds(
    "fanout workers",
    projectFanoutCmd,
    fanoutArgs,
    "/fanout",
    (run) => fanoutSample(toSample(run, (r) => r.rate, fanoutExtra)),
    (sample) => {
      const errs = sample.mismatches + sample.lost + sample.errors;
      return `${fmt(sample.value)} deliveries/s srv ${fmt(sample.serverCpuPct)}% gen ${
        fmt(sample.genCpuPct)
      }%${errs ? `  PROBLEMS ${errs}` : ""}`;
    },
  );
  const errors = (n: string) =>
    results[n].reduce((a, s) => a + s.mismatches + s.lost + s.errors, 0);
  const line = (n: string) => {
    const list = results[n];
    return `| ${n} | ${fmt(median(list.map((s) => s.value)))} | ${
      fmt(median(list.map(perCpuSecond)))
    } | ${fmt(median(list.map((s) => s.serverCpuPct)))}% | ${
      fmt(median(list.map((s) => s.genCpuPct)))
    }% | ${errors(n)} |`;
  };
  const paired = (figure: (s: Sample) => number) =>
    median(results["2"].map((s, i) => figure(s) / figure(results["1"][i])));
  const failed = errors("1") + errors("2") > 0;
  const first = [...results["1"], ...results["2"]].find((s) => s.errorSample)?.errorSample;
  return {
    title,
    body: [
      `Not a target. Server and generator both unpinned on all ${cores} cores, ${otherRounds} ` +
      `rounds of ${warmup} + ${seconds} s per server, one after the other: the generator ` +
      "(a reader per subscriber) competes with the workers for the same cores, so this shows " +
      "scaling on this box, not the server's ceiling. CPU is percent of one core (up to 100% × " +
      "cores). Medians over rounds; every delivery checked as in the fan-out row.",
      "",
      "| Workers | Deliveries/s | Per server CPU-s | Server CPU | Generator CPU | Errors |",
      "|--:|--:|--:|--:|--:|--:|",
      line("1"),
      line("2"),
      "",
      `2 workers / 1 worker, paired by round, median: ${
        fmt(paired((s) => s.value))
      } deliveries/s, ${fmt(paired(perCpuSecond))} per server CPU-second.${
        failed ? ` **Errors: the figures do not count.** First: \`${first ?? "?"}\`` : ""
      }`,
    ].join("\n"),
  };
}
