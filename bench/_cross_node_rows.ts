/**
 * The backplane section's cross-node rows (issues #16 and #17, bench/run.ts): fan-out from a
 * publisher on node A to the subscribers on node B through Redis, against one node and
 * against socket.io with its Redis adapter.
 *
 * @module
 */

import { runLoadgenInTurns, type Sample, toSample } from "./loadgen.ts";
import { cpuSeconds, processTree, type ServerProcess } from "./procs.ts";
import { fmt, median, type Row } from "./report.ts";
import { PEER_LOAD, peerCmd, peerSetup } from "./fanout_peers.ts";
import {
  backplaneFanoutRounds,
  fanoutSubscribers,
  fanoutWindow,
  generator,
  latencySeconds,
  lightRate,
  log,
  peerRounds,
  slice,
  turnSeconds,
  turnWarmup,
} from "./_run_config.ts";
import { projectFanoutCmd, type Side, type SideLoad, start } from "./_servers.ts";
import {
  fanoutArgs,
  fanoutLatencyExtra,
  fanoutSample,
  PROJECT_LOAD,
  showFanout,
  showLatency,
} from "./_fanout_load.ts";
import { p99Samples, perCpuSecond, problemsNote, rowSpread, spread } from "./_figures.ts";
import { awaitBackplane, backplaneCounters } from "./_redis.ts";

/**
 * One run of the fan-out load on two targets in turns (`second`'s flags end in 2), every
 * delivery timed: a sample per target, in that order.
 */
async function crossNodeRuns(
  first: Record<string, string>,
  second: Record<string, string>,
  window = fanoutWindow,
  rate = 0,
): Promise<Sample[]> {
  const runs = await runLoadgenInTurns(generator, {
    ...fanoutArgs,
    window,
    rate,
    latencies: "true",
    ...first,
    ...second,
    warmup: `${turnWarmup}s`,
    duration: `${rate > 0 ? latencySeconds : turnSeconds}s`,
    slice: `${slice * 1000}ms`,
  }, (2 * (turnWarmup + turnSeconds) + 90) * 1000);
  return runs.map((run) => fanoutSample(toSample(run, (r) => r.rate, fanoutLatencyExtra)));
}

/** The two setups of the cross-node fan-out row. */
type Setup = "single" | "cross";

/**
 * Cross-node fan-out: the publisher on node A, `fanoutSubscribers` subscribers on node B,
 * both `main.ts --app=bench/fanout_app.ts --backplane=…`, against the same load on one node
 * without a backplane, in turns; once at the fan-out row's window (throughput) and once with
 * one message in flight (latency). Every delivery's publish-to-receive time is recorded.
 */
