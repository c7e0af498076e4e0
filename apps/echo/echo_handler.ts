/**
 * The echo session handler: Perfect's `EchoHandler`, for text and binary alike.
 *
 * @example
 * ```ts
 * import { EchoHandler } from "./echo_handler.ts";
 * import { WebSocketHandler } from "../../src/websocket/route.ts";
 *
 * const route = new WebSocketHandler((_request, protocols) =>
 *   protocols.includes(EchoHandler.PROTOCOL) ? new EchoHandler() : null
 * );
 * ```
 * @module
 */

import type { SessionRequest, WebSocketSessionHandler } from "../../src/websocket/route.ts";
import type { WebSocketSession } from "../../src/websocket/session.ts";
import { CloseCode } from "../../src/websocket/session.ts";

/** One empty list shared by every handler, not one per session. */
const NO_HEADERS: readonly string[] = Object.freeze([]);

/**
 * Echoes every message with its own kind (text as text, binary as binary, empty ones too)
 * until the peer closes, then closes. A read timeout, if the session has one, ends it with
 * 1000 "read timeout". Without one it uses the session's push mode: a peer that does not read
 * its echoes is closed at the send-buffer limit (1008), as Bun and uWebSockets do.
 */
export class EchoHandler implements WebSocketSessionHandler {
  /** The subprotocol a client must offer: `echo`. */
  static readonly PROTOCOL = "echo";

  /** Always {@linkcode EchoHandler.PROTOCOL}. */
  readonly socketProtocol: string = EchoHandler.PROTOCOL;

  /** Echo reads no request header, so none is kept for the session. */
  readonly requestHeaders: readonly string[] = NO_HEADERS;

  /** Echoes until the session ends. */
  handleSession(_request: SessionRequest, session: WebSocketSession): Promise<void> {
    // Push mode: each message is answered as it arrives, with no promise per message (and no
    // suspended function per idle session), so echo costs next to nothing over raw Deno.
    if (session.readTimeoutMs === 0) {
      return session.echo();
    }
    return this.#echoUntilQuiet(session);
  }

  /** With a read timeout, reads say when the peer has gone quiet. */
  async #echoUntilQuiet(session: WebSocketSession): Promise<void> {
    let message;
    while ((message = await session.readMessage()) !== null) await session.send(message);
    if (session.isConnected) await session.close(CloseCode.Normal, "read timeout");
  }
}

/**
 * The producer for the `/echo` route: an {@linkcode EchoHandler} when the client offered the
 * `echo` subprotocol, otherwise `null` (the handshake is then refused with 400).
 */
export function echoHandlerProducer(
  _request: SessionRequest,
  protocols: string[],
): EchoHandler | null {
  return protocols.includes(EchoHandler.PROTOCOL) ? new EchoHandler() : null;
}
