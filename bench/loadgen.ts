/**
 * Runs the Go WebSocket load generator (bench/loadgen) and wrk, pinned to
 * the generator core, and returns their figures together with the CPU use of
 * the server and of the generator over the measured window.
 *
 * @module
 */

import { childrenCpuSeconds, coreBusyPct, coreJiffies, cpuSeconds } from "./procs.ts";

/** One measured run of one scenario against one server. */
export interface Sample {
  /** Main figure: msgs/s, handshakes/s, requests/s, µs or bytes per session. */
  value: number;
  /** Named secondary figures (p99Us, bytesPerSec, ...). */
  extra: Record<string, number>;
  /** Server CPU use over the window, percent of one core. */
  serverCpuPct: number;
  /** Generator (loadgen or wrk) CPU use over the window, percent of one core. */
  genCpuPct: number;
  /** How busy each core was over the window, all processes included. */
  coreBusyPct: number[];
  /** Echoes that differed from what was sent (or bodies that differ, for static). */
  mismatches: number;
  /** Messages sent but never echoed back. */
  lost: number;
  /** Transport errors (connect, read, write, non-2xx). */
  errors: number;
  /** First error message, if any. */
  errorSample?: string;
}

/** Result JSON printed by bench/loadgen (see its doc comment). */
export interface LoadgenResult {
  mode: string;
  seconds: number;
  count: number;
  rate: number;
  bytesPerSec: number;
  mismatches: number;
  lost: number;
  errors: number;
  errorSample?: string;
  p50Us?: number;
  p90Us?: number;
  p99Us?: number;
  maxUs?: number;
  meanUs?: number;
  opened?: number;
  /** Fan-out: messages the publisher sent, and the subscribers each went to. */
  published?: number;
  subscribers?: number;
  serverCpuPct: number;
  genCpuPct: number;
  coreBusyPct: number[];
}

/** Where and how the generator runs. */
export interface GeneratorSetup {
  /** Path of the built bench/loadgen binary. */
  loadgen: string;
  /** taskset core list for the generator, e.g. "1". */
  core: string;
}

let sourceBlock = 0;

/** Next source-address block for loadgen's `-src` (spreads ephemeral ports). */
function nextSource(): string {
  sourceBlock = (sourceBlock + 1) % 3;
  return String(2 + sourceBlock * 64);
}

