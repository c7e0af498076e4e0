/**
 * What travels between instances on the backplane: a publish wrapped with its origin node
 * and a sequence number per origin and topic, so a node drops its own messages when they come
 * back and counts the messages lost between nodes (a gap in an origin's numbers). Text
 * published to one topic within one turn may travel as one envelope, numbered by its first.
 *
 * @example
 * ```ts
 * import { decodeEnvelope, encodeBatch, encodeEnvelope, GapCounter } from "./envelope.ts";
 *
 * const gaps = new GapCounter();
 * const one = decodeEnvelope(encodeEnvelope("node-a", 1, "hello"))!;
 * console.log(gaps.missing("news", one)); // 0: the first one seen
 * const batch = decodeEnvelope(encodeBatch("node-a", 2, ["b", "c"]))!;
 * console.log(batch.messages, gaps.missing("news", batch)); // ["b", "c"] 0
 * ```
 * @module
 */

/** A publish as it crosses the backplane. */
export interface Envelope {
  /** The node that published it. */
  origin: string;
  /** Its (first message's) number among that node's publishes to the topic, from 1. */
  seq: number;
  /** Its messages, in order, numbered from `seq`: text, or bytes (binary goes alone). */
  messages: (string | Uint8Array)[];
}

/** The envelope as one JSON text (bytes as base64). */
export function encodeEnvelope(
  origin: string,
  seq: number,
  data: string | Uint8Array | ArrayBuffer,
): string {
  if (typeof data === "string") return JSON.stringify({ o: origin, s: seq, t: data });
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  return JSON.stringify({ o: origin, s: seq, b: bytes.toBase64() });
}

/** Several text messages to one topic as one envelope, numbered from `seq`. */
export function encodeBatch(origin: string, seq: number, texts: string[]): string {
  return JSON.stringify({ o: origin, s: seq, ts: texts });
}

/** The envelope in `wire`, or `null` when it is none (another program on the channel). */
export function decodeEnvelope(wire: string): Envelope | null {
  try {
    const value = JSON.parse(wire);
    if (typeof value?.o !== "string" || !Number.isSafeInteger(value.s)) return null;
    const envelope = (messages: (string | Uint8Array)[]) => ({
      origin: value.o,
      seq: value.s,
      messages,
    });
    if (typeof value.t === "string") return envelope([value.t]);
    if (typeof value.b === "string") return envelope([Uint8Array.fromBase64(value.b)]);
    const texts = value.ts;
    if (Array.isArray(texts) && texts.length > 0 && texts.every((t) => typeof t === "string")) {
      return envelope(texts);
    }
    return null;
  } catch {
    return null;
  }
}

/** Follows each origin's numbers per topic and says how many were skipped. */
export class GapCounter {
  /** origin → topic → the last number seen. */
  #last = new Map<string, Map<string, number>>();

  /** How many of `envelope.origin`'s publishes to `topic` before this one never arrived. */
  missing(topic: string, envelope: Envelope): number {
    let topics = this.#last.get(envelope.origin);
    if (topics === undefined) this.#last.set(envelope.origin, topics = new Map());
    const last = topics.get(topic);
    topics.set(topic, envelope.seq + envelope.messages.length - 1);
    // The first one seen from an origin (or since following the topic again) has no gap.
    return last === undefined || envelope.seq <= last ? 0 : envelope.seq - last - 1;
  }

  /** Forgets a topic: while it is not followed, its numbers are not seen. */
  forget(topic: string): void {
    for (const topics of this.#last.values()) topics.delete(topic);
  }

  /** Forgets an origin that left. */
  forgetOrigin(origin: string): void {
    this.#last.delete(origin);
  }
}
