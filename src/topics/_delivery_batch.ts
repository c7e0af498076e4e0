/**
 * The machinery of batched deliveries ({@link ./batching.ts}): one session's messages pending
 * until the end of the turn ({@link ../_turn_clock.ts}).
 *
 * @module
 */

import { reportFailure } from "../_safely.ts";
import { TurnFlusher } from "../_turn_clock.ts";
import { type BatchFormat, DEFAULT_BATCH_LIMITS } from "./batching.ts";

/** Where a batch's frames go. */
export type FrameSink = (frame: string) => void;

/** One session's deliveries pending in this turn. */
export class DeliveryBatch extends TurnFlusher {
  #format: BatchFormat;
  #maxMessages: number;
  #maxBytes: number;
  #send: FrameSink;
  #messages: string[] = [];
  #bytes = 0;

  /** Joins text for `send` by `format` until {@linkcode DeliveryBatch.close}. */
  constructor(format: BatchFormat, send: FrameSink) {
    super();
    this.#format = format;
    this.#maxMessages = Math.max(1, format.maxMessages ?? DEFAULT_BATCH_LIMITS.maxMessages);
    this.#maxBytes = format.maxBytes ?? DEFAULT_BATCH_LIMITS.maxBytes;
    this.#send = send;
  }

  /** Messages waiting for the end of the turn. */
  get pending(): number {
    return this.#messages.length;
  }

  /**
   * Takes `data` to send with the others of this turn, in order; `false` when the caller is to
   * send it now, as itself (what was pending has gone first).
   */
  take(data: string | Uint8Array | ArrayBuffer, bytes: number): boolean {
    if (this.firstOfQuietTurn()) return false;
    if (typeof data !== "string" || bytes > this.#maxBytes) {
      this.flush();
      return false;
    }
    if (this.#bytes + bytes > this.#maxBytes) this.flush();
    this.hold();
    this.#messages.push(data);
    this.#bytes += bytes;
    if (this.#messages.length >= this.#maxMessages) this.flush();
    return true;
  }

  /** Drops what is pending: the peer stopped reading, and the session closes for it. */
  discard(): void {
    this.#messages = [];
    this.#bytes = 0;
  }

  /** Sends what is pending as one frame (one message as itself). */
  flush(): void {
    const messages = this.#messages;
    if (messages.length === 0) return;
    this.#messages = [];
    this.#bytes = 0;
    if (messages.length === 1) return this.#send(messages[0]);
    let frame: string;
    try {
      frame = this.#format.join(messages);
    } catch (error) {
      // An app's format that fails must not lose or reorder messages: each goes alone.
      reportFailure("batch format", error);
      for (const message of messages) this.#send(message);
      return;
    }
    this.#send(frame);
  }
}
