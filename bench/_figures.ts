/**
 * Figures and text shared by the suite's sections (bench/run.ts): per-CPU-second rates, the
 * spread of per-round ratios, problem counts and the p99 samples of a latency row.
 *
 * @module
 */

import type { Sample } from "./loadgen.ts";
import { median, type Row } from "./report.ts";

/** A target row's per-round ratios (as the report judges it) and their spread, as a line. */
export function rowSpread(row: Row): string {
  const figure = row.perCpu ? perCpuSecond : (s: Sample) => s.value;
  const ratios = row.project.map((p, i) => figure(p) / figure(row.baseline[i]));
  return `- ${row.scenario}, ${row.metric}: ${ratioSpread(ratios)}.`;
}

/** Median, quartiles and range of per-round ratios, as one line's text. */
export function ratioSpread(ratios: number[]): string {
  const sorted = finiteSorted(ratios);
  return `${sorted.length} rounds: ${quartiles(sorted)}`;
}

/** Median, quartiles and range of per-round ratios, and the rounds themselves, as text. */
export function spread(values: number[]): string {
  return `${quartiles(finiteSorted(values))} (rounds: ${values.map(fmtRatio).join(", ")})`;
}

function finiteSorted(values: number[]): number[] {
  return values.filter(Number.isFinite).sort((a, b) => a - b);
}

/** "median **m**, quartiles q1-q3, range min-max" of values sorted ascending. */
function quartiles(sorted: number[]): string {
  const quartile = (q: number) => sorted[Math.round(q * (sorted.length - 1))] ?? NaN;
  return `median **${fmtRatio(median(sorted))}**, quartiles ${fmtRatio(quartile(0.25))}-${
    fmtRatio(quartile(0.75))
  }, range ${fmtRatio(sorted[0] ?? NaN)}-${fmtRatio(sorted[sorted.length - 1] ?? NaN)}`;
}

function fmtRatio(n: number): string {
  return Number.isFinite(n) ? n.toFixed(3) : "n/a";
}

/** Deliveries per second of server CPU. */
export function perCpuSecond(s: Sample): number {
  return s.value / (s.serverCpuPct / 100);
}

/** Mismatches, lost and errors of `samples`, and the first error, as a sentence ("" if none). */
export function problemsNote(samples: Sample[]): string {
  const n = samples.reduce((a, s) => a + s.mismatches + s.lost + s.errors, 0);
  if (n === 0) return "";
  const first = samples.find((s) => s.errorSample)?.errorSample;
  return ` **${n} problems: the figures do not count.**${first ? ` First: \`${first}\`` : ""}`;
}

/** The samples with their p99 (`extra.p99Us`) as the figure, for a row of the p99. */
export function p99Samples(list: Sample[]): Sample[] {
  return list.map((x) => ({ ...x, value: x.extra.p99Us }));
}
