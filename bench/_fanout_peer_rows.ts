/**
 * The suite's fan-out peer rows (issue #17, bench/run.ts): the project against Node + ws,
 * socket.io and Bun (bench/fanout_peers.ts) and against raw Deno batching, its batched and
 * unbatched latency at a light rate, and a stalled subscriber.
 *
 * @module
 */

import type { LoadgenResult, Sample } from "./loadgen.ts";
import { fmt, type Row } from "./report.ts";
import { type Peer, PEER_LOAD, peerCmd, peerSetup } from "./fanout_peers.ts";
import {
  fanoutSubscribers,
  latencySeconds,
  lightRate,
  log,
  peerRounds,
  standIn,
  turnSeconds,
} from "./_run_config.ts";
import {
  baselineFanoutCmd,
  compare,
  inTurns,
  pairStarter,
  projectFanoutCmd,
  type Side,
  type SideLoad,
} from "./_servers.ts";
import {
  checkedFanout,
  fanoutArgs,
  fanoutLatencyExtra,
  PROJECT_LOAD,
  showFanout,
  showLatency,
} from "./_fanout_load.ts";
import { p99Samples, rowSpread } from "./_figures.ts";

/** Rounds of two fan-out servers in turns, each side with its own part of the load. */
function fanoutPairs(
  id: string,
  servers: Record<Side, [string, (port: number) => string[], SideLoad]>,
  load: Record<string, string | number>,
  value: (r: LoadgenResult) => number,
  show: (x: Sample) => string,
): Promise<Record<Side, Sample[]>> {
  const round = inTurns(load, {
    value,
    extra: fanoutLatencyExtra,
    sides: { project: servers.project[2], baseline: servers.baseline[2] },
    // A light load's percentiles need more deliveries than one second makes.
    seconds: load.rate ? latencySeconds : turnSeconds,
  });
  return compare(id, {
    count: peerRounds,
    startPair: pairStarter(
      servers.project[0],
      servers.project[1],
      servers.baseline[0],
      servers.baseline[1],
    ),
    runRound: checkedFanout(round),
    show,
    labels: { project: servers.project[0], baseline: servers.baseline[0] },
  });
}

/**
 * The fan-out peer rows (issue #17), each with its target: the project unbatched against
 * Node + ws and socket.io rooms, batched against Bun's publish; then batched against
 * unbatched latency at a light fixed rate, and a stalled subscriber's effect on the others'
 * p99. Returns the section's lines on the peers.
 */
export async function fanoutPeerRows(rows: Row[]): Promise<string[]> {
  if (peerRounds <= 0 || standIn) return [];
  const first = rows.length;
  const versions = await peerSetup(log);
  const scenario = `1 → ${fmt(fanoutSubscribers)} × 32 B`;
  const lines: string[] = [];
  const project = (name: string, load: SideLoad): [string, typeof projectFanoutCmd, SideLoad] => [
    name,
    projectFanoutCmd,
    load,
  ];
  // The library's batching against batching written by hand on raw Deno (the same frames).
  const batched = await fanoutPairs(
    "fanout-batched",
    {
      project: project("project-batched", PROJECT_LOAD.batched),
      baseline: ["baseline-batched", baselineFanoutCmd, PROJECT_LOAD.batched],
    },
    fanoutArgs,
    (r) => r.rate,
    showFanout,
  );
  rows.push({
    scenario: `Fan-out ${scenario}, batched (baseline = raw Deno batching by hand)`,
    metric: "deliveries/s",
    better: "higher",
    target: { op: ">=", ratio: 0.95 },
    perCpu: true,
    ...batched,
  });
  if ("skip" in versions) {
    log(`fan-out peers skipped: ${versions.skip}`);
    lines.push(`Peers (issue #17): skipped, ${versions.skip}.`);
  } else {
    const peers: [Peer, string, SideLoad, number][] = [
      ["node-ws", `Node ${versions.node} + ws ${versions.ws} send loop`, PROJECT_LOAD.plain, 1],
      ["socketio", `socket.io ${versions.socketio} rooms`, PROJECT_LOAD.plain, 1.05],
      ["bun", `Bun ${versions.bun} publish, project batched`, PROJECT_LOAD.batched, 1],
    ];
    for (const [peer, name, load, ratio] of peers) {
      const samples = await fanoutPairs(
        `fanout-${peer}`,
        {
          project: project(load.wire === "json" ? "project-batched" : "project", load),
          baseline: [peer, (port) => peerCmd(peer, port), PEER_LOAD[peer]],
        },
        fanoutArgs,
        (r) => r.rate,
        showFanout,
      );
      rows.push({
        scenario: `Fan-out ${scenario} vs ${name} (baseline = the peer)`,
        metric: "deliveries/s",
        better: "higher",
        target: { op: ">=", ratio },
        perCpu: true,
        ...samples,
      });
    }
    lines.push(
      `Peers (issue #17, rows above): bench/peers, Node ${versions.node}, ws ${versions.ws}, ` +
        `socket.io ${versions.socketio} (WebSocket transport only), Bun ${versions.bun} ` +
        "(`ws.publish`), each in place of the baseline with the same generator and checks.",
    );
  }
  const light = await fanoutPairs(
    "fanout-light",
    {
      project: project("project-batched", PROJECT_LOAD.batched),
      baseline: project("project", PROJECT_LOAD.plain),
    },
    { ...fanoutArgs, rate: lightRate, latencies: "true" },
    (r) => r.p50Us ?? NaN,
    showLatency,
  );
  const lightScenario =
    `Fan-out ${scenario} at ${lightRate} msgs/s: batched (baseline = unbatched)`;
  const target = { op: "<=" as const, ratio: 1.1 };
  rows.push({ scenario: lightScenario, metric: "p50 µs", better: "lower", target, ...light });
  rows.push({
    scenario: lightScenario,
    metric: "p99 µs",
    better: "lower",
    target,
    project: p99Samples(light.project),
    baseline: p99Samples(light.baseline),
  });
  const stalled = await fanoutPairs(
    "fanout-stall",
    {
      project: project("project-stall", { ...PROJECT_LOAD.plain, stall: 1 }),
      baseline: project("project", PROJECT_LOAD.plain),
    },
    { ...fanoutArgs, rate: lightRate, latencies: "true" },
    (r) => r.p99Us ?? NaN,
    showLatency,
  );
  rows.push({
    scenario: `Fan-out ${scenario} at ${lightRate} msgs/s, 1 more subscriber not reading ` +
      "(baseline = none)",
    metric: "others' p99 µs",
    better: "lower",
    target,
    ...stalled,
  });
  lines.push("", "Spread of the rounds, project / baseline (the peer):", "");
  lines.push(...rows.slice(first).map(rowSpread));
  return lines;
}
