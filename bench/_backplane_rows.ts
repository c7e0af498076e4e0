/**
 * The suite's backplane section (issue #16, bench/run.ts): on a `redis-server` of its own, the
 * echo row with `--backplane` against without, then the cross-node rows
 * (bench/_cross_node_rows.ts).
 *
 * @module
 */

import type { Sample } from "./loadgen.ts";
import { fmt, median, type Row, type Section } from "./report.ts";
import {
  backplaneRounds,
  log,
  slice,
  standIn,
  turnSeconds,
  turnWarmup,
  wanted,
} from "./_run_config.ts";
import { compare, inTurns, type Pair, projectCmd, type Side, start } from "./_servers.ts";
import { echoScenarios } from "./_echo_rows.ts";
import { perCpuSecond, problemsNote, spread } from "./_figures.ts";
import { awaitBackplane, haveRedisServer, startRedis } from "./_redis.ts";
import { backplaneFanout, crossNodePeer } from "./_cross_node_rows.ts";

/**
 * The backplane section (issue #16), two informational rows with no target, on a
 * `redis-server` the suite starts for them: the 64 × 32 B echo row with `--backplane`
 * against without, and fan-out from a publisher on node A to 1,000 subscribers on node B
 * (through Redis) against the same load on one node.
 */
export async function backplaneSection(rows: Row[]): Promise<Section | null> {
  if (!wanted("backplane")) return null;
  const title = "Backplane (issue #16, not targets)";
  if (standIn) return { title, body: "Not run: the stand-in server has no `--backplane`." };
  if (!(await haveRedisServer())) {
    const why = "redis-server is not installed (apt-get install redis-server)";
    log(`backplane: skipped, ${why}`);
    return { title, body: `Not run: ${why}.` };
  }
  const redis = await startRedis();
  const redisUrl = `redis://127.0.0.1:${redis.port}`;
  log(`backplane: redis-server ${redis.pid} on ${redis.port}`);
  try {
    const echo = await backplaneEcho(redisUrl);
    const fanout = await backplaneFanout(redis, redisUrl);
    const peer = await crossNodePeer(rows, redis, redisUrl);
    return { title, body: [...echo, "", ...fanout, ...(peer ? ["", peer] : [])].join("\n") };
  } catch (e) {
    log(`backplane: ${(e as Error).message}`);
    return { title, body: `Not completed: \`${(e as Error).message}\`.` };
  } finally {
    await redis.stop();
  }
}

/** The 64 × 32 B text echo row, the project with `--backplane` against without, in turns. */
async function backplaneEcho(redisUrl: string): Promise<string[]> {
  const echo = echoScenarios[0];
  let node = 0;
  const startPair = async (): Promise<Pair> => {
    const [project, baseline] = await Promise.all([
      start(
        "project-backplane",
        (port) => projectCmd(port, [`--backplane=${redisUrl}`, `--node-id=echo-${++node}`]),
      ),
      start("project", projectCmd),
    ]);
    try {
      await awaitBackplane(project);
    } catch (e) {
      await Promise.all([project.stop(), baseline.stop()]);
      throw e;
    }
    return { project, baseline };
  };
  const samples = await compare("backplane-echo", {
    count: backplaneRounds,
    startPair,
    runRound: inTurns({ mode: "throughput", ...echo.args }, { value: (r) => r.rate }),
    show: (x) => `${fmt(x.value)} msgs/s`,
    labels: { project: "with", baseline: "without" },
  });
  const ratios = (figure: (s: Sample) => number) =>
    samples.project.map((p, i) => figure(p) / figure(samples.baseline[i]));
  const line = (side: Side, name: string) =>
    `| ${name} | ${fmt(median(samples[side].map(perCpuSecond)))} | ${
      fmt(median(samples[side].map((s) => s.value)))
    } | ${fmt(median(samples[side].map((s) => s.serverCpuPct)))}% | ${
      fmt(median(samples[side].map((s) => s.genCpuPct)))
    }% |`;
  return [
    `### ${echo.scenario}: with and without a backplane`,
    "",
    `The same load and method as the echo row (${backplaneRounds} rounds of fresh pairs, in ` +
    `turns of ${slice} s, ${turnWarmup} + ${turnSeconds} s per server): \`main.ts\` (default ` +
    `app, /echo) with \`--backplane=redis://…\` (its listener in a worker thread, the Redis ` +
    "client on the main thread, connected before the round starts) against `main.ts` without. " +
    "Medians over rounds:",
    "",
    "| Server | Echoes per CPU-s | Echoes/s | Server CPU | Generator CPU |",
    "|---|--:|--:|--:|--:|",
    line("project", "with `--backplane`"),
    line("baseline", "without"),
    "",
    `With / without per server CPU-second: ${spread(ratios(perCpuSecond))}.`,
    "",
    `With / without, echoes per second: ${spread(ratios((s) => s.value))}.`,
    "",
    `Every echo checked byte for byte.${
      problemsNote([...samples.project, ...samples.baseline]) || " None wrong or missing."
    }`,
  ];
}
