/**
 * The suite's static-file rows (bench/run.ts): a 10 KiB and a 1 MiB file under wrk at 64 and
 * 16 connections, the project against bench/baseline_static.ts, every body checked first.
 *
 * @module
 */

import { runWrk } from "./loadgen.ts";
import { processTree, type ServerProcess } from "./procs.ts";
import { fmt, type Row } from "./report.ts";
import { generator, otherRounds, seconds, standIn, wanted, warmup } from "./_run_config.ts";
import {
  baselineStaticCmd,
  compare,
  files,
  oneAfterTheOther,
  type Pair,
  projectCmd,
  start,
} from "./_servers.ts";

/** Files a static server answered wrongly (status, length or bytes), by file name. */
async function wrongBodies(
  server: ServerProcess,
  contents: Record<string, Uint8Array>,
): Promise<string[]> {
  const wrong: string[] = [];
  for (const [name, bytes] of Object.entries(contents)) {
    const res = await fetch(`http://127.0.0.1:${server.port}/${name}`);
    const body = new Uint8Array(await res.arrayBuffer());
    if (
      res.status !== 200 || body.length !== bytes.length || !body.every((b, i) => b === bytes[i])
    ) {
      wrong.push(`${name}: HTTP ${res.status}, ${body.length} bytes`);
    }
  }
  return wrong;
}

/** The static-file rows (targets): wrk against the project and bench/baseline_static.ts. */
export async function staticSection(
  rows: Row[],
  contents: Record<string, Uint8Array>,
): Promise<void> {
  const cases = [
    { id: "static-10k-64", file: files.small, conns: 64, label: "10 KiB", target: 3 },
    { id: "static-10k-16", file: files.small, conns: 16, label: "10 KiB", target: 3 },
    { id: "static-1m-64", file: files.large, conns: 64, label: "1 MiB", target: 1 },
    { id: "static-1m-16", file: files.large, conns: 16, label: "1 MiB", target: 1 },
  ].filter((c) => wanted(c.id));
  // Both servers of every round must serve the exact bytes before their speed counts.
  const wrong = new Map<ServerProcess, string[]>();
  const startPair = async (): Promise<Pair> => {
    const pair = {
      project: await start("project", standIn ? baselineStaticCmd : projectCmd),
      baseline: await start("baseline-static", baselineStaticCmd),
    };
    for (const server of [pair.project, pair.baseline]) {
      wrong.set(server, await wrongBodies(server, contents));
    }
    return pair;
  };
  for (const c of cases) {
    const samples = await compare(c.id, {
      count: otherRounds,
      startPair,
      runRound: oneAfterTheOther(async (_side, server) => {
        const s = await runWrk(generator, {
          url: `http://127.0.0.1:${server!.port}/${c.file}`,
          conns: c.conns,
          seconds,
          warmupSeconds: warmup,
          pids: processTree(server!.pid),
        });
        const bad = (wrong.get(server!) ?? []).filter((w) => w.startsWith(c.file));
        if (bad.length) {
          s.mismatches += bad.length;
          s.errorSample ??= `wrong body: ${bad.join("; ")}`;
        }
        return s;
      }),
      show: (x) => `${fmt(x.value)} req/s`,
    });
    rows.push({
      scenario: `Static ${c.label} file, wrk ${c.conns} conns`,
      metric: "requests/s",
      better: "higher",
      perCpu: true,
      target: { op: ">=", ratio: c.target },
      ...samples,
    });
  }
}
