/**
 * One server-side WebSocket session: Perfect's `WebSocket` class as idiomatic TypeScript.
 *
 * Messages go to a listener as they arrive ({@linkcode WebSocketSession.listen}, the push
 * core in {@link ./session_core.ts}); handlers that prefer to pull read with `readMessage`,
 * `readText`, `readBinary` or `for await`, from a bounded queue ({@link ./reader.ts}) that
 * takes messages while no listener is set. None is lost.
 *
 * - Sends resolve once the data is handed to the socket, and wait while its send buffer is
 *   above a high-water mark; a peer that does not read is closed at the send-buffer limit.
 * - Limits close the session with the matching code: a message over `maxMessageBytes` → 1009,
 *   a send buffer over `maxSendBufferBytes` or a read queue over `maxReadQueueBytes` → 1008.
 *
 * @example
 * ```ts
 * import type { WebSocketSession } from "./session.ts";
 *
 * async function shout(session: WebSocketSession) {
 *   for await (const message of session) {
 *     if (message.kind === "text") await session.send(message.data.toUpperCase());
 *   }
 *   await session.close(1000, "bye");
 * }
 * ```
 * @module
 */

import { DEFAULT_SETTINGS, defaultReadQueueBytes } from "../config/settings.ts";
import type { ShutdownDrain } from "./drain.ts";
import { CloseCode } from "./close.ts";
import { MessageReader } from "./reader.ts";
import type { ReadOptions, WebSocketMessage } from "./reader.ts";
import { SessionCore } from "./session_core.ts";
import type { TopicRegistry } from "../topics/registry.ts";
import { TopicError } from "../topics/topic_name.ts";
import type { WebSocketSessionOptions } from "./session_options.ts";

export type { MessageListener } from "./session_core.ts";

/**
 * One WebSocket session. The server creates it when it upgrades a connection and hands it to
 * the route's session handler; handlers read (or listen), send and close.
 */
export class WebSocketSession extends SessionCore implements AsyncIterable<WebSocketMessage> {
  /** The queue and the waiting reads, made when first needed. */
  #reader: MessageReader | undefined;
  #maxReadQueueBytes: number;
  /** The server's topics, when it has them. */
  #registry: TopicRegistry | undefined;
  /** The topics this session subscribes to, made on the first subscribe. */
  #topics: Set<string> | undefined;

  /** Wraps `socket`, which must be a fresh server-side socket from `Deno.upgradeWebSocket`. */
  constructor(socket: WebSocket, options: WebSocketSessionOptions = {}) {
    super(socket, options);
    this.#maxReadQueueBytes = options.maxReadQueueBytes ??
      defaultReadQueueBytes(options.maxMessageBytes ?? DEFAULT_SETTINGS.maxMessageBytes);
    this.#registry = options.topics;
  }

  #registryOf(): TopicRegistry {
    if (this.#registry === undefined) throw new TopicError("this session has no server topics");
    return this.#registry;
  }

  /**
   * Subscribes to `topic`, so messages published to it reach this session; `false` when it
   * already did. A closing session leaves all its topics.
   *
   * @throws {TopicError} for an empty or non-string name, one over 256 bytes, or a session at
   * its topic limit (`maxTopicsPerSession`, default 100).
   */
  subscribe(topic: string): boolean {
    if (!this.isConnected) return false;
    return this.#registryOf().subscribe(this, this.#topics ??= new Set(), topic);
  }

  /** Unsubscribes from `topic`; `false` when it was not subscribed. */
  unsubscribe(topic: string): boolean {
    return this.#topics !== undefined && this.#registryOf().unsubscribe(this, this.#topics, topic);
  }

