/**
 * The backplane's publishes on their way out: each is numbered per topic, and text published
 * to one topic within one turn of the event loop travels as one envelope. The turn's first
 * publish goes at once, so a lone message waits no longer; a publish to another topic, binary
 * data or the bounds send what is pending first, so every subscriber sees one node's
 * messages in the order published, across topics too.
 *
 * @module
 */

import { TurnFlusher } from "../_turn_clock.ts";
import { encodeBatch, encodeEnvelope } from "./envelope.ts";

/** Sends one envelope (`count` messages) to `topic`'s channel. */
export type EnvelopeSink = (topic: string, wire: string, count: number) => void;

/** Most messages, and UTF-16 units of text, in one envelope. */
const MAX_MESSAGES = 100;
const MAX_TEXT = 64 * 1024;

/** Numbers publishes and gathers a turn's text to one topic into one envelope. */
export class Outbox extends TurnFlusher {
  #origin: string;
  #send: EnvelopeSink;
  #seqs = new Map<string, number>();
  /** Text waiting for the end of the turn: its topic, the first one's number, and sizes. */
  #topic = "";
  #first = 0;
  #texts: string[] = [];
  #length = 0;

  /** Sends `origin`'s envelopes through `send` until {@linkcode Outbox.close}. */
  constructor(origin: string, send: EnvelopeSink) {
    super();
    this.#origin = origin;
    this.#send = send;
  }

  /** Takes the next number of `topic` for a publish that cannot go out (it is lost). */
  skip(topic: string): void {
    this.flush(); // what is pending must not seem to follow the lost one
    this.#seqs.set(topic, (this.#seqs.get(topic) ?? 0) + 1);
  }

  /** Numbers `data` and sends it now or with the rest of this turn's text to `topic`. */
  publish(topic: string, data: string | Uint8Array | ArrayBuffer): void {
    const seq = (this.#seqs.get(topic) ?? 0) + 1;
    this.#seqs.set(topic, seq);
    if (this.firstOfQuietTurn() || typeof data !== "string" || data.length > MAX_TEXT) {
      this.flush();
      return this.#send(topic, encodeEnvelope(this.#origin, seq, data), 1);
    }
    if (this.#topic !== topic || this.#length + data.length > MAX_TEXT) this.flush();
    if (this.#texts.length === 0) {
      this.#topic = topic;
      this.#first = seq;
    }
    this.hold();
    this.#texts.push(data);
    this.#length += data.length;
    if (this.#texts.length >= MAX_MESSAGES) this.flush();
  }

  /** Sends the text pending for the end of the turn. */
  flush(): void {
    const texts = this.#texts;
    if (texts.length === 0) return;
    this.#texts = [];
    this.#length = 0;
    this.#send(
      this.#topic,
      texts.length === 1
        ? encodeEnvelope(this.#origin, this.#first, texts[0])
        : encodeBatch(this.#origin, this.#first, texts),
      texts.length,
    );
  }
}
