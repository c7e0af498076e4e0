/**
 * Publishes crossing a `MessagePort` between the hub and a worker: the turn's first goes at
 * once, the rest of the turn's as one message at its end ({@link ../_turn_clock.ts}), so a
 * busy topic costs one post per turn instead of one per message. Anything else posted on the
 * port sends what is pending first, so the order of everything on the port holds.
 *
 * @module
 */

import { TurnFlusher } from "../_turn_clock.ts";

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
  #pending: Publish[] = [];

  /** Posts on `port` until {@linkcode PortOutbox.close}. */
  constructor(port: MessagePort) {
    super();
    this.#port = port;
  }

  /** Posts a publish now, or with the rest of this turn's. */
  publish(topic: string, data: string | Uint8Array | ArrayBuffer): void {
    if (this.firstOfQuietTurn()) {
      this.flush();
      this.#port.postMessage({ p: topic, d: data } satisfies PublishMessage);
      return;
    }
    this.hold();
    this.#pending.push([topic, data]);
    if (this.#pending.length >= MAX_PUBLISHES) this.flush();
  }

  /** Posts `message` after what is pending. */
  post(message: unknown): void {
    this.flush();
    this.#port.postMessage(message);
  }

  /** Posts what is pending. */
  flush(): void {
    const pending = this.#pending;
    if (pending.length === 0) return;
    this.#pending = [];
    this.#port.postMessage(
      (pending.length === 1
        ? { p: pending[0][0], d: pending[0][1] }
        : { ps: pending }) satisfies PublishMessage,
    );
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
