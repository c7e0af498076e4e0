/**
 * The push core of a WebSocket session: each received message passes the limits and the
 * metrics, then goes to the listener as it arrives; sends account the send buffer; closes
 * count once the peer answers; a shutdown drain hears the peer out first. The pull side
 * (queue, reads, the async iterator) is {@linkcode WebSocketSession}, built on it.
 *
 * @module
 */

import { DEFAULT_SETTINGS } from "../config/settings.ts";
import type { MessageKind, Metrics } from "../metrics.ts";
import { DEFAULT_SHUTDOWN_GRACE_MS, ShutdownDrain } from "./drain.ts";
import { checkSendBuffer } from "./_send_buffer.ts";
import { CloseCode } from "./close.ts";
import type { CloseInfo } from "./close.ts";
import type { WebSocketMessage } from "./reader.ts";
import { DEFAULT_SEND_HIGH_WATER_MARK_BYTES } from "./session_options.ts";
import type { DrainOptions, WebSocketSessionOptions } from "./session_options.ts";
import { SocketLifecycle } from "./socket_lifecycle.ts";
import type { BatchFormat } from "../topics/batching.ts";
import { DeliveryBatch } from "../topics/_delivery_batch.ts";
import { utf8ByteLength } from "./utf8.ts";

/**
 * A push listener ({@linkcode WebSocketSession.listen}): text arrives as a string, binary as
 * bytes, so no message object is made per message.
 */
export type MessageListener = (data: string | Uint8Array) => void;

/** Sends look at the send buffer once this many bytes have gone out since the last look. */
const BUFFER_CHECK_BYTES = 64 * 1024;

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * The push core of one WebSocket session; handlers get its pull-capable subclass,
 * {@linkcode WebSocketSession}.
 */
export abstract class SessionCore extends SocketLifecycle {
  /** Default read timeout in milliseconds for this session; `0` means none. Settable. */
  readTimeoutMs: number;
  /** Payload bytes received since the session opened (UTF-8 for text). */
  bytesReceived = 0;
  /** Messages received since the session opened. */
  messagesReceived = 0;
  /** Messages sent since the session opened. */
  messagesSent = 0;

  /** Push mode: who gets each message as it arrives. */
  #listener: MessageListener | undefined;
  /** Resolves the promise `listen` returned. */
  #listenDone: (() => void) | undefined;
  /** Set by {@linkcode SessionCore.echo} until a drain or a close: see `#echoBack`. */
  #echoing = false;
  /** Set by {@linkcode WebSocketSession.closeWhenDrained}: the close to send once drained. */
  #drain: ShutdownDrain | undefined;
  /** In push mode on shutdown: sends the close once the peer has gone quiet. */
  #quietTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bytes sent since the send buffer was last looked at. */
  #uncheckedBytes = 0;
  /** The text the handler got last and its size, so echoing it does not measure it again. */
  #lastText: string | undefined;
  #lastTextBytes = 0;
  #maxMessageBytes: number;
  #maxSendBufferBytes: number;
  #highWaterMark: number;
  #metrics: Metrics | undefined;
  #debug: boolean;
  /** Set by {@linkcode SessionCore.batchDeliveries}: published text pending in this turn. */
  #batch: DeliveryBatch | undefined;

  /** Wraps `socket`, which must be a fresh server-side socket from `Deno.upgradeWebSocket`. */
  protected constructor(socket: WebSocket, options: WebSocketSessionOptions = {}) {
    super(socket, options);
    this.readTimeoutMs = options.readTimeoutMs ?? DEFAULT_SETTINGS.readTimeoutMs;
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_SETTINGS.maxMessageBytes;
    this.#maxSendBufferBytes = options.maxSendBufferBytes ?? DEFAULT_SETTINGS.maxSendBufferBytes;
    // Awaiting senders must start waiting well before the hard limit would close the session.
    this.#highWaterMark = Math.min(
      options.sendHighWaterMarkBytes ?? DEFAULT_SEND_HIGH_WATER_MARK_BYTES,
      Math.floor(this.#maxSendBufferBytes / 2),
    );
    this.#metrics = options.metrics;
    this.#debug = options.logger?.enabled("debug") ?? false;
  }

