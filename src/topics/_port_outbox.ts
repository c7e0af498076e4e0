/**
 * Publishes crossing a `MessagePort` between the hub and a worker: the turn's first goes at
 * once, the rest of the turn's as one message at its end ({@link ../_turn_clock.ts}), so a
 * busy topic costs one post per turn instead of one per message. Anything else posted on the
 * port sends what is pending first, so the order of everything on the port holds.
 *
 * @module
 */

import { turnClock, TurnFlusher } from "../_turn_clock.ts";

/** One publish: its topic and data. */
export type Publish = [topic: string, data: string | Uint8Array | ArrayBuffer];

/** One publish, or several of one turn, as posted. */
export type PublishMessage =
  | { p: string; d: string | Uint8Array | ArrayBuffer }
  | { ps: Publish[] };

/** Most publishes in one message. */
const MAX_PUBLISHES = 256;

/** Posts publishes on one port, a turn's worth at a time. */
export class PortOutbox extends TurnFlusher {
  #port: MessagePort;
  /** The turn of the last publish. */
  #turn = -1;
  #pending: Publish[] = [];

  /** Posts on `port` until {@linkcode PortOutbox.close}. */
  constructor(port: MessagePort) {
    super();
    this.#port = port;
  }

  /** Posts a publish now, or with the rest of this turn's. */
  publish(topic: string, data: string | Uint8Array | ArrayBuffer): void {
    const turn = turnClock.turn;
    if (this.closed || (this.#turn !== turn && !turnClock.busy)) {
      this.flush();
      this.#turn = turn;
      turnClock.schedule(); // the next turn must look new
      this.#port.postMessage({ p: topic, d: data } satisfies PublishMessage);
      return;
    }
    if (this.#pending.length === 0) turnClock.schedule(this);
    this.#pending.push([topic, data]);
    if (this.#pending.length >= MAX_PUBLISHES) this.flush();
  }

  /** Posts `message` after what is pending. */
  post(message: unknown): void {
    this.flush();
    this.#port.postMessage(message);
  }

  /** Posts what is pending; how many publishes it was. */
  flush(): number {
    const pending = this.#pending;
    if (pending.length === 0) return 0;
    this.#pending = [];
    this.#port.postMessage(
      (pending.length === 1
        ? { p: pending[0][0], d: pending[0][1] }
        : { ps: pending }) satisfies PublishMessage,
    );
    return pending.length;
  }
}

/** Calls `each` with every publish in `message`, in order. */
export function eachPublish(
  message: PublishMessage,
  each: (topic: string, data: string | Uint8Array | ArrayBuffer) => void,
): void {
  if ("ps" in message) { for (const [topic, data] of message.ps) each(topic, data); }
  else each(message.p, message.d);
}
