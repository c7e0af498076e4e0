/**
 * Process helpers for the benchmark runner: start a server pinned to a core
 * and wait until it accepts connections, stop it, and read CPU and memory
 * figures from /proc.
 *
 * @module
 */

/** A server process started by the runner. */
export interface ServerProcess {
  /** Short label used in logs, e.g. "project". */
  name: string;
  /** Port on 127.0.0.1. */
  port: number;
  /** PID of the server process (taskset execs, so this is the server itself). */
  pid: number;
  /** Resolves when the process has exited. */
  status: Promise<Deno.CommandStatus>;
  /** The last output lines (stdout and stderr), for error messages. */
  output(): string;
  /** Sends SIGTERM, then SIGKILL after `graceMs` (default 3000), and waits for exit. */
  stop(graceMs?: number): Promise<void>;
}

/** Every process started through {@linkcode startServer} that has not been stopped. */
const running = new Set<ServerProcess>();

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function drain(stream: ReadableStream<Uint8Array>, sink: string[]): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    sink.push(decoder.decode(chunk, { stream: true }));
    if (sink.length > 200) sink.splice(0, sink.length - 100);
  }
}

/**
 * Starts `cmd` pinned to `core` with `taskset` and resolves once
 * 127.0.0.1:`port` accepts a TCP connection (at most `readyTimeoutMs`,
 * default 30000).
 */
export async function startServer(
  name: string,
  options: {
    cmd: string[];
    port: number;
    core: string;
    cwd?: string;
    readyTimeoutMs?: number;
  },
): Promise<ServerProcess> {
  const child = new Deno.Command("taskset", {
    args: ["-c", options.core, ...options.cmd],
    cwd: options.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { DENO_NO_UPDATE_CHECK: "1" },
  }).spawn();
  const lines: string[] = [];
  const drained = Promise.all([drain(child.stdout, lines), drain(child.stderr, lines)]);
  let exited = false;
  const status = child.status.then(async (s) => {
    exited = true;
    await drained.catch(() => {});
    return s;
  });
  const server: ServerProcess = {
    name,
    port: options.port,
    pid: child.pid,
    status,
    output: () => lines.join("").slice(-4000),
    async stop(graceMs = 3000) {
      running.delete(server);
      if (exited) return;
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, graceMs);
      await status;
      clearTimeout(timer);
    },
  };
  running.add(server);
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30000);
  while (true) {
    if (exited) {
      await status;
      throw new Error(`${name} exited before listening:\n${server.output()}`);
    }
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: options.port });
      conn.close();
      return server;
    } catch {
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(`${name} did not listen on port ${options.port}:\n${server.output()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Stops every server that is still running (for `finally` and signal handlers). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop(1000)));
}

function statFields(path: string): string[] | null {
  try {
    const s = Deno.readTextFileSync(path);
    return s.slice(s.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** CPU time (utime + stime) of the processes `pids`, in seconds (USER_HZ = 100). */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const f = statFields(`/proc/${pid}/stat`);
    if (f) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / 100;
}

/**
 * CPU time of this process's reaped children (cutime + cstime), in seconds:
 * the delta around one awaited child is that child's CPU use.
 */
export function childrenCpuSeconds(): number {
  const f = statFields("/proc/self/stat");
  return f ? (Number(f[13]) + Number(f[14])) / 100 : 0;
}

/** `pid` and all its descendants (for servers that fork workers). */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const f = statFields(`/proc/${entry.name}/stat`);
    if (!f) continue;
    const ppid = Number(f[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry.name)]);
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(parents.get(out[i]) ?? []));
  return out;
}

/** Resident set size of `pid` in bytes (VmRSS of /proc/PID/status). */
export function rssBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = status.match(/^VmRSS:\s+(\d+) kB/m);
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}

/** Per-core [busy, total] jiffies from /proc/stat. */
export function coreJiffies(): [number, number][] {
  const out: [number, number][] = [];
  for (const line of Deno.readTextFileSync("/proc/stat").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (!/^cpu\d+$/.test(f[0])) continue;
    const v = f.slice(1, 9).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    out.push([total - v[3] - v[4], total]);
  }
  return out;
}

/** Percent busy per core between two {@linkcode coreJiffies} samples. */
export function coreBusyPct(before: [number, number][], after: [number, number][]): number[] {
  return after.map(([busy, total], i) => {
    const dt = total - (before[i]?.[1] ?? 0);
    return dt > 0 ? ((busy - (before[i]?.[0] ?? 0)) / dt) * 100 : 0;
  });
}

/** The repository root (no trailing slash). */
export const repo: string = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The value of `--name=value` (or `"true"` for a bare `--name`) among the arguments, else `fallback`. */
export function flag(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  const hit = Deno.args.find((a) => a === `--${name}` || a.startsWith(prefix));
  if (hit === undefined) return fallback;
  return hit.startsWith(prefix) ? hit.slice(prefix.length) : "true";
}

/**
 * The command line of the project's server (or, with `baseline`, bench/baseline_echo.ts) on
 * 127.0.0.1:`port`, with `denoFlags` for `deno run` (an inspector, say).
 */
export function echoServerCmd(baseline: boolean, port: number, denoFlags: string[] = []): string[] {
  const script = baseline ? ["--allow-net", "bench/baseline_echo.ts"] : ["-P", "main.ts"];
  return [
    "deno",
    "run",
    ...denoFlags,
    ...script,
    `--port=${port}`,
    ...(baseline ? [] : ["--hostname=127.0.0.1", "--log-level=warn"]),
  ];
}

/**
 * Starts the project (or, with `baseline`, bench/baseline_echo.ts) on core 0 with V8's
 * inspector open on its own port, for the heap tools (bench/heap.ts, bench/alloc.ts).
 */
export async function startInspected(
  name: string,
  baseline: boolean,
): Promise<{ server: ServerProcess; port: number; inspectPort: number }> {
  const port = freePort();
  const inspectPort = freePort();
  const server = await startServer(name, {
    cmd: echoServerCmd(baseline, port, [`--inspect=127.0.0.1:${inspectPort}`]),
    port,
    core: "0",
    cwd: repo,
  });
  return { server, port, inspectPort };
}
