/**
 * The fan-out load the suite's fan-out rows share (bench/run.ts): the generator's flags, the
 * project's two protocols, the check that makes a sample a figure, and how samples are logged.
 *
 * @module
 */

import type { LoadgenResult, Sample } from "./loadgen.ts";
import { fmt } from "./report.ts";
import { fanoutSubscribers, fanoutWindow } from "./_run_config.ts";
import type { RoundRunner, SideLoad } from "./_servers.ts";

/** The generator's fan-out load: one publisher, the subscribers, 32-byte text (see fanout.go). */
export const fanoutArgs = {
  mode: "fanout",
  protocol: "fanout",
  conns: fanoutSubscribers,
  size: 32,
  type: "text",
  window: fanoutWindow,
};

/**
 * A fan-out sample is a figure only if every delivery arrived: the generator checks each
 * (count and order per subscriber: lost and mismatches), and here every subscriber must have
 * been there. A sample with any problem keeps its counts (they fail the row) but no figure.
 */
export function fanoutSample(sample: Sample): Sample {
  if (Number.isFinite(sample.value) && sample.extra.subscribers !== fanoutSubscribers) {
    sample.errors++;
    sample.errorSample ??= `${sample.extra.subscribers} of ${fanoutSubscribers} subscribers`;
  }
  if (sample.mismatches + sample.lost + sample.errors > 0) sample.value = NaN;
  return sample;
}

/** A fan-out sample's totals: messages published and subscribers there. */
export function fanoutExtra(r: LoadgenResult): Record<string, number> {
  return { published: r.published ?? 0, subscribers: r.subscribers ?? 0 };
}

/** The project's two fan-out protocols (bench/fanout_app.ts), as the generator speaks them. */
export const PROJECT_LOAD = {
  plain: { path: "/fanout", protocol: "fanout", wire: "plain" },
  batched: { path: "/fanout", protocol: "fanout.batch", wire: "json" },
} satisfies Record<string, SideLoad>;

/** Publish-to-receive percentiles of a fan-out sample, for the progress log. */
export function showLatency(x: Sample): string {
  return `p50 ${fmt(x.extra.p50Us / 1000)} ms p99 ${fmt(x.extra.p99Us / 1000)} ms (${
    fmt(x.extra.published)
  } published)`;
}

/** Deliveries per second of a fan-out sample, for the progress log. */
export function showFanout(x: Sample): string {
  return `${fmt(x.value)} deliveries/s (${fmt(x.extra.published)} published)`;
}

/** A fan-out sample's figures: the totals and the publish-to-receive percentiles (µs). */
export function fanoutLatencyExtra(r: LoadgenResult): Record<string, number> {
  return {
    ...fanoutExtra(r),
    p50Us: r.p50Us ?? NaN,
    p90Us: r.p90Us ?? NaN,
    p99Us: r.p99Us ?? NaN,
    maxUs: r.maxUs ?? NaN,
  };
}

/** `round` with each side's sample counted only as {@linkcode fanoutSample} allows. */
export function checkedFanout(round: RoundRunner): RoundRunner {
  return async (pair, order) => {
    const out = await round(pair, order);
    return { project: fanoutSample(out.project), baseline: fanoutSample(out.baseline) };
  };
}
