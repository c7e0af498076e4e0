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
 * await hub.close();
 * port2.close();
 * ```
 * @module
 */

import type { Backplane, BackplaneEvents, BackplaneStats } from "../backplane/backplane.ts";
import { eachPublish, PortOutbox, type PublishMessage } from "./_port_outbox.ts";

/**
 * What a worker's registry tells the hub: a publish (or a turn's publishes), or its new local
 * count of a topic.
 */
export type ToHub = PublishMessage | { c: string; n: number };

/**
 * What the hub tells a worker: a publish from elsewhere (or a turn's), a topic's count
 * elsewhere (other workers and other nodes), or the backplane's state.
 */
export type FromHub = PublishMessage | { o: string; n: number } | { b: BackplaneStats };

/** Routes publishes and counts between the workers of one process, and other nodes. */
export class TopicHub {
  #ports: MessagePort[] = [];
  /** What goes to each worker, a turn's publishes at a time. */
  #outboxes: PortOutbox[] = [];
  /** Each worker's subscriber count, by topic (index = worker). */
  #counts = new Map<string, number[]>();
  /** The other nodes, when there is a backplane. */
  #backplane: Backplane | undefined;
  #stats: BackplaneStats | undefined;

  /** What a backplane tells this hub: publishes and counts from other nodes, its state. */
  readonly backplaneEvents: BackplaneEvents = {
    message: (topic, data) => this.#route(-1, topic, data),
    remoteCount: (topic) => this.#tellCounts(topic, -1),
    stats: (stats) => {
      this.#stats = stats;
      for (const out of this.#outboxes) out.post({ b: stats } satisfies FromHub);
    },
  };

  /** Connects the hub to other nodes. */
  attach(backplane: Backplane): void {
    this.#backplane = backplane;
  }

  /** The backplane's state, when there is one. */
  get backplaneStats(): BackplaneStats | undefined {
    return this.#stats;
  }

  /** Adds the port of one more worker. */
  add(port: MessagePort): void {
    const index = this.#ports.length;
    this.#ports.push(port);
    this.#outboxes.push(new PortOutbox(port));
    port.onmessage = (event: MessageEvent<ToHub>) => this.#fromWorker(index, event.data);
    if (this.#stats) this.#outboxes[index].post({ b: this.#stats } satisfies FromHub);
  }

  /** Subscribers of `topic` in this process's workers, as they last told. */
  localCount(topic: string): number {
    return (this.#counts.get(topic) ?? []).reduce((sum, n) => sum + (n ?? 0), 0);
  }

  /** Subscribers of `topic` in this process and, with a backplane, on other nodes. */
  subscriberCount(topic: string): number {
    return this.localCount(topic) + (this.#backplane?.remoteCount(topic) ?? 0);
  }

  /** Publishes from the main thread to every subscriber of `topic`, here and elsewhere. */
  publish(topic: string, data: string | Uint8Array | ArrayBuffer): void {
    this.#route(-1, topic, data);
    this.#backplane?.publish(topic, data);
  }

  /** Closes every port, and says goodbye to the other nodes. */
  async close(): Promise<void> {
    for (const out of this.#outboxes) out.close();
    for (const port of this.#ports) port.close();
    await this.#backplane?.close();
  }

  #fromWorker(index: number, message: ToHub): void {
    if ("p" in message || "ps" in message) {
      return eachPublish(message, (topic, data) => {
        this.#route(index, topic, data);
        this.#backplane?.publish(topic, data);
      });
    }
    const { c: topic, n } = message;
    let counts = this.#counts.get(topic);
    if (counts === undefined) this.#counts.set(topic, counts = []);
    counts[index] = n;
    const local = this.localCount(topic);
    if (local === 0) this.#counts.delete(topic);
    this.#backplane?.localCount(topic, local);
    this.#tellCounts(topic, index);
  }

  /** Tells each worker but `except` how many subscribers `topic` has outside it. */
  #tellCounts(topic: string, except: number): void {
    const counts = this.#counts.get(topic) ?? [];
    const total = this.subscriberCount(topic);
    for (const [index, out] of this.#outboxes.entries()) {
      if (index === except) continue;
      out.post({ o: topic, n: total - (counts[index] ?? 0) } satisfies FromHub);
    }
  }

  /** Sends a publish to the workers other than `from` that have a subscriber of `topic`. */
  #route(from: number, topic: string, data: string | Uint8Array | ArrayBuffer): void {
    const counts = this.#counts.get(topic);
    if (counts === undefined) return;
    for (const [index, n] of counts.entries()) {
      if (index !== from && n > 0) this.#outboxes[index].publish(topic, data);
    }
  }
}