/** Starts loadgen on the generator core with `flags`; it is killed if it outlives `timeoutMs`. */
function spawnLoadgen(
  setup: GeneratorSetup,
  flags: string[],
  stdin: "null" | "piped",
  timeoutMs: number,
): { child: Deno.ChildProcess; timer: ReturnType<typeof setTimeout> } {
  const child = new Deno.Command("taskset", {
    args: ["-c", setup.core, setup.loadgen, ...flags],
    stdin,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  return { child, timer };
}

/** One run of loadgen: its result, or null and why. */
export interface LoadgenRun {
  result: LoadgenResult | null;
  stderr: string;
}

/** Runs loadgen once with `args` and parses the JSON object it prints last. */
async function runLoadgenJson<T>(
  setup: GeneratorSetup,
  args: Record<string, string | number>,
  timeoutMs: number,
): Promise<{ result: T | null; stderr: string }> {
  const flags = Object.entries({ ...args, src: nextSource() }).map(([k, v]) => `-${k}=${v}`);
  const { child, timer } = spawnLoadgen(setup, flags, "null", timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const stdout = new TextDecoder().decode(out.stdout).trim().split("\n");
  const stderr = new TextDecoder().decode(out.stderr).trim();
  try {
    return { result: JSON.parse(stdout[stdout.length - 1]) as T, stderr };
  } catch {
    return { result: null, stderr: stderr || `loadgen exited with ${out.code}` };
  }
}

/**
 * Runs loadgen once in a non-interactive mode (throughput, latency,
 * handshake) with `args` (flag name -> value, without the dash). Never
 * throws: a failed run comes back as a sample with errors.
 */
export function runLoadgen(
  setup: GeneratorSetup,
  args: Record<string, string | number>,
  timeoutMs: number,
): Promise<LoadgenRun> {
  return runLoadgenJson<LoadgenResult>(setup, args, timeoutMs);
}

/** Result JSON of loadgen taking turns between two servers (`-url2`). */
export interface InTurnsResult {
  mode: string;
  sliceSeconds: number;
  /** Each server's windows summed up: [0] is `url`, [1] is `url2`. */
  targets: [LoadgenResult, LoadgenResult];
}

/**
 * Runs loadgen against two servers in turns: `args.url` and `args.url2` take windows of
 * `args.slice` one after the other (see bench/loadgen/measure.go), and each comes back as
 * its own run, `[url, url2]`. Never throws.
 */
export async function runLoadgenInTurns(
  setup: GeneratorSetup,
  args: Record<string, string | number>,
  timeoutMs: number,
): Promise<[LoadgenRun, LoadgenRun]> {
  const { result, stderr } = await runLoadgenJson<InTurnsResult>(setup, args, timeoutMs);
  return [
    { result: result?.targets[0] ?? null, stderr },
    { result: result?.targets[1] ?? null, stderr },
  ];
}

/** Converts a loadgen result into a sample whose main figure is `value`. */
export function toSample(
  run: LoadgenRun,
  value: (r: LoadgenResult) => number,
  extra: (r: LoadgenResult) => Record<string, number> = () => ({}),
): Sample {
  const r = run.result;
  if (!r) {
    return {
      value: NaN,
      extra: {},
      serverCpuPct: NaN,
      genCpuPct: NaN,
      coreBusyPct: [],
      mismatches: 0,
      lost: 0,
      errors: 1,
      errorSample: run.stderr.slice(0, 300),
    };
  }
  return {
    value: value(r),
    extra: extra(r),
    serverCpuPct: r.serverCpuPct,
    genCpuPct: r.genCpuPct,
    coreBusyPct: r.coreBusyPct,
    mismatches: r.mismatches,
    lost: r.lost,
    errors: r.errors,
    errorSample: r.errorSample,
  };
}

/**
 * Runs loadgen's idle mode: opens `sessions` sessions to `url` and returns
 * the server's RSS growth per session (bytes), from VmRSS before and after.
 * `readRss` reads the server's RSS.
 */
export async function runIdle(
  setup: GeneratorSetup,
  options: {
    url: string;
    sessions: number;
    pids: number[];
    readRss: () => number;
    timeoutMs: number;
  },
): Promise<Sample> {
  const { child, timer } = spawnLoadgen(
    setup,
    [
      "-mode=idle",
      `-url=${options.url}`,
      `-conns=${options.sessions}`,
      `-pids=${options.pids.join(",")}`,
      `-src=${nextSource()}`,
    ],
    "piped",
    options.timeoutMs,
  );
  const stderrText = new Response(child.stderr).text();
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  async function nextLine(): Promise<string | null> {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) return null;
      buffered += value;
    }
    const i = buffered.indexOf("\n");
    const line = buffered.slice(0, i);
    buffered = buffered.slice(i + 1);
    return line;
  }
  const settle = () => new Promise((r) => setTimeout(r, 1000));
  let before = 0, after = 0, opened = 0;
  let failure = "";
  try {
    if ((await nextLine()) !== "WARM") throw new Error("loadgen did not warm up");
    await settle();
    before = options.readRss();
    await writer.write(new TextEncoder().encode("open\n"));
    const ready = await nextLine();
    if (!ready?.startsWith("READY ")) throw new Error("loadgen did not open the sessions");
    opened = Number(ready.slice(6));
    await settle();
    after = options.readRss();
    await writer.write(new TextEncoder().encode("close\n"));
  } catch (e) {
    failure = (e as Error).message;
  }
  await writer.close().catch(() => {});
  let resultLine = "";
  for (let line = await nextLine(); line !== null; line = await nextLine()) resultLine = line;
  await child.status;
  clearTimeout(timer);
  const stderr = (await stderrText).trim();
  let result: LoadgenResult | null = null;
  try {
    result = JSON.parse(resultLine) as LoadgenResult;
  } catch { /* reported below */ }
  if (failure || !result || opened === 0) {
    return toSample({ result: null, stderr: `${failure} ${stderr}`.trim() }, () => NaN);
  }
  const sample = toSample({ result, stderr }, () => (after - before) / opened, () => ({
    rssBeforeBytes: before,
    rssAfterBytes: after,
    opened,
  }));
  if (opened < options.sessions) {
    sample.errors += options.sessions - opened;
  }
  return sample;
}

/** Parses wrk's human output into requests/s, bytes/s and error counts. */
function parseWrk(text: string): { rps: number; bytesPerSec: number; errors: number } {
  const rps = Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN);
  const transfer = text.match(/Transfer\/sec:\s+([\d.]+)([KMG]?)B/);
  const unit = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[transfer?.[2] ?? ""] ?? 1;
  const bytesPerSec = transfer ? Number(transfer[1]) * unit : NaN;
  let errors = Number(text.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0);
  const socket = text.match(
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/,
  );
  if (socket) errors += socket.slice(1).reduce((a, b) => a + Number(b), 0);
  return { rps, bytesPerSec, errors };
}

/**
 * Runs wrk (one thread, pinned to the generator core) for `seconds` after a
 * warm-up of `warmupSeconds` and returns requests/s. wrk's CPU use is this process's
 * reaped-children CPU delta, the server's is read from /proc around the run.
 */
export async function runWrk(
  setup: GeneratorSetup,
  options: { url: string; conns: number; seconds: number; warmupSeconds: number; pids: number[] },
): Promise<Sample> {
  const wrk = (seconds: number) =>
    new Deno.Command("taskset", {
      args: [
        "-c",
        setup.core,
        "wrk",
        "-t1",
        `-c${options.conns}`,
        `-d${seconds}s`,
        "--timeout",
        "5s",
        options.url,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  await wrk(options.warmupSeconds);
  const cores0 = coreJiffies();
  const server0 = cpuSeconds(options.pids);
  const children0 = childrenCpuSeconds();
  const t0 = performance.now();
  const out = await wrk(options.seconds);
  const elapsed = (performance.now() - t0) / 1000;
  const server = cpuSeconds(options.pids) - server0;
  const gen = childrenCpuSeconds() - children0;
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const parsed = parseWrk(text);
  return {
    value: parsed.rps,
    extra: { bytesPerSec: parsed.bytesPerSec },
    serverCpuPct: (server / elapsed) * 100,
    genCpuPct: (gen / elapsed) * 100,
    coreBusyPct: coreBusyPct(cores0, coreJiffies()),
    mismatches: 0,
    lost: 0,
    errors: parsed.errors + (out.success ? 0 : 1),
    errorSample: out.success && parsed.errors === 0 ? undefined : text.slice(-300),
  };
}
