/**
 * Topics of one listener: which of its sessions subscribe to what, delivery of a published
 * message to them, and, with worker threads, the link to the hub on the main thread that
 * carries publishes and subscriber counts between workers ({@link ./hub.ts}).
 *
 * Local delivery happens at once and never waits for the hub. Each publish is measured once
 * and handed to every subscriber's socket without waiting: a subscriber that does not read is
 * closed by its send-buffer limit (1008), never waited for.
 *
 * @example
 * ```ts
 * import { TopicRegistry } from "./registry.ts";
 *
 * const topics = new TopicRegistry();
 * topics.onSubscriberCount((topic, count) => console.log(topic, count));
 * console.log(topics.publish("news", "nobody listens yet")); // 0
 * ```
 * @module
 */

import type { MessageKind, Metrics } from "../metrics.ts";
import { utf8ByteLength } from "../websocket/utf8.ts";
import type { FromHub, ToHub } from "./hub.ts";
import { eachPublish, PortOutbox } from "./_port_outbox.ts";
import { TopicError, topicProblem } from "./topic_name.ts";

/** What the registry needs of a session: a way to send it a published message. */
export interface Subscriber {
  /** Sends `data` as is; `false` when the session takes no more messages (it is closing). */
  deliver(data: string | Uint8Array | ArrayBuffer, bytes: number, kind: MessageKind): boolean;
}

/** Options of one publish. */
export interface PublishOptions {
  /** Deliver in this thread only, not through the hub to other workers. @default {false} */
  local?: boolean;
  /** A subscriber not to deliver to (the publishing session). @default {undefined} */
  except?: Subscriber;
}

/** Told the process-wide subscriber count of a topic whenever it changes. */
export type SubscriberCountListener = (topic: string, count: number) => void;

/** Publish and subscriber counts, as apps and servers see them. */
export interface PubSub {
  /** This instance's name on the backplane (`local` without one). */
  readonly nodeId: string;
  /**
   * Publishes `data` (a string as text, bytes as binary) to every subscriber of `topic` in
   * the process; returns how many in this thread got it.
   *
   * @throws {TopicError} for a bad topic name.
   */
  publish(topic: string, data: string | Uint8Array | ArrayBuffer, options?: PublishOptions): number;
  /** The subscribers of `topic` in the process (those of other workers as last told). */
  subscriberCount(topic: string): number;
  /** Calls `listener` with a topic's new process-wide count whenever it changes. */
  onSubscriberCount(listener: SubscriberCountListener): void;
}

/** Options for {@linkcode TopicRegistry}. */
export interface TopicRegistryOptions {
  /** Counters to update. @default {undefined} */
  metrics?: Metrics;
  /** Most topics one session may subscribe to. @default {100} */
  maxTopicsPerSession?: number;
  /** The port to the main thread's hub, in a worker of a pool. @default {undefined} (alone) */
  hub?: MessagePort;
  /** This instance's name on the backplane. @default {"local"} */
  nodeId?: string;
}

/** The size and kind of a message, measured once per publish. */
function measure(data: string | Uint8Array | ArrayBuffer): [number, MessageKind] {
  return typeof data === "string" ? [utf8ByteLength(data), "text"] : [data.byteLength, "binary"];
}

/** Topics of one listener and their subscribers. */
export class TopicRegistry implements PubSub {
  /** This instance's name on the backplane (`local` without one). */
  readonly nodeId: string;
  #topics = new Map<string, Set<Subscriber>>();
  /** Subscribers in other workers, by topic, as the hub last told. */
  #others = new Map<string, number>();
  #listeners: SubscriberCountListener[] = [];
  #subscriptions = 0;
  #metrics: Metrics | undefined;
  #maxTopicsPerSession: number;
  #hub: PortOutbox | undefined;

  /** Creates a registry with no topic. */
  constructor(options: TopicRegistryOptions = {}) {
    this.#metrics = options.metrics;
    this.#maxTopicsPerSession = options.maxTopicsPerSession ?? 100;
    this.nodeId = options.nodeId ?? "local";
    if (options.hub) {
      // Publishes go to the hub a turn's worth at a time; a busy topic costs a post per turn.
      this.#hub = new PortOutbox(options.hub);
      options.hub.onmessage = (event: MessageEvent<FromHub>) => this.#fromHub(event.data);
    }
  }