export async function backplaneFanout(redis: ServerProcess, redisUrl: string): Promise<string[]> {
  const windows = [fanoutWindow, 1];
  const samples = new Map(windows.map((w) => [w, { single: [], cross: [] } as Record<
    Setup,
    Sample[]
  >]));
  // CPU-seconds of each process over whole rounds, and the messages published meanwhile.
  const cpu = { single: 0, a: 0, b: 0, redis: 0 };
  const messages = { single: 0, cross: 0 };
  const relayed = { out: 0, in: 0, gaps: 0, lost: 0 };
  const url = (s: ServerProcess) => `ws://127.0.0.1:${s.port}/fanout`;
  for (let round = 0; round < backplaneFanoutRounds; round++) {
    const node = (name: string) => (port: number) =>
      projectFanoutCmd(port, [`--backplane=${redisUrl}`, `--node-id=${name}${round + 1}`]);
    const servers = await Promise.all([
      start("single", projectFanoutCmd),
      start("node-a", node("a")),
      start("node-b", node("b")),
    ]);
    const [single, a, b] = servers;
    try {
      await Promise.all([awaitBackplane(a), awaitBackplane(b)]);
      const pids = {
        single: processTree(single.pid),
        a: processTree(a.pid),
        b: processTree(b.pid),
      };
      const cpuNow = () => ({
        single: cpuSeconds(pids.single),
        a: cpuSeconds(pids.a),
        b: cpuSeconds(pids.b),
        redis: cpuSeconds([redis.pid]),
      });
      const cpu0 = cpuNow();
      const [a0, b0] = await Promise.all([backplaneCounters(a), backplaneCounters(b)]);
      for (const window of windows) {
        const order: Setup[] = round % 2 === 0 ? ["single", "cross"] : ["cross", "single"];
        const target = (setup: Setup, n: "" | "2"): Record<string, string> =>
          setup === "single"
            ? { [`url${n}`]: url(single), [`pids${n}`]: pids.single.join(",") }
            : { [`url${n}`]: url(b), [`puburl${n}`]: url(a), [`pids${n}`]: pids.b.join(",") };
        const runs = await crossNodeRuns(target(order[0], ""), target(order[1], "2"), window);
        order.forEach((setup, i) => {
          const sample = runs[i];
          samples.get(window)![setup].push(sample);
          messages[setup] += sample.extra.published ?? 0;
          const errs = sample.mismatches + sample.lost + sample.errors;
          log(
            `backplane-fanout window ${window} ${setup} round ${round + 1}: ${
              fmt(sample.value)
            } deliveries/s p50 ${fmt(sample.extra.p50Us / 1000)} ms p99 ${
              fmt(sample.extra.p99Us / 1000)
            } ms  srv ${fmt(sample.serverCpuPct)}% gen ${fmt(sample.genCpuPct)}%${
              errs ? `  PROBLEMS ${errs}` : ""
            }`,
          );
        });
      }
      const cpu1 = cpuNow();
      for (const k of ["single", "a", "b", "redis"] as const) cpu[k] += cpu1[k] - cpu0[k];
      const [a1, b1] = await Promise.all([backplaneCounters(a), backplaneCounters(b)]);
      relayed.out += a1.messages_total_out - a0.messages_total_out;
      relayed.in += b1.messages_total_in - b0.messages_total_in;
      relayed.gaps += b1.gaps_total - b0.gaps_total;
      relayed.lost += a1.publish_errors_total - a0.publish_errors_total;
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  }
  return fanoutBackplaneReport(samples, { cpu, messages, relayed });
}

/**
 * Cross-node fan-out against socket.io with @socket.io/redis-adapter (issue #17, two target
 * rows): publisher on node A, the subscribers on node B, both systems on the suite's one
 * Redis, in turns at the fan-out row's window, fresh nodes each round. CPU is counted over
 * A, B and Redis. Returns the section's note, or `null` without the peers.
 */
export async function crossNodePeer(
  rows: Row[],
  redis: ServerProcess,
  redisUrl: string,
): Promise<string | null> {
  if (peerRounds <= 0) return null;
  const versions = await peerSetup(log);
  if ("skip" in versions) return `socket.io cross-node rows: skipped, ${versions.skip}.`;
  const samples: Record<Side, Sample[]> = { project: [], baseline: [] };
  const latencies: Record<Side, Sample[]> = { project: [], baseline: [] };
  const loads: Record<Side, Required<Omit<SideLoad, "stall">>> = {
    project: PROJECT_LOAD.plain,
    baseline: PEER_LOAD.socketio,
  };
  for (let round = 0; round < peerRounds; round++) {
    const node = (name: string) => (port: number) =>
      projectFanoutCmd(port, [`--backplane=${redisUrl}`, `--node-id=${name}${round + 1}`]);
    const sio = (port: number) => peerCmd("socketio", port, redisUrl);
    const servers = await Promise.all([
      start("node-a", node("a")),
      start("node-b", node("b")),
      start("socketio-a", sio),
      start("socketio-b", sio),
    ]);
    const nodes: Record<Side, ServerProcess[]> = {
      project: servers.slice(0, 2),
      baseline: servers.slice(2),
    };
    try {
      await Promise.all(nodes.project.map(awaitBackplane));
      const order: Side[] = round % 2 === 0 ? ["project", "baseline"] : ["baseline", "project"];
      const target = (side: Side, n: "" | "2") => {
        const [a, b] = nodes[side];
        const url = (s: ServerProcess) => `ws://127.0.0.1:${s.port}${loads[side].path}`;
        return {
          [`url${n}`]: url(b),
          [`puburl${n}`]: url(a),
          [`pids${n}`]: [...processTree(a.pid), ...processTree(b.pid), redis.pid].join(","),
          [`wire${n}`]: loads[side].wire,
          [`protocol${n}`]: loads[side].protocol,
        };
      };
      const runs = await crossNodeRuns(target(order[0], ""), target(order[1], "2"));
      // Latency at the light rate: at the window, a delivery's time is mostly the wait behind
      // the others in flight and the other side's turns on the shared core.
      const light = await crossNodeRuns(
        target(order[0], ""),
        target(order[1], "2"),
        fanoutWindow,
        lightRate,
      );
      order.forEach((side, i) => {
        const sample = runs[i];
        samples[side].push(sample);
        latencies[side].push(light[i]);
        const errs = sample.mismatches + sample.lost + sample.errors;
        log(
          `cross-node ${side === "project" ? "project" : "socketio"} round ${round + 1}: ${
            showFanout(sample)
          }; at ${lightRate} msgs/s ${showLatency(light[i])}  srv ${
            fmt(sample.serverCpuPct)
          }% gen ${fmt(sample.genCpuPct)}%${errs ? `  PROBLEMS ${errs}` : ""}`,
        );
      });
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  }
  const scenario = `Cross-node fan-out A → Redis → B, ${
    fmt(fanoutSubscribers)
  } × 32 B vs socket.io ${versions.socketio} + redis-adapter ${versions.redisAdapter}`;
  rows.push({
    scenario,
    metric: "deliveries/s (CPU of A+B+Redis)",
    better: "higher",
    target: { op: ">=", ratio: 1.3 },
    perCpu: true,
    ...samples,
  });
  rows.push({
    scenario,
    metric: `p99 µs at ${lightRate} msgs/s`,
    better: "lower",
    target: { op: "<=", ratio: 0.8 },
    project: p99Samples(latencies.project),
    baseline: p99Samples(latencies.baseline),
  });
  return [
    `Cross-node against socket.io (issue #17, rows above): ${peerRounds} rounds, four fresh ` +
    "nodes each (project A and B with `--backplane`, socket.io A and B with the Redis adapter, " +
    "all on this Redis), in turns; CPU is that of A, B and Redis during each side's windows.",
    "",
    ...rows.slice(-2).map(rowSpread),
  ].join("\n");
}

/** The cross-node fan-out row as Markdown. */
function fanoutBackplaneReport(
  samples: Map<number, Record<Setup, Sample[]>>,
  totals: {
    cpu: Record<"single" | "a" | "b" | "redis", number>;
    messages: Record<Setup, number>;
    relayed: Record<"out" | "in" | "gaps" | "lost", number>;
  },
): string[] {
  const name = { single: "one node (no backplane)", cross: "A → Redis → B (B's CPU)" };
  const ms = (us: number) => fmt(us / 1000);
  const med = (list: Sample[], figure: (s: Sample) => number) => median(list.map(figure));
  const load = samples.get(fanoutWindow)!;
  const one = samples.get(1)!;
  const ratios = (set: Record<Setup, Sample[]>, figure: (s: Sample) => number) =>
    set.cross.map((c, i) => figure(c) / figure(set.single[i]));
  const all = [...samples.values()].flatMap((set) => [...set.single, ...set.cross]);
  const checked = all.reduce(
    (a, s) => a + (s.extra.published ?? 0) * (s.extra.subscribers ?? 0),
    0,
  );
  const published = all.reduce((a, s) => a + (s.extra.published ?? 0), 0);
  const perMessage = (seconds: number, n: number) => `${fmt(seconds / n * 1e6)} µs`;
  const { cpu, messages, relayed } = totals;
  return [
    `### Fan-out across two nodes: 1 publisher on A → ${fmt(fanoutSubscribers)} subscribers on B`,
    "",
    `Publisher connected to node A, the subscribers to node B (\`main.ts --app=bench/fanout_app.ts ` +
    "--backplane=redis://…`, one local Redis, every message A → Redis → B), 32-byte text, against " +
    "the same load on one node without a backplane, in turns like the fan-out row " +
    `(${backplaneFanoutRounds} rounds of fresh servers, ${turnWarmup} + ${turnSeconds} s per ` +
    "setup). A, B, the single node and Redis are all on the server core; the figures per CPU-second " +
    "are B's (the single node's). Every delivery is checked as in the fan-out row, and its " +
    "publish-to-receive time recorded (from the publisher's write to the subscriber's read, on the " +
    "generator's clock; percentiles over deliveries, medians over rounds).",
    "",
    `Under load, window ${fanoutWindow} (the fan-out row's: the latency is mostly the queue of ` +
    `${fanoutWindow} messages in flight):`,
    "",
    "| Setup | Deliveries/s | Per server CPU-s | Server CPU | Generator CPU | p50 ms | p99 ms |",
    "|---|--:|--:|--:|--:|--:|--:|",
    ...(["single", "cross"] as const).map((setup) =>
      `| ${name[setup]} | ${fmt(med(load[setup], (s) => s.value))} | ${
        fmt(med(load[setup], perCpuSecond))
      } | ${fmt(med(load[setup], (s) => s.serverCpuPct))}% | ${
        fmt(med(load[setup], (s) => s.genCpuPct))
      }% | ${ms(med(load[setup], (s) => s.extra.p50Us))} | ${
        ms(med(load[setup], (s) => s.extra.p99Us))
      } |`
    ),
    "",
    `Two nodes / one node, deliveries per second: ${spread(ratios(load, (s) => s.value))}.`,
    "",
    `Per server CPU-second (B / the single node): ${spread(ratios(load, perCpuSecond))}.`,
    "",
    "One message in flight (window 1: each message sent once every subscriber has the one " +
    "before; the latency of the path and of the fan-out to all subscribers, no queue):",
    "",
    "| Setup | p50 ms | p90 ms | p99 ms | max ms | Deliveries/s | Server CPU | Generator CPU |",
    "|---|--:|--:|--:|--:|--:|--:|--:|",
    ...(["single", "cross"] as const).map((setup) =>
      `| ${name[setup]} | ${ms(med(one[setup], (s) => s.extra.p50Us))} | ${
        ms(med(one[setup], (s) => s.extra.p90Us))
      } | ${ms(med(one[setup], (s) => s.extra.p99Us))} | ${
        ms(med(one[setup], (s) => s.extra.maxUs))
      } | ${fmt(med(one[setup], (s) => s.value))} | ${
        fmt(med(one[setup], (s) => s.serverCpuPct))
      }% | ${fmt(med(one[setup], (s) => s.genCpuPct))}% |`
    ),
    "",
    `Two nodes / one node, p50: ${spread(ratios(one, (s) => s.extra.p50Us))}.`,
    "",
    `p99: ${spread(ratios(one, (s) => s.extra.p99Us))}.`,
    "",
    `CPU per published message over whole rounds (both loads, warm-up and probes included): ` +
    `one node ${perMessage(cpu.single, messages.single)}; two nodes: B ${
      perMessage(cpu.b, messages.cross)
    }, A ${perMessage(cpu.a, messages.cross)}, Redis ${perMessage(cpu.redis, messages.cross)}.`,
    "",
    `Through Redis: A published ${fmt(relayed.out)} messages (probes included), B received ${
      fmt(relayed.in)
    }; ${fmt(relayed.gaps)} gaps, ${fmt(relayed.lost)} publishes lost.`,
    "",
    `Every delivery checked (sequence, bytes and type, in order, per subscriber; nothing back to ` +
    `the publisher): ${fmt(checked)} deliveries of ${fmt(published)} published messages, warm-up ` +
    `included; ${problemsNote(all) || "none missing, wrong or out of order."}`,
  ];
}