  /** Unsubscribes from every topic. */
  unsubscribeAll(): void {
    if (this.#topics !== undefined) this.#registry!.leaveAll(this, this.#topics);
  }

  /** The subscribers of `topic` in the process (those of other workers as last told). */
  subscriberCount(topic: string): number {
    return this.#registryOf().subscriberCount(topic);
  }

  /** Whether this session subscribes to `topic`. */
  isSubscribed(topic: string): boolean {
    return this.#topics?.has(topic) ?? false;
  }

  /** The topics this session subscribes to, in the order subscribed. */
  get topics(): string[] {
    return this.#topics ? [...this.#topics] : [];
  }

  /**
   * Publishes `data` (a string as text, bytes as binary) to every subscriber of `topic` in the
   * process, in every worker thread, but not to this session unless `includeSelf`. Never waits
   * for a subscriber. Returns how many sessions of this thread got it.
   *
   * @throws {TopicError} for a bad topic name.
   */
  publish(
    topic: string,
    data: string | Uint8Array | ArrayBuffer,
    { includeSelf = false }: { includeSelf?: boolean } = {},
  ): number {
    return this.#registryOf().publish(topic, data, { except: includeSelf ? undefined : this });
  }

  /** The reader, made on first use: a session that only listens never has one. */
  #readerOf(): MessageReader {
    return this.#reader ??= new MessageReader({
      maxQueueBytes: this.#maxReadQueueBytes,
      stopped: () => this.stopped,
      drain: () => this.drain,
      overLimit: (bytes) => {
        this.log("warn", "session.limit", { limit: "max_read_queue_bytes", bytes });
        this.close(
          CloseCode.PolicyViolation,
          "read queue over limit: messages arrive faster than handled",
        );
      },
      taken: (text, bytes) => this.rememberText(text, bytes),
      close: (code, reason) => void this.close(code, reason),
    });
  }

  /** Queues a message no listener took, or hands it to a waiting read. @internal */
  protected unheard(payload: string | Uint8Array, bytes: number): void {
    this.#readerOf().receive(payload, bytes);
  }

  /** @internal */
  protected takeQueued(): WebSocketMessage | undefined {
    return this.#reader?.dequeue();
  }

  /** Waiting reads resolve `null`, and the session leaves its topics. @internal */
  protected override ending(): void {
    super.ending();
    this.#reader?.cancelReads();
    this.unsubscribeAll();
  }

  /** @internal */
  protected drainStarted(drain: ShutdownDrain): void {
    this.#reader?.startDrain(drain);
  }

  /** Sends a text message; see {@linkcode SessionCore.send}. */
  sendText(text: string): Promise<void> {
    return this.send(text);
  }

  /** Sends a binary message; see {@linkcode SessionCore.send}. */
  sendBinary(data: Uint8Array | ArrayBuffer): Promise<void> {
    return this.send(data);
  }

  /**
   * Reads the next message, text or binary. Queued messages are returned first, in order.
   *
   * @returns the message, or `null` when the session closed (queued messages are still
   * returned first if the peer closed after sending them) or the read timeout passed.
   */
  readMessage(options?: ReadOptions): Promise<WebSocketMessage | null> {
    return this.#readerOf().read(options?.timeoutMs ?? this.readTimeoutMs);
  }

  /** Reads the next message as text; a binary message is decoded as UTF-8 (as Perfect did). */
  async readText(options?: ReadOptions): Promise<string | null> {
    const message = await this.readMessage(options);
    if (message === null) return null;
    return message.kind === "text" ? message.data : new TextDecoder().decode(message.data);
  }

  /** Reads the next message as bytes; a text message is encoded as UTF-8. */
  async readBinary(options?: ReadOptions): Promise<Uint8Array | null> {
    const message = await this.readMessage(options);
    if (message === null) return null;
    return message.kind === "binary" ? message.data : new TextEncoder().encode(message.data);
  }

  /** Iterates over messages until the session closes or a read times out. */
  async *[Symbol.asyncIterator](): AsyncIterator<WebSocketMessage> {
    while (true) {
      const message = await this.readMessage();
      if (message === null) return;
      yield message;
    }
  }
}
