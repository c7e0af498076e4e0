/**
 * Shows what the server allocates per operation under one load: V8's sampling
 * heap profiler (through the inspector) counts every sampled allocation,
 * including objects the young-generation GC has already freed, and this
 * prints bytes per operation by the function that allocated them.
 *
 * ```sh
 * deno run -A bench/alloc.ts --mode=handshake|echo [--seconds=3] [--baseline]
 * ```
 *
 * `echo` drives 64 connections × 32-byte text (window 128); `handshake`
 * drives 16 workers opening and closing sessions. `--baseline` measures
 * bench/baseline_echo.ts instead, for comparison. Needs the generator built
 * by `bash bench/run.sh`.
 *
 * @module
 */

import { flag, repo, startInspected } from "./procs.ts";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface SamplingNode {
  callFrame: CallFrame;
  selfSize: number;
  children: SamplingNode[];
}

const mode = flag("mode", "handshake");
const seconds = Number(flag("seconds", "3"));
const baseline = flag("baseline", "false") === "true";
const loadgen = flag("loadgen", `${repo}/.cache/bench/loadgen`);

/** One inspector session over its WebSocket: `call` sends a method and awaits its result. */
async function inspector(port: number) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve) => socket.onopen = resolve);
  const pending = new Map<number, (result: unknown) => void>();
  socket.onmessage = (e) => {
    const message = JSON.parse(e.data);
    if (message.id) pending.get(message.id)?.(message.result);
  };
  let nextId = 0;
  return {
    call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      const id = ++nextId;
      const result = new Promise<T>((resolve) => pending.set(id, resolve as (r: unknown) => void));
      socket.send(JSON.stringify({ id, method, params }));
      return result;
    },
    close: () => socket.close(),
  };
}

function label(frame: CallFrame): string {
  const file = frame.url.replace(`file://${repo}/`, "").replace(/^.*\/(ext)\//, "$1/");
  return `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
}

async function main(): Promise<void> {
  const { server, port, inspectPort } = await startInspected("alloc", baseline);
  const session = await inspector(inspectPort);
  try {
    await session.call("HeapProfiler.enable");
    await session.call("HeapProfiler.startSampling", {
      samplingInterval: 256,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    const load = mode === "handshake"
      ? ["-mode=handshake", "-conns=16"]
      : ["-mode=throughput", "-conns=64", "-size=32", "-type=text", "-window=128"];
    const out = await new Deno.Command("taskset", {
      args: [
        "-c",
        "1",
        loadgen,
        ...load,
        `-url=ws://127.0.0.1:${port}/echo`,
        "-warmup=0s",
        `-duration=${seconds}s`,
      ],
      stdout: "piped",
    }).output();
    const { count } = JSON.parse(new TextDecoder().decode(out.stdout));
    const { profile } = await session.call<{ profile: { head: SamplingNode } }>(
      "HeapProfiler.stopSampling",
    );
    const bytes = new Map<string, number>();
    let total = 0;
    const walk = (node: SamplingNode) => {
      const key = label(node.callFrame);
      bytes.set(key, (bytes.get(key) ?? 0) + node.selfSize);
      total += node.selfSize;
      node.children.forEach(walk);
    };
    walk(profile.head);
    console.log(
      `${baseline ? "baseline" : "project"} ${mode}: ${count} operations, ${
        (total / count).toFixed(0)
      } sampled bytes per operation`,
    );
    for (const [key, size] of [...bytes].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
      console.log(`${(size / count).toFixed(0).padStart(8)}  ${key}`);
    }
  } finally {
    session.close();
    await server.stop(5000);
  }
}

await main();