  /** Topics with a subscriber in this thread. */
  get topicCount(): number {
    return this.#topics.size;
  }

  /** Subscriptions in this thread. */
  get subscriptionCount(): number {
    return this.#subscriptions;
  }

  /**
   * Subscribes `subscriber`, whose topics are `held`, to `topic`; `false` if it already was.
   *
   * @throws {TopicError} for a bad name, or when `held` is at the per-session limit.
   */
  subscribe(subscriber: Subscriber, held: Set<string>, topic: string): boolean {
    const problem = topicProblem(topic);
    if (problem !== null) throw new TopicError(problem);
    if (held.has(topic)) return false;
    if (held.size >= this.#maxTopicsPerSession) {
      throw new TopicError(`at the limit of ${this.#maxTopicsPerSession} topics per session`);
    }
    held.add(topic);
    let subscribers = this.#topics.get(topic);
    if (subscribers === undefined) this.#topics.set(topic, subscribers = new Set());
    subscribers.add(subscriber);
    this.#subscriptions++;
    this.#changed(topic, subscribers.size);
    return true;
  }

  /** Unsubscribes `subscriber` from `topic`; `false` if it was not subscribed. */
  unsubscribe(subscriber: Subscriber, held: Set<string>, topic: string): boolean {
    if (!held.delete(topic)) return false;
    const subscribers = this.#topics.get(topic)!;
    subscribers.delete(subscriber);
    if (subscribers.size === 0) this.#topics.delete(topic);
    this.#subscriptions--;
    this.#changed(topic, subscribers.size);
    return true;
  }

  /** Unsubscribes `subscriber` from every topic it `held`. */
  leaveAll(subscriber: Subscriber, held: Set<string>): void {
    for (const topic of [...held]) this.unsubscribe(subscriber, held, topic);
  }

  publish(
    topic: string,
    data: string | Uint8Array | ArrayBuffer,
    options: PublishOptions = {},
  ): number {
    const problem = topicProblem(topic);
    if (problem !== null) throw new TopicError(problem);
    this.#metrics?.countPublish();
    const delivered = this.#deliver(topic, data, options.except);
    if (this.#hub && !options.local) this.#hub.publish(topic, data);
    return delivered;
  }

  subscriberCount(topic: string): number {
    return (this.#topics.get(topic)?.size ?? 0) + (this.#others.get(topic) ?? 0);
  }

  onSubscriberCount(listener: SubscriberCountListener): void {
    this.#listeners.push(listener);
  }

  /** Sends the publishes gathered for the hub and stops gathering (the server is stopping). */
  close(): void {
    this.#hub?.close();
  }

  /** Hands `data` to every subscriber of `topic` here but `except`; returns how many took it. */
  #deliver(topic: string, data: string | Uint8Array | ArrayBuffer, except?: Subscriber): number {
    const subscribers = this.#topics.get(topic);
    if (subscribers === undefined) return 0;
    const [bytes, kind] = measure(data);
    let delivered = 0;
    let dropped = 0;
    for (const subscriber of subscribers) {
      if (subscriber === except) continue;
      if (subscriber.deliver(data, bytes, kind)) delivered++;
      else dropped++;
    }
    this.#metrics?.countDeliveries(delivered, dropped);
    return delivered;
  }

  /** A local count changed: update the gauges, tell the hub, then the listeners. */
  #changed(topic: string, local: number): void {
    if (this.#metrics) {
      this.#metrics.topics = this.#topics.size;
      this.#metrics.subscriptions = this.#subscriptions;
    }
    this.#hub?.post({ c: topic, n: local } satisfies ToHub);
    this.#notify(topic, local + (this.#others.get(topic) ?? 0));
  }

  #notify(topic: string, count: number): void {
    for (const listener of this.#listeners) listener(topic, count);
  }

  #fromHub(message: FromHub): void {
    if ("p" in message || "ps" in message) {
      eachPublish(message, (topic, data) => this.#deliver(topic, data));
    } else if ("b" in message) {
      if (this.#metrics) this.#metrics.backplane = message.b;
    } else {
      if (message.n === 0) this.#others.delete(message.o);
      else this.#others.set(message.o, message.n);
      this.#notify(message.o, (this.#topics.get(message.o)?.size ?? 0) + message.n);
    }
  }
}
