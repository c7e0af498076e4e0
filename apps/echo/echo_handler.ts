/**
 * The echo session handler: Perfect's `EchoHandler`, for text and binary alike.
 *
 * @example
 * ```ts
 * import { EchoHandler } from "./echo_handler.ts";
 *
 * const route = { [EchoHandler.PROTOCOL]: () => new EchoHandler() };
 * ```
 * @module
 */

import { CloseCode } from "../../src/mod.ts";
import type { WebSocketSession } from "../../src/mod.ts";

/**
 * Echoes every message with its own kind (text as text, binary as binary, empty ones too)
 * until the peer closes, then closes. A read timeout, if the session has one, ends it with
 * 1000 "read timeout". Without one it listens (push): a peer that does not read its echoes
 * is closed at the send-buffer limit (1008), as Bun and uWebSockets do.
 */
export class EchoHandler {
  /** The subprotocol the echo route speaks: `echo`. */
  static readonly PROTOCOL = "echo";

  /** Echoes until the session ends. */
  handleSession(session: WebSocketSession): Promise<void> {
    // Push: each message is answered as it arrives, with no promise per message (and no
    // suspended function per idle session), so echo costs next to nothing over raw Deno.
    if (session.readTimeoutMs === 0) return session.echo();
    return this.#echoUntilQuiet(session);
  }

  /** With a read timeout, reads say when the peer has gone quiet. */
  async #echoUntilQuiet(session: WebSocketSession): Promise<void> {
    let message;
    while ((message = await session.readMessage()) !== null) await session.send(message.data);
    if (session.isConnected) await session.close(CloseCode.Normal, "read timeout");
  }
}
