/**
 * What a {@linkcode WebSocketSession} is told when it is made: its limits (defaults from the
 * server's settings), its identity for the log, and who watches it.
 *
 * @module
 */

import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { CloseInfo } from "./close.ts";
import type { DrainActivity } from "./drain.ts";
import type { SocketLifecycle } from "./socket_lifecycle.ts";
import type { TopicRegistry } from "../topics/registry.ts";

export type { DrainActivity };

/** A session's limits and timeouts; the server passes its settings. */
export interface SessionLimits {
  /** Default read timeout in milliseconds; `0` means none. @default {0} */
  readTimeoutMs?: number;
  /** Largest message accepted; a larger one closes the session with 1009. @default {16777216} */
  maxMessageBytes?: number;
  /**
   * Largest send buffer (bytes handed to the socket but not yet written) before the session
   * is closed with 1008, for a peer that does not read. @default {16777216}
   */
  maxSendBufferBytes?: number;
  /**
   * Largest total of received messages the handler has not read yet before the session is
   * closed with 1008. @default {2 * maxMessageBytes}
   */
  maxReadQueueBytes?: number;
  /**
   * Sends wait while the send buffer is above this many bytes (at most half of
   * `maxSendBufferBytes`). @default {1048576}
   */
  sendHighWaterMarkBytes?: number;
  /**
   * Milliseconds a close this side sent may wait for the peer's answer before the connection
   * is ended (a peer that stops reading never gets the frame, queued behind what it did not
   * read). @default {10000}
   */
  closeTimeoutMs?: number;
}

/** Options for {@linkcode WebSocketSession}. */
export interface WebSocketSessionOptions extends SessionLimits {
  /** Session id used in log lines. @default {a counter of this module} */
  id?: number;
  /** The negotiated subprotocol. @default {""} */
  protocol?: string;
  /** The peer's address as `host:port`, for log lines. @default {""} */
  remoteAddress?: string;
  /** Counters to update. @default {undefined} */
  metrics?: Metrics;
  /** Where session lines go. @default {undefined} */
  logger?: Logger;
  /** Told when the session opens and when it closes. @default {undefined} */
  observer?: SessionObserver;
  /** The server's TCP port, so an abort can find the connection and reset it. @default {0} (drop only) */
  localPort?: number;
  /** The peer's TCP port. @default {0} (unknown) */
  remotePort?: number;
  /** The server's topics, for `subscribe` and `publish`. @default {undefined} (none) */
  topics?: TopicRegistry;
}

/** Options for {@linkcode WebSocketSession.closeWhenDrained}. */
export interface DrainOptions {
  /** Longest time messages still arriving are taken on. @default {1000} */
  graceMs?: number;
  /**
   * Shared by the sessions of one shutdown: none closes while any of them still receives.
   * @default {this session's own}
   */
  activity?: DrainActivity;
}

/**
 * The owner of sessions (the upgrader): told when each opens and closes. One observer serves
 * every session, so an idle session costs no callbacks or promises of its own.
 */
export interface SessionObserver {
  /** The session is open: its handler may start. */
  sessionOpened(session: SocketLifecycle): void;
  /** The session has closed (or failed to open). */
  sessionClosed(session: SocketLifecycle, info: CloseInfo): void;
}

/** The default send high-water mark. */
export const DEFAULT_SEND_HIGH_WATER_MARK_BYTES: number = 1024 * 1024;
