/**
 * Presence across instances: every node shares its subscriber count per topic over the
 * backplane (each change, and all of them every few seconds); each node sums the others'
 * counts, and forgets a node it has not heard from for a while (one that was killed).
 *
 * @example
 * ```ts
 * import { RemotePresence } from "./presence.ts";
 *
 * const presence = new RemotePresence((topic, total) => console.log(topic, total));
 * presence.apply("node-b", { "chat:lobby": 2 }, true, 0); // chat:lobby 2
 * presence.sweep(20_000); // chat:lobby 0: node-b went quiet
 * ```
 * @module
 */

/** How often a node shares all its counts. */
export const PRESENCE_REFRESH_MS = 3_000;
/** A node not heard from for this long has left; about three missed refreshes. */
export const PRESENCE_EXPIRY_MS = 10_000;

/** One message on the presence channel. */
export interface PresenceMessage {
  /** The node it comes from. */
  n: string;
  /** Counts by topic: all of the node's (`f` set) or only those that changed. */
  c?: Record<string, number>;
  /** Set when `c` holds every topic the node has (others are 0). */
  f?: boolean;
  /** Set when the node leaves. */
  bye?: boolean;
}

/** The other nodes' counts, summed by topic. */
export class RemotePresence {
  #nodes = new Map<string, { counts: Map<string, number>; seenMs: number }>();
  #totals = new Map<string, number>();
  #onChange: (topic: string, total: number) => void;
  #expiryMs: number;

  /** Calls `onChange` with a topic's new total whenever it changes. */
  constructor(onChange: (topic: string, total: number) => void, expiryMs = PRESENCE_EXPIRY_MS) {
    this.#onChange = onChange;
    this.#expiryMs = expiryMs;
  }

  /** The other nodes' subscribers of `topic`. */
  total(topic: string): number {
    return this.#totals.get(topic) ?? 0;
  }

  /** How many other nodes are known. */
  get nodeCount(): number {
    return this.#nodes.size;
  }

  /** Takes a node's counts (all of them when `full`) heard at `nowMs`. */
  apply(node: string, counts: Record<string, number>, full: boolean, nowMs: number): void {
    let known = this.#nodes.get(node);
    if (known === undefined) this.#nodes.set(node, known = { counts: new Map(), seenMs: nowMs });
    known.seenMs = nowMs;
    if (full) {
      for (const topic of known.counts.keys()) {
        if (!(topic in counts)) this.#set(known.counts, topic, 0);
      }
    }
    for (const [topic, n] of Object.entries(counts)) this.#set(known.counts, topic, n);
  }

  /** Forgets `node` (it said goodbye, or went quiet). */
  drop(node: string): void {
    const known = this.#nodes.get(node);
    if (known === undefined) return;
    for (const topic of [...known.counts.keys()]) this.#set(known.counts, topic, 0);
    this.#nodes.delete(node);
  }

  /** Forgets every node not heard from since `nowMs` less the expiry; returns them. */
  sweep(nowMs: number): string[] {
    const gone = [...this.#nodes].filter(([, known]) => nowMs - known.seenMs > this.#expiryMs);
    for (const [node] of gone) this.drop(node);
    return gone.map(([node]) => node);
  }

  #set(counts: Map<string, number>, topic: string, n: number): void {
    const before = counts.get(topic) ?? 0;
    if (n === before) return;
    if (n === 0) counts.delete(topic);
    else counts.set(topic, n);
    const total = (this.#totals.get(topic) ?? 0) + n - before;
    if (total === 0) this.#totals.delete(topic);
    else this.#totals.set(topic, total);
    this.#onChange(topic, total);
  }
}
