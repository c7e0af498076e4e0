/**
 * The pull side of a session: messages no one has read yet wait in order in a bounded queue,
 * and reads (with an optional timeout) take them. {@linkcode WebSocketSession} makes one the
 * first time a message has no listener to go to or a handler reads; its `readMessage`,
 * `readText`, `readBinary` and async iterator are built on it.
 *
 * @module
 */

import type { ShutdownDrain } from "./drain.ts";

/** One WebSocket data message, with its kind. */
export type WebSocketMessage =
  | { kind: "text"; data: string }
  | { kind: "binary"; data: Uint8Array };

/** Options of one read. */
export interface ReadOptions {
  /**
   * Milliseconds to wait for a message before resolving `null`; `0` waits forever.
   * @default {the session's readTimeoutMs}
   */
  timeoutMs?: number;
}

/** What the reader asks of its session. */
export interface ReaderHost {
  /** Largest total of queued message bytes before the session is closed. */
  readonly maxQueueBytes: number;
  /** True once no more messages will come (closed, or a close was sent). */
  stopped(): boolean;
  /** The shutdown drain, while one runs. */
  drain(): ShutdownDrain | undefined;
  /** The queue went over its limit (it has been emptied): close the session. */
  overLimit(bytes: number): void;
  /** A queued text was taken (so echoing it back need not measure it again). */
  taken(text: string, bytes: number): void;
  /** Sends the drain's close. */
  close(code: number, reason: string): void;
}

interface PendingRead {
  resolve: (message: WebSocketMessage | null) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** The queue and the waiting reads of one session. */
export class MessageReader {
  #host: ReaderHost;
  /** Received messages no read has taken yet; allocated only when one waits. */
  #queue: WebSocketMessage[] | undefined;
  /** UTF-8 sizes of the queued messages, index for index; allocated with the queue. */
  #sizes: number[] | undefined;
  #head = 0;
  #bytes = 0;
  /** The oldest waiting read: an idle session holds just this one. */
  #read: PendingRead | undefined;
  /** Reads made while another was waiting, oldest first (rare). */
  #laterReads: PendingRead[] | undefined;

  /** Creates an empty reader for a session. */
  constructor(host: ReaderHost) {
    this.#host = host;
  }

  /** Hands a received message to the oldest waiting read, or queues it. */
  receive(payload: string | Uint8Array, bytes: number): void {
    const message: WebSocketMessage = typeof payload === "string"
      ? { kind: "text", data: payload }
      : { kind: "binary", data: payload };
    const read = this.#takeRead();
    if (read) {
      if (read.timer !== undefined) clearTimeout(read.timer);
      read.resolve(message);
      return;
    }
    (this.#queue ??= []).push(message);
    (this.#sizes ??= []).push(bytes);
    this.#bytes += bytes;
    if (this.#bytes > this.#host.maxQueueBytes) {
      const queued = this.#bytes;
      // The backlog is what the limit protects against: free it now, not when the handler reads.
      this.#clear();
      this.#host.overLimit(queued);
    }
  }

  /** The oldest queued message, taken off the queue. */
  dequeue(): WebSocketMessage | undefined {
    if (this.#queue === undefined) return undefined;
    const message = this.#queue[this.#head];
    const bytes = this.#sizes![this.#head];
    this.#bytes -= bytes;
    if (message.kind === "text") this.#host.taken(message.data, bytes);
    this.#head++;
    if (this.#head === this.#queue.length) {
      this.#clear();
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      // Drop the consumed prefix once it dominates, so a long-lived backlog cannot leak.
      this.#queue = this.#queue.slice(this.#head);
      this.#sizes = this.#sizes!.slice(this.#head);
      this.#head = 0;
    }
    return message;
  }

  /**
   * The next message: a queued one at once, else the next to arrive; `null` once the session
   * has stopped (after the queue), after `timeoutMs` (`0`: never), or when a drain closes it.
   */
  read(timeoutMs: number): Promise<WebSocketMessage | null> {
    const queued = this.dequeue();
    if (queued) return Promise.resolve(queued);
    if (this.#host.stopped()) return Promise.resolve(null);
    return new Promise((resolve) => {
      const read: PendingRead = { resolve, timer: undefined };
      const drain = this.#host.drain();
      if (drain) this.#closeWhenQuiet(read, drain);
      else if (timeoutMs > 0) {
        read.timer = setTimeout(() => {
          this.#removeRead(read);
          resolve(null);
        }, timeoutMs);
      }
      this.#addRead(read);
    });
  }

  /** Resolves every waiting read with `null`; queued messages stay readable. */
  cancelReads(): void {
    for (let read = this.#takeRead(); read; read = this.#takeRead()) {
      if (read.timer !== undefined) clearTimeout(read.timer);
      read.resolve(null);
    }
  }

  /**
   * A drain began: a handler waiting for a read closes once the peer has been quiet for a
   * moment. (One answering a message starts that wait with its next read.)
   */
  startDrain(drain: ShutdownDrain): void {
    for (const read of [this.#read, ...(this.#laterReads ?? [])]) {
      if (!read) continue;
      if (read.timer !== undefined) clearTimeout(read.timer);
      this.#closeWhenQuiet(read, drain);
    }
  }

  /** Arms `read` to send the drain's close unless a message comes first. */
  #closeWhenQuiet(read: PendingRead, drain: ShutdownDrain): void {
    drain.afterQuiet((timer) => read.timer = timer, () => {
      this.#removeRead(read);
      this.#host.close(drain.code, drain.reason);
      read.resolve(null);
    });
  }

  #takeRead(): PendingRead | undefined {
    const read = this.#read;
    if (read) this.#read = this.#laterReads?.shift();
    return read;
  }

  #addRead(read: PendingRead): void {
    if (this.#read) (this.#laterReads ??= []).push(read);
    else this.#read = read;
  }

  #removeRead(read: PendingRead): void {
    if (this.#read === read) this.#read = this.#laterReads?.shift();
    else if (this.#laterReads) this.#laterReads = this.#laterReads.filter((r) => r !== read);
  }

  #clear(): void {
    this.#queue = undefined;
    this.#sizes = undefined;
    this.#head = 0;
    this.#bytes = 0;
  }
}
