/**
 * What travels between instances on the backplane: a publish wrapped with its origin node
 * and a sequence number per origin and topic, so a node drops its own messages when they come
 * back and counts the messages lost between nodes (a gap in an origin's numbers).
 *
 * @example
 * ```ts
 * import { decodeEnvelope, encodeEnvelope, GapCounter } from "./envelope.ts";
 *
 * const wire = encodeEnvelope("node-a", 1, "hello");
 * const envelope = decodeEnvelope(wire)!;
 * console.log(new GapCounter().missing("news", envelope)); // 0: the first one seen
 * ```
 * @module
 */

/** A publish as it crosses the backplane. */
export interface Envelope {
  /** The node that published it. */
  origin: string;
  /** Its number among that node's publishes to the topic, from 1. */
  seq: number;
  /** The message: text, or bytes. */
  data: string | Uint8Array;
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

/** The envelope in `wire`, or `null` when it is none (another program on the channel). */
export function decodeEnvelope(wire: string): Envelope | null {
  try {
    const value = JSON.parse(wire);
    if (typeof value?.o !== "string" || !Number.isSafeInteger(value.s)) return null;
    if (typeof value.t === "string") return { origin: value.o, seq: value.s, data: value.t };
    if (typeof value.b === "string") {
      return { origin: value.o, seq: value.s, data: Uint8Array.fromBase64(value.b) };
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
    topics.set(topic, envelope.seq);
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
