/**
 * Shows what one idle WebSocket session costs in the server's JavaScript
 * heap: opens N idle sessions (bench/loadgen idle mode), takes a V8 heap
 * snapshot before and after through the inspector, and prints the growth per
 * session by object kind, next to the RSS growth.
 *
 * ```sh
 * deno run -A bench/heap.ts [--sessions=2000] [--baseline]
 * ```
 *
 * @module
 */

import { flag, repo, rssBytes, startInspected } from "./procs.ts";

const sessions = Number(flag("sessions", "2000"));
const baseline = flag("baseline", "false") === "true";
const loadgen = flag("loadgen", `${repo}/.cache/bench/loadgen`);

/** Takes a heap snapshot over the inspector and returns self size per "type name". */
async function heapBySize(inspectPort: number): Promise<Map<string, [number, number]>> {
  const targets = await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json();
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((r) => ws.onopen = r);
  const chunks: string[] = [];
  const done = new Promise<void>((resolve) => {
    ws.onmessage = (e) => {
      const msg = JSON.parse(e.data);
      if (msg.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(msg.params.chunk);
      if (msg.id === 1) resolve();
    };
  });
  ws.send(JSON.stringify({ id: 1, method: "HeapProfiler.takeHeapSnapshot", params: {} }));
  await done;
  ws.close();
  const snap = JSON.parse(chunks.join(""));
  const fields: string[] = snap.snapshot.meta.node_fields;
  const types: string[] = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [ti, ni, si] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));
  const out = new Map<string, [number, number]>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + ti]];
    let name = type === "string" || type === "concatenated string" || type === "sliced string"
      ? "(string)"
      : snap.strings[snap.nodes[i + ni]];
    if (type === "code") name = "(code)";
    if (type === "array") name = `(array) ${name}`;
    if (type === "closure") name = `(closure) ${name}`;
    const key = `${type}: ${name}`.slice(0, 90);
    const [count, bytes] = out.get(key) ?? [0, 0];
    out.set(key, [count + 1, bytes + snap.nodes[i + si]]);
  }
  return out;
}

async function main(): Promise<void> {
  const { server, port, inspectPort } = await startInspected("heap", baseline);
  const child = new Deno.Command("taskset", {
    args: [
      "-c",
      "1",
      loadgen,
      "-mode=idle",
      `-url=ws://127.0.0.1:${port}/echo`,
      `-conns=${sessions}`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const writer = child.stdin.getWriter();
  const expect = async (prefix: string) => {
    const { value } = await lines.read();
    if (!value?.startsWith(prefix)) throw new Error(`loadgen said ${value}`);
  };
  try {
    await expect("WARM");
    const before = await heapBySize(inspectPort);
    const rss0 = rssBytes(server.pid);
    await writer.write(new TextEncoder().encode("open\n"));
    await expect("READY");
    await new Promise((r) => setTimeout(r, 1000));
    const after = await heapBySize(inspectPort);
    const rss1 = rssBytes(server.pid);
    await writer.write(new TextEncoder().encode("close\n"));
    await writer.close();
    for (let r = await lines.read(); !r.done; r = await lines.read()) { /* drain */ }
    await child.status;
    const rows = [...after].map(([k, [c, b]]) => {
      const [c0, b0] = before.get(k) ?? [0, 0];
      return { k, count: (c - c0) / sessions, bytes: (b - b0) / sessions };
    }).filter((r) => r.bytes > 4).sort((a, b) => b.bytes - a.bytes);
    const heap = rows.reduce((a, r) => a + r.bytes, 0);
    console.log(
      `${baseline ? "baseline" : "project"}: ${sessions} sessions; RSS +${
        ((rss1 - rss0) / sessions).toFixed(0)
      } B/session (includes snapshot overhead); JS heap +${heap.toFixed(0)} B/session`,
    );
    console.log("  bytes/session  objects/session  kind");
    for (const r of rows.slice(0, 40)) {
      console.log(`${r.bytes.toFixed(0).padStart(15)}  ${r.count.toFixed(2).padStart(15)}  ${r.k}`);
    }
  } finally {
    try {
      child.kill();
    } catch { /* gone */ }
    await server.stop(5000);
  }
}

await main();
