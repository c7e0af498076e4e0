/**
 * The message-size limit holds while a fragmented message is still arriving (issue #13): Deno
 * would reassemble all of it first, so the server watches the bytes each connection received
 * (Linux `TCP_INFO`) and resets the one past the limit. On the real process.
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodeClientFrame, Opcode, patternBytes, rawWebSocket } from "./_helpers.ts";
import { spawnServer, writeAll } from "./_process.ts";

/** A frame header with the mask bit and an all-zero mask key (so the payload goes as it is). */
function fragmentHeader(opcode: number, length: number, fin: boolean): Uint8Array {
  const header = new Uint8Array(14);
  header[0] = (fin ? 0x80 : 0) | opcode;
  header[1] = 0x80 | 127;
  new DataView(header.buffer).setBigUint64(2, BigInt(length));
  return header; // bytes 10-13: the mask key, zero
}

async function peakRss(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("cat", { args: [`/proc/${pid}/status`] }).output();
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(new TextDecoder().decode(stdout))![1]) * 1024;
}

Deno.test("a fragmented message past --max-message-size is stopped while it arrives, not after Deno buffered it whole", async () => {
  await using server = await spawnServer(["--max-message-size=4MiB"]);
  const before = await peakRss(server.child.pid);
  const { conn } = await rawWebSocket(server.port);
  const chunk = patternBytes(1024 * 1024);
  const FRAGMENTS = 256; // 256 MiB in all
  let sent = 0;
  try {
    for (let i = 0; i < FRAGMENTS; i++) {
      const opcode = i === 0 ? Opcode.Binary : 0;
      await writeAll(conn, fragmentHeader(opcode, chunk.length, i === FRAGMENTS - 1));
      await writeAll(conn, chunk);
      sent++;
      // About 200 MiB/s, a fast real link: at loopback speed Deno reassembles without yielding
      // to the event loop, and nothing in JavaScript can look before the message is complete.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  } catch {
    // The reset: the server stopped the message.
  }
  const [line] = await server.waitFor(/ session\.close /);
  const peak = await peakRss(server.child.pid);
  const mib = (n: number) => Math.round(n / 1024 / 1024);
  console.log(`    ${sent} of ${FRAGMENTS} MiB sent; peak RSS ${mib(before)} → ${mib(peak)} MiB`);
  assert.ok(sent < FRAGMENTS, "the whole message went through");
  assert.match(line, / code=1006 .*close_sent=1009 aborted=reset/);
  assert.ok(
    server.text().some((l) => / session\.limit .*limit=max_message_bytes in_progress=\d+/.test(l)),
  );
  // Deno alone would hold about twice the message (512 MiB) at its peak.
  assert.ok(peak - before < 160 * 1024 * 1024, `peak grew ${mib(peak - before)} MiB`);
  // The server goes on serving: a new session echoes.
  const fresh = await rawWebSocket(server.port);
  await writeAll(fresh.conn, encodeClientFrame(Opcode.Text, new TextEncoder().encode("ok")));
  const echo = await fresh.frames.next();
  assert.equal(new TextDecoder().decode(echo!.payload), "ok");
  fresh.conn.close();
  try {
    conn.close();
  } catch {
    // Already reset.
  }
});
