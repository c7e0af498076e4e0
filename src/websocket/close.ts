/**
 * Close codes this library sends and reports (RFC 6455 §7.4.1), and how a session ended.
 *
 * @example
 * ```ts
 * import { CloseCode } from "./close.ts";
 *
 * console.log(CloseCode.GoingAway); // 1001, what every session gets on shutdown
 * ```
 * @module
 */

/** Close codes this library sends (RFC 6455 §7.4.1). */
export const CloseCode = {
  /** Normal closure. */
  Normal: 1000,
  /** The server is going away (shutting down). */
  GoingAway: 1001,
  /** The peer broke a policy (here: a buffer limit). */
  PolicyViolation: 1008,
  /** A message was too big. */
  MessageTooBig: 1009,
  /** The server hit an unexpected condition (a handler threw). */
  InternalError: 1011,
  /** Reported, never sent: the connection dropped without a close frame. */
  Abnormal: 1006,
} as const;

/** How a session ended. */
export interface CloseInfo {
  /** The close code (1005 when the peer sent none, 1006 when the connection dropped). */
  code: number;
  /** The close reason, possibly empty. */
  reason: string;
  /** True when the closing handshake completed. */
  wasClean: boolean;
  /**
   * The code this side sent when the peer never confirmed it (`code` is then 1006 and `reason`
   * the one sent): the frame may not have reached it. Absent when nothing was sent or the peer
   * answered.
   */
  closeSent?: number;
  /** Set when the close did not complete in time and the connection was ended: how. */
  aborted?: "reset" | "dropped";
}
