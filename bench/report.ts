/**
 * Turns the benchmark samples into the Markdown report: one row per figure
 * with project, baseline, ratio, target and pass/fail, the CPU use of server
 * and generator beside every figure, and every round in an appendix.
 *
 * @module
 */

import type { Sample } from "./loadgen.ts";

/** One figure compared between the project and its baseline. */
export interface Row {
  /** Scenario, e.g. "Echo 64 conns × 32 B text". */
  scenario: string;
  /** Figure name with unit, e.g. "msgs/s". */
  metric: string;
  /** Whether a higher or a lower figure is better. */
  better: "higher" | "lower";
  /** Target on project/baseline, e.g. { op: ">=", ratio: 0.97 }. */
  target: { op: ">=" | "<="; ratio: number };
  /**
   * True for rates that the server's CPU bounds: they are compared per second of server CPU,
   * which other processes taking turns on the server core barely move. Every row is judged
   * round by round (each round's two runs are neighbours in time) and the median over rounds
   * taken; the raw best-of-rounds ratio is shown beside it.
   */
  perCpu?: boolean;
  /** One sample per round. */
  project: Sample[];
  baseline: Sample[];
}

/** Free-form section appended to the report (multi-core, notes). */
export interface Section {
  title: string;
  body: string;
}

/** Everything the report needs. */
export interface Report {
  title: string;
  /** Lines of the "Machine and versions" list. */
  machine: string[];
  /** Lines of the "How it was measured" list. */
  method: string[];
  rows: Row[];
  sections: Section[];
  totalSeconds: number;
}

/** The median of the finite values, NaN if none. */
export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** The best sample of the rounds (highest or lowest value), or undefined if all failed. */
export function best(samples: Sample[], better: "higher" | "lower"): Sample | undefined {
  const ok = samples.filter((s) => Number.isFinite(s.value));
  ok.sort((a, b) => better === "higher" ? b.value - a.value : a.value - b.value);
  return ok[0];
}

/** Formats a figure with thousands separators and sensible precision. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  const digits = Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2;
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** Formats a ratio with three decimals, so a pass/fail at the threshold is visible. */
function fmtRatio(n: number): string {
  return Number.isFinite(n) ? n.toFixed(3) : "n/a";
}

function pct(n: number): string {
  return Number.isFinite(n) ? `${Math.round(n)}%` : "n/a";
}

function problems(samples: Sample[]): string[] {
  const out: string[] = [];
  const sum = (k: "mismatches" | "lost" | "errors") => samples.reduce((a, s) => a + s[k], 0);
  if (sum("mismatches")) out.push(`${sum("mismatches")} mismatches`);
  if (sum("lost")) out.push(`${sum("lost")} lost`);
  if (sum("errors")) out.push(`${sum("errors")} errors`);
  return out;
}

/** Which side limited a run: the server core, the generator core, or neither. */
function limit(s: Sample | undefined): string {
  if (!s) return "n/a";
  if (s.serverCpuPct >= 90) return "server";
  if (s.genCpuPct >= 90) return "generator";
  return "neither";
}

/**
 * Evaluates a row: the raw ratio of the best rounds (shown for reference) and the judged
 * ratio, project / baseline within each round (per server CPU-second for rows with `perCpu`),
 * median over rounds; and whether the target is met.
 */
export function evaluate(
  row: Row,
): { ratio: number; judged: number; pass: boolean; why: string[] } {
  const p = best(row.project, row.better);
  const b = best(row.baseline, row.better);
  const ratio = p && b ? p.value / b.value : NaN;
  const judged = pairedRatio(row.project, row.baseline, row.perCpu ? perCpu : (s) => s.value);
  const why = [
    ...problems(row.project).map((x) => `project: ${x}`),
    ...problems(row.baseline).map((x) => `baseline: ${x}`),
  ];
  const meets = row.target.op === ">=" ? judged >= row.target.ratio : judged <= row.target.ratio;
  return { ratio, judged, pass: Number.isFinite(judged) && meets && why.length === 0, why };
}

/** Value per server CPU-second. */
function perCpu(sample: Sample): number {
  return sample.value / (sample.serverCpuPct / 100);
}

/**
 * Median over rounds of project / baseline, each round's pair compared with each other: a
 * slow stretch of the machine then moves both sides of a pair, not just one.
 */
