/**
 * The suite's fan-out row (issue #15, bench/run.ts): one publisher to the subscribers, the
 * project's topics against bench/baseline_fanout.ts, and its section per server CPU-second,
 * followed by the peer rows (bench/_fanout_peer_rows.ts).
 *
 * @module
 */

import type { Sample } from "./loadgen.ts";
import { fmt, median, type Row, type Section } from "./report.ts";
import { fanoutSubscribers, fanoutWindow, rounds, standIn, wanted } from "./_run_config.ts";
import {
  baselineFanoutCmd,
  compare,
  inTurns,
  pairStarter,
  projectFanoutCmd,
  type Side,
} from "./_servers.ts";
import { checkedFanout, fanoutArgs, fanoutExtra, showFanout } from "./_fanout_load.ts";
import { perCpuSecond, ratioSpread } from "./_figures.ts";
import { fanoutPeerRows } from "./_fanout_peer_rows.ts";

/**
 * Fan-out: 1 publisher → `fanoutSubscribers` subscribers, the project's topics
 * (bench/fanout_app.ts) against a `Set` and a send loop (bench/baseline_fanout.ts), in turns
 * like the other WebSocket rows; deliveries per second of server CPU.
 */
export async function fanoutSection(rows: Row[]): Promise<Section | null> {
  if (!wanted("fanout")) return null;
  const samples = await compare("fanout", {
    count: rounds,
    startPair: pairStarter(
      "project-fanout",
      standIn ? baselineFanoutCmd : projectFanoutCmd,
      "baseline-fanout",
      baselineFanoutCmd,
    ),
    runRound: checkedFanout(inTurns(fanoutArgs, {
      value: (r) => r.rate,
      extra: fanoutExtra,
      path: "/fanout",
    })),
    show: showFanout,
  });
  rows.push({
    scenario: `Fan-out 1 → ${
      fmt(fanoutSubscribers)
    } subscribers × 32 B text (window ${fanoutWindow})`,
    metric: "deliveries/s",
    better: "higher",
    target: { op: ">=", ratio: 0.95 },
    perCpu: true,
    ...samples,
  });
  const detail = fanoutDetail(samples);
  const peers = await fanoutPeerRows(rows);
  if (peers.length > 0) detail.body += `\n\n${peers.join("\n")}`;
  return detail;
}

/** The fan-out row per server CPU-second, the spread of its rounds, and what was checked. */
function fanoutDetail(samples: Record<Side, Sample[]>): Section {
  const ratios = samples.project.map((p, i) => perCpuSecond(p) / perCpuSecond(samples.baseline[i]));
  const all = [...samples.project, ...samples.baseline];
  const checked = all.reduce(
    (a, s) => a + (s.extra.published ?? 0) * (s.extra.subscribers ?? 0),
    0,
  );
  const problems = all.reduce((a, s) => a + s.mismatches + s.lost + s.errors, 0);
  const line = (side: Side) =>
    `| ${side} | ${fmt(median(samples[side].map(perCpuSecond)))} | ${
      fmt(median(samples[side].map((s) => s.value)))
    } | ${fmt(median(samples[side].map((s) => s.serverCpuPct)))}% | ${
      fmt(median(samples[side].map((s) => s.genCpuPct)))
    }% |`;
  return {
    title: "Fan-out per server CPU-second",
    body: [
      "Medians over the rounds (server pinned, generator on the other core):",
      "",
      "| Server | Deliveries per CPU-s | Deliveries/s | Server CPU | Generator CPU |",
      "|---|--:|--:|--:|--:|",
      line("project"),
      line("baseline"),
      "",
      `Project / baseline per CPU-second, ${ratioSpread(ratios)}.`,
      "",
      `Every delivery checked (sequence, bytes and type, in order, per subscriber; nothing back to ` +
      `the publisher): ${fmt(checked)} deliveries of ${
        fmt(all.reduce((a, s) => a + (s.extra.published ?? 0), 0))
      } published messages, warm-up included; ${
        problems === 0 ? "none missing, wrong or out of order" : `**${problems} problems**`
      }.`,
    ].join("\n"),
  };
}
