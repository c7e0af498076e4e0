/**
 * Closing and aborting a server-side Deno WebSocket, around two gaps of Deno 2.9.6 (details and
 * measurements in bench/README.md, "Runtime limits"):
 *
 * - After `close()`, Deno drops the connection when a message arrives before the peer's close
 *   reply, usually before the close frame is written at all (its close op runs lazily, after the
 *   drop). A peer that is still sending therefore never sees the close. {@linkcode closeSocket}
 *   puts the socket's internal state back to OPEN at once, so Deno keeps reading until the peer
 *   answers; the session ignores what still arrives.
 * - `close()` waits behind every byte already queued, and Deno gives no way to abort: a peer that
 *   stops reading holds its connection and buffers for good. {@linkcode abortSocket} shuts the
 *   TCP socket down (`SO_LINGER` 0, `shutdown`) through libc when FFI is allowed, which fails
 *   Deno's stuck writes and frees everything; without FFI it drops Deno's resource, which ends
 *   the session but leaves a stuck connection to the peer.
 *
 * Both use the internal `[[readyState]]` and `[[rid]]` fields of Deno's WebSocket; when they are
 * missing (another Deno), they fall back to the plain API.
 *
 * @module
 */

import { descriptorOf, resetConnection } from "./_tcp.ts";
import { CloseCode } from "./close.ts";
import type { CloseInfo } from "./close.ts";

// deno-lint-ignore no-explicit-any
type Internals = Record<symbol, any>;

let readyStateKey: symbol | undefined | null;
let ridKey: symbol | undefined | null;

function keyOf(socket: WebSocket, description: string): symbol | null {
  return Object.getOwnPropertySymbols(socket).find((s) => s.description === description) ?? null;
}

/**
 * Sends a close frame and keeps reading until the peer answers it. The caller must not send
 * on the socket again (Deno would take it), and must ignore messages that still arrive.
 */
export function closeSocket(socket: WebSocket, code: number, reason: string): void {
  socket.close(code, reason);
  readyStateKey ??= keyOf(socket, "[[readyState]]");
  if (readyStateKey && socket.readyState === WebSocket.CLOSING) {
    (socket as unknown as Internals)[readyStateKey] = WebSocket.OPEN;
  }
}

/**
 * Ends a socket whose close did not complete: resets its TCP connection when FFI is allowed
 * (Deno's stuck writes fail and free their buffers), else drops Deno's resource. Either way a
 * close event follows. Returns how: `"reset"` or `"dropped"`.
 */
export function abortSocket(
  socket: WebSocket,
  localPort: number,
  remotePort: number,
): "reset" | "dropped" {
  readyStateKey ??= keyOf(socket, "[[readyState]]");
  // CLOSING first: Deno panics on a send or bufferedAmount of an OPEN socket whose resource is gone.
  if (readyStateKey) (socket as unknown as Internals)[readyStateKey] = WebSocket.CLOSING;
  if (localPort && remotePort && resetConnection(descriptorOf(localPort, remotePort))) {
    return "reset";
  }
  ridKey ??= keyOf(socket, "[[rid]]");
  if (ridKey) {
    const internal = (Deno as unknown as Internals)[
      (Deno as unknown as { internal: symbol }).internal
    ];
    internal?.core?.tryClose((socket as unknown as Internals)[ridKey]);
  }
  return "dropped";
}

/**
 * How a session ended, as the wire saw it: a close this side sent counts once the peer
 * answered it (a clean close with a code; Deno reports 1005 when the peer just hangs up),
 * otherwise the connection dropped: 1006.
 */
export function closeInfoOf(
  event: CloseEvent,
  sent: { code: number; reason: string } | undefined,
  aborted: "reset" | "dropped" | undefined,
): CloseInfo {
  const answered = event.wasClean && event.code !== 1005 && event.code !== 0;
  const info: CloseInfo = sent
    ? answered
      ? { code: sent.code, reason: sent.reason, wasClean: true }
      : { code: CloseCode.Abnormal, reason: sent.reason, wasClean: false, closeSent: sent.code }
    : {
      code: event.code === 0 ? CloseCode.Abnormal : event.code,
      reason: event.reason,
      wasClean: event.wasClean,
    };
  if (aborted) info.aborted = aborted;
  return info;
}