export function pairedRatio(
  project: Sample[],
  baseline: Sample[],
  figure: (sample: Sample) => number,
): number {
  const rounds = Math.min(project.length, baseline.length);
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) ratios.push(figure(project[i]) / figure(baseline[i]));
  return median(ratios);
}

function cell(samples: Sample[], better: "higher" | "lower"): string {
  const b = best(samples, better);
  return b ? `${fmt(b.value)} (${fmt(median(samples.map((s) => s.value)))})` : "n/a";
}

function cpu(samples: Sample[], better: "higher" | "lower"): string {
  const b = best(samples, better);
  return b ? `${pct(b.serverCpuPct)} / ${pct(b.genCpuPct)} (${limit(b)})` : "n/a";
}

/** Renders the report as Markdown. */
export function renderReport(report: Report): string {
  const out: string[] = [`# ${report.title}`, "", "## Machine and versions", ""];
  out.push(...report.machine.map((l) => `- ${l}`), "", "## How it was measured", "");
  out.push(...report.method.map((l) => `- ${l}`), "", "## Results", "");
  if (report.rows.length === 0) {
    // A run of informational sections only (`--only=backplane`): no target table.
    out.push("No target rows in this run (`--only`).", "");
    for (const section of report.sections) {
      out.push(`## ${section.title}`, "", section.body.trimEnd(), "");
    }
    out.push(`Total run time: ${fmt(report.totalSeconds)} s.`, "");
    return out.join("\n");
  }
  out.push(
    "| Scenario | Metric | Project best (median) | Baseline best (median) | P/B best | P/B judged: paired by round, median | Target | Result | Project CPU srv / gen (limit) | Baseline CPU srv / gen (limit) |",
    "|---|---|--:|--:|--:|--:|--:|:-:|--:|--:|",
  );
  let passed = 0;
  const notes: string[] = [];
  for (const row of report.rows) {
    const { ratio, judged, pass, why } = evaluate(row);
    if (pass) passed++;
    if (why.length) notes.push(`- ${row.scenario} / ${row.metric}: ${why.join(", ")}`);
    const errorSample = [...row.project, ...row.baseline].find((s) => s.errorSample)?.errorSample;
    if (errorSample) notes.push(`  - first error: \`${errorSample.replaceAll("`", "'")}\``);
    const raw = fmtRatio(ratio);
    const paired = `**${fmtRatio(judged)}**${row.perCpu ? " per CPU-s" : ""}`;
    out.push(
      `| ${row.scenario} | ${row.metric} | ${cell(row.project, row.better)} | ${
        cell(row.baseline, row.better)
      } | ${raw} | ${paired} | ${row.target.op} ${row.target.ratio} | ${
        pass ? "PASS" : "**FAIL**"
      } | ${cpu(row.project, row.better)} | ${cpu(row.baseline, row.better)} |`,
    );
  }
  out.push("", `**${passed} of ${report.rows.length} targets met.**`, "");
  if (notes.length) out.push("Errors and mismatches (any is a failure):", "", ...notes, "");
  for (const section of report.sections) {
    out.push(`## ${section.title}`, "", section.body.trimEnd(), "");
  }
  out.push("## Every round", "");
  out.push(
    "| Scenario | Metric | Server | Round | Value | Server CPU | Gen CPU | Core busy (all processes) | Errors |",
    "|---|---|---|--:|--:|--:|--:|---|---|",
  );
  for (const row of report.rows) {
    for (const [side, samples] of [["project", row.project], ["baseline", row.baseline]] as const) {
      samples.forEach((s, i) => {
        const errs = [
          s.mismatches && `${s.mismatches} mism.`,
          s.lost && `${s.lost} lost`,
          s.errors &&
          `${s.errors} err.`,
        ].filter(Boolean).join(", ");
        out.push(
          `| ${row.scenario} | ${row.metric} | ${side} | ${i + 1} | ${fmt(s.value)} | ${
            pct(s.serverCpuPct)
          } | ${pct(s.genCpuPct)} | ${s.coreBusyPct.map(pct).join(" / ")} | ${errs || "0"} |`,
        );
      });
    }
  }
  out.push("", `Total run time: ${fmt(report.totalSeconds)} s.`, "");
  return out.join("\n");
}
