/**
 * The topic hub on the main thread of a worker pool: it carries a publish from one worker to
 * the workers that have a subscriber for its topic, and tells every worker how many
 * subscribers each topic has elsewhere. One `MessagePort` per worker (lossless and in order;
 * Deno's `BroadcastChannel` drops messages once a receiver is 256 behind, see bench/README.md),
 * so every subscriber gets one publisher's messages in the order published.
 *
 * @example
 * ```ts
 * import { TopicHub } from "./hub.ts";
 *
 * const hub = new TopicHub();
 * const { port1, port2 } = new MessageChannel();
 * hub.add(port1); // port2 goes to the worker's TopicRegistry
 * console.log(hub.subscriberCount("news")); // 0
 * port1.close();
 * port2.close();
 * ```
 * @module
 */

/** What a worker's registry tells the hub: a publish, or its new local count of a topic. */
export type ToHub =
  | { p: string; d: string | Uint8Array | ArrayBuffer }
  | { c: string; n: number };

/** What the hub tells a worker: a publish from elsewhere, or a topic's count elsewhere. */
export type FromHub =
  | { p: string; d: string | Uint8Array | ArrayBuffer }
  | { o: string; n: number };

/** Routes publishes and counts between the workers of one process. */
export class TopicHub {
  #ports: MessagePort[] = [];
  /** Each worker's subscriber count, by topic (index = worker). */
  #counts = new Map<string, number[]>();

  /** Adds the port of one more worker. */
  add(port: MessagePort): void {
    const index = this.#ports.length;
    this.#ports.push(port);
    port.onmessage = (event: MessageEvent<ToHub>) => this.#fromWorker(index, event.data);
  }

  /** Subscribers of `topic` in all workers, as they last told. */
  subscriberCount(topic: string): number {
    return (this.#counts.get(topic) ?? []).reduce((sum, n) => sum + (n ?? 0), 0);
  }

  /** Publishes from the main thread to every worker with a subscriber of `topic`. */
  publish(topic: string, data: string | Uint8Array | ArrayBuffer): void {
    this.#route(-1, topic, data);
  }

  /** Closes every port. */
  close(): void {
    for (const port of this.#ports) port.close();
  }

  #fromWorker(index: number, message: ToHub): void {
    if ("p" in message) return this.#route(index, message.p, message.d);
    const { c: topic, n } = message;
    let counts = this.#counts.get(topic);
    if (counts === undefined) this.#counts.set(topic, counts = []);
    counts[index] = n;
    const total = counts.reduce((sum, k) => sum + (k ?? 0), 0);
    if (total === 0) this.#counts.delete(topic);
    for (const [other, port] of this.#ports.entries()) {
      if (other !== index) {
        port.postMessage({ o: topic, n: total - (counts[other] ?? 0) } satisfies FromHub);
      }
    }
  }

  /** Sends a publish to the workers other than `from` that have a subscriber of `topic`. */
  #route(from: number, topic: string, data: string | Uint8Array | ArrayBuffer): void {
    const counts = this.#counts.get(topic);
    if (counts === undefined) return;
    for (const [index, n] of counts.entries()) {
      if (index !== from && n > 0) {
        this.#ports[index].postMessage({ p: topic, d: data } satisfies FromHub);
      }
    }
  }
}
