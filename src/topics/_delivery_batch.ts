/**
 * The machinery of batched deliveries ({@link ./batching.ts}): one session's pending
 * messages, and the clock that ends a turn of the event loop for all of them.
 *
 * A turn ends when a message posted on a `MessageChannel` arrives: a macrotask, after every
 * WebSocket message the runtime had ready has been handled. `setTimeout(0)` is no use here:
 * Deno 2.9 fires it 1-3 ms later (bench/README.md), and it would be clamped when nested. The
 * channel exists only while some session batches, so it never keeps a process alive.
 *
 * @module
 */

import { type BatchFormat, DEFAULT_BATCH_LIMITS } from "./batching.ts";

/** Where a batch's frames go. */
export type FrameSink = (frame: string | Uint8Array | ArrayBuffer) => void;

/** Ends turns for every batch of this thread. */
class TurnClock {
  /** The current turn; a batch compares it with the turns it sent in. */
  turn = 0;
  #channel: MessageChannel | undefined;
  #users = 0;
  #scheduled = false;
  /** Batches with messages waiting for the end of this turn. */
  #due: DeliveryBatch[] = [];

  acquire(): void {
    if (this.#users++ > 0) return;
    this.#channel = new MessageChannel();
    this.#channel.port1.onmessage = () => this.#endTurn();
  }

  release(): void {
    if (--this.#users > 0) return;
    this.#channel!.port1.close();
    this.#channel = undefined;
    this.#scheduled = false;
    this.#due = [];
  }

  /** Makes sure this turn's end is marked (and `batch`, if given, flushed then). */
  schedule(batch?: DeliveryBatch): void {
    if (batch) this.#due.push(batch);
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#channel!.port2.postMessage(null);
  }

  #endTurn(): void {
    this.#scheduled = false;
    this.turn++;
    const due = this.#due;
    this.#due = [];
    let busy = false;
    for (const batch of due) busy = batch.endTurn() || busy;
    // A busy batch queues from the first message next turn; that turn's end must come even
    // if it brings none, or the batch would stay busy through a quiet spell.
    if (busy) this.schedule();
  }
}

const clock = new TurnClock();

/** One session's deliveries pending in this turn. */
export class DeliveryBatch {
  #format: BatchFormat;
  #maxMessages: number;
  #maxBytes: number;
  #send: FrameSink;
  #messages: string[] = [];
  #bytes = 0;
  /** The turn of the last delivery, how many that turn brought, and whether it is due. */
  #turn = -1;
  #count = 0;
  #due = false;
  /** The last turn that brought this session two or more messages. */
  #busyTurn = -2;
  #released = false;

  /** Joins text for `send` by `format` until {@linkcode DeliveryBatch.release}. */
  constructor(format: BatchFormat, send: FrameSink) {
    this.#format = format;
    this.#maxMessages = Math.max(1, format.maxMessages ?? DEFAULT_BATCH_LIMITS.maxMessages);
    this.#maxBytes = format.maxBytes ?? DEFAULT_BATCH_LIMITS.maxBytes;
    this.#send = send;
    clock.acquire();
  }

  /** Messages waiting for the end of the turn. */
  get pending(): number {
    return this.#messages.length;
  }

  /** Sends `data` now or with the others of this turn, in order. */
  deliver(data: string | Uint8Array | ArrayBuffer, bytes: number): void {
    const turn = clock.turn;
    if (this.#turn !== turn) {
      this.#turn = turn;
      this.#count = 0;
      this.#due = false;
    }
    if (++this.#count === 1 && this.#busyTurn !== turn - 1) {
      clock.schedule(); // the turn's end must be marked for the next message to see it
      return this.#send(data);
    }
    if (typeof data !== "string" || bytes > this.#maxBytes) {
      this.flush();
      return this.#send(data);
    }
    if (this.#bytes + bytes > this.#maxBytes) this.flush();
    if (!this.#due) {
      this.#due = true;
      clock.schedule(this);
    }
    this.#messages.push(data);
    this.#bytes += bytes;
    if (this.#messages.length >= this.#maxMessages) this.flush();
  }

  /** Sends what is pending as one frame (one message as itself). */
  flush(): void {
    const messages = this.#messages;
    if (messages.length === 0) return;
    this.#send(messages.length === 1 ? messages[0] : this.#format.join(messages));
    this.#messages = [];
    this.#bytes = 0;
  }

  /** The clock's turn ended: flush; `true` when that turn brought two or more messages. */
  endTurn(): boolean {
    if (this.#released) return false;
    this.flush();
    const ended = clock.turn - 1;
    if (this.#turn !== ended || this.#count < 2) return false;
    this.#busyTurn = ended;
    return true;
  }

  /** Sends what is pending and lets the clock go (the session is ending). */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.flush();
    clock.release();
  }
}