  /** Each message takes echo's own path while it is on, the general one otherwise. @internal */
  protected received(data: string | ArrayBuffer): void {
    if (this.#echoing) this.#echoBack(data);
    else this.#receive(data);
  }

  /** The one path of every received message: limits, metrics, then listener or queue. */
  #receive(data: string | ArrayBuffer): void {
    // Deno reads no message before the socket is open, so one proves it open even if the
    // lifecycle has not looked yet.
    if (!this.isOpen) this.markOpen();
    // After a close was sent, new messages are not taken on: the peer is told to stop. On
    // shutdown, messages are taken on through the grace: they were on the wire already.
    if (this.stopped) return;
    if (this.#drain !== undefined && !this.#drain.takes()) return;
    const text = typeof data === "string";
    // Limits and metrics are in UTF-8 bytes, not UTF-16 units.
    const bytes = text ? utf8ByteLength(data) : data.byteLength;
    this.messagesReceived++;
    this.bytesReceived += bytes;
    this.#metrics?.countMessageIn(text ? "text" : "binary", bytes);
    if (bytes > this.#maxMessageBytes) {
      this.log("warn", "session.limit", { limit: "max_message_bytes", bytes });
      this.close(
        CloseCode.MessageTooBig,
        `message of ${bytes} bytes exceeds ${this.#maxMessageBytes}`,
      );
      return;
    }
    if (this.#debug) this.#logMessage(data, bytes);
    if (text) {
      // Only text needs its size remembered: bytes know their length.
      this.#lastText = data;
      this.#lastTextBytes = bytes;
    }
    const payload = text ? data : new Uint8Array(data);
    if (this.#listener !== undefined) {
      this.#push(payload);
      if (this.#drain !== undefined) this.#armQuietTimer();
    } else {
      this.unheard(payload, bytes);
    }
  }

  /** A message no listener took: the pull side queues it or hands it to a waiting read. */
  protected abstract unheard(payload: string | Uint8Array, bytes: number): void;

  /** The oldest message the pull side still holds, taken off its queue (for `listen`). */
  protected abstract takeQueued(): WebSocketMessage | undefined;

  /** A shutdown drain began. */
  protected abstract drainStarted(drain: ShutdownDrain): void;

  /** The shutdown drain, while one runs. */
  protected get drain(): ShutdownDrain | undefined {
    return this.#drain;
  }

  /** Remembers the text a handler is about to get, so echoing it does not measure it again. */
  protected rememberText(text: string, bytes: number): void {
    this.#lastText = text;
    this.#lastTextBytes = bytes;
  }

  /** Hands one message to the listener; a listener that throws fails the session (1011). */
  #push(data: string | Uint8Array): void {
    try {
      this.#listener!(data);
    } catch (error) {
      this.log("warn", "session.listener_failed", {
        error: error instanceof Error ? error.message : String(error),
      });
      this.close(CloseCode.InternalError, "internal error");
    }
  }

  /** Ends push mode: the promise `listen` returned resolves. */
  #stopListening(): void {
    const done = this.#listenDone;
    this.#listener = undefined;
    this.#echoing = false;
    this.#listenDone = undefined;
    if (this.#quietTimer !== undefined) clearTimeout(this.#quietTimer);
    done?.();
  }

  /** (Re)starts the shutdown wait of push mode: the close goes once the peer is quiet. */
  #armQuietTimer(): void {
    const { code, reason } = this.#drain!;
    if (this.#quietTimer !== undefined) clearTimeout(this.#quietTimer);
    this.#drain!.afterQuiet((timer) => this.#quietTimer = timer, () => this.close(code, reason));
  }

  /**
   * Push mode, for handlers that answer each message at once: `listener` is called with
   * every message as it arrives (a string for text, bytes for binary), in order (those
   * already queued first), with no promise or message object per message. Sends made from it
   * need not be awaited; the send-buffer limit guards a peer that does not read.
   * Resolves when the session closes (or is closing). Reads must not be mixed with it.
   */
  listen(listener: MessageListener): Promise<void> {
    if (this.#listener) throw new Error("this session already has a listener");
    return new Promise((resolve) => {
      this.#listenDone = resolve;
      this.#listener = listener;
      for (
        let message = this.takeQueued();
        message && this.#listener;
        message = this.takeQueued()
      ) {
        this.#push(message.data);
      }
      if (this.stopped) this.#stopListening();
      else if (this.#drain) this.#armQuietTimer();
    });
  }

  /**
   * Answers every message with itself, text as text and binary as binary, until the session
   * closes: {@linkcode WebSocketSession.listen} with an echoing listener.
   */
  echo(): Promise<void> {
    const done = this.listen((data) => void this.send(data));
    // Queued messages went through the listener; it is gone if the session ended meanwhile.
    this.#echoing = this.#listener !== undefined && this.#drain === undefined &&
      this.#batch === undefined;
    return done;
  }

  /**
   * Echo's own path, whatever the log level: without it the 32-byte echo runs about 5 % more
   * instructions per message (bench/README.md, "Instructions, not seconds"). The message goes
   * straight back, without the listener call, the view over the bytes or the remembered text;
   * one over the size limit takes the general path, which closes the session.
   */
  #echoBack(data: string | ArrayBuffer): void {
    const text = typeof data === "string";
    const bytes = text ? utf8ByteLength(data) : data.byteLength;
    if (bytes > this.#maxMessageBytes) return this.#receive(data);
    const kind = text ? "text" : "binary";
    if (this.#debug) this.#logMessage(data, bytes);
    this.socket.send(data);
    this.messagesReceived++;
    this.bytesReceived += bytes;
    this.messagesSent++;
    this.#metrics?.countMessageIn(kind, bytes);
    this.#metrics?.countMessageOut(kind, bytes);
    void this.#sent(bytes);
  }

  /**
   * Sends `data`: a string as a text message, bytes as a binary one. Resolves once handed to
   * the socket, after waiting while the send buffer is above the high-water mark. A send
   * after the session closed is dropped.
   */
  send(data: string | Uint8Array | ArrayBuffer): Promise<void> {
    if (!this.isConnected) return RESOLVED;
    if (this.#batch?.pending) this.#batch.flush();
    this.socket.send(data);
    this.messagesSent++;
    let bytes;
    if (typeof data === "string") {
      // Not measured again when it is the text just received (an echo).
      bytes = data === this.#lastText ? this.#lastTextBytes : utf8ByteLength(data);
      this.#metrics?.countMessageOut("text", bytes);
    } else {
      bytes = data.byteLength;
      this.#metrics?.countMessageOut("binary", bytes);
    }
    return this.#sent(bytes);
  }

  /**
   * Sends a message published to a topic it subscribes to, measured once by the publisher;
   * `false` when the session takes no more messages. @internal
   */
  deliver(data: string | Uint8Array | ArrayBuffer, bytes: number, kind: MessageKind): boolean {
    if (!this.isConnected) return false;
    if (this.#batch === undefined || !this.#batch.take(data, bytes)) this.socket.send(data);
    this.messagesSent++;
    this.#metrics?.countMessageOut(kind, bytes);
    void this.#sent(bytes);
    return true;
  }

  /**
   * Lets messages published to this session's topics share frames, joined by `format`, when
   * several are pending for it in one turn of the event loop; on a quiet thread a lone one
   * still goes at once, as itself ({@link ../topics/batching.ts}). For protocols whose frames
   * can carry a batch, such as a JSON array of messages (`jsonArrayBatches()`). Only
   * deliveries are joined, never `send()`, which first sends what is pending. `null` stops
   * batching.
   */
  batchDeliveries(format: BatchFormat | null): void {
    this.#batch?.close();
    this.#batch = undefined;
    if (format === null || !this.isConnected) return;
    const socket = this.socket;
    this.#batch = new DeliveryBatch(format, (frame) => {
      // A turn's end can come after the peer closed.
      if (socket.readyState === WebSocket.OPEN) socket.send(frame);
    });
    this.#echoing = false;
  }

  /**
   * Accounts `bytes` just handed to the socket against the send buffer's limits: small sends
   * look at the buffer every 64 KiB.
   */
  #sent(bytes: number): Promise<void> {
    this.#uncheckedBytes += bytes;
    if (this.#uncheckedBytes < BUFFER_CHECK_BYTES) return RESOLVED;
    this.#uncheckedBytes = 0;
    const state = checkSendBuffer(
      this.socket,
      this.#maxSendBufferBytes,
      this.#highWaterMark,
      () => this.closeInfo !== undefined,
    );
    if (state === "over") {
      const bytes = this.socket.bufferedAmount;
      this.log("warn", "session.limit", { limit: "max_send_buffer_bytes", bytes });
      this.#batch?.discard(); // not one more frame into a buffer already over its limit
      this.close(CloseCode.PolicyViolation, "send buffer over limit: the peer is not reading");
      return RESOLVED;
    }
    return state ?? RESOLVED;
  }

  /**
   * Closes the session once the handler has read every message the peer had sent: reads
   * return the queued messages (and sends still work, so each can be answered); messages
   * still arriving are taken on until the peer, and every session sharing `options.activity`,
   * has been quiet for 300 ms (at most `options.graceMs` after this call); then the close is
   * sent and reads resolve `null`. The server uses it on shutdown so messages sent before the
   * signal are answered.
   */
  closeWhenDrained(
    code: number = CloseCode.GoingAway,
    reason = "",
    options: DrainOptions = {},
  ): Promise<CloseInfo> {
    if (!this.#drain && !this.stopped) {
      this.#drain = new ShutdownDrain(
        code,
        reason,
        options.graceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
        options.activity ?? { lastMessageMs: 0 },
      );
      // The drain's bookkeeping is on the general path.
      this.#echoing = false;
      this.drainStarted(this.#drain);
      if (this.#listener) this.#armQuietTimer();
    }
    return this.closed;
  }

  /** The push side ends: the listener is done; the pull side and topics follow. @internal */
  protected ending(): void {
    // Before the close frame: what was delivered in this turn still goes out.
    this.#batch?.close();
    this.#stopListening();
  }

  /** The `debug` line of one received message, with its text. */
  #logMessage(data: string | ArrayBuffer, bytes: number): void {
    const text = typeof data === "string";
    this.log("debug", "session.message", {
      kind: text ? "text" : "binary",
      bytes,
      data: text ? data : undefined,
    });
  }
}
