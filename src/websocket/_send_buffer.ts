/**
 * The slow path of a session's send accounting: a look at the socket's send buffer, made
 * once per 64 KiB sent (the look is a call into the runtime).
 *
 * @module
 */

/** Upper bound of the wait between send-buffer checks while waiting for it to drain. */
const MAX_DRAIN_POLL_MS = 32;

/**
 * Looks at `socket`'s send buffer: `"over"` past `maxBytes` (the peer is not reading at
 * all), a promise that resolves once it is back at `highWaterMark` (or `ended()`) when above
 * it, else `undefined`.
 */
export function checkSendBuffer(
  socket: WebSocket,
  maxBytes: number,
  highWaterMark: number,
  ended: () => boolean,
): "over" | Promise<void> | undefined {
  const buffered = socket.bufferedAmount;
  if (buffered > maxBytes) return "over";
  if (buffered <= highWaterMark) return undefined;
  return drain(socket, highWaterMark, ended);
}

/** Deno's WebSocket has no drain event, so this polls with a short, growing delay. */
async function drain(socket: WebSocket, highWaterMark: number, ended: () => boolean) {
  let delayMs = 1;
  while (!ended() && socket.bufferedAmount > highWaterMark) {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(delayMs * 2, MAX_DRAIN_POLL_MS);
  }
}
