/**
 * The push core of a WebSocket session: each received message passes the limits and the
 * metrics, then goes to the listener as it arrives; sends account the send buffer; closes
 * count once the peer answers; a shutdown drain hears the peer out first. The pull side
 * (queue, reads, the async iterator) is {@linkcode WebSocketSession}, built on it.
 *
 * @module
 */

import { DEFAULT_SETTINGS } from "../config/settings.ts";
import type { LogFields, Logger } from "../log.ts";
import type { MessageKind, Metrics } from "../metrics.ts";
import { DEFAULT_SHUTDOWN_GRACE_MS, ShutdownDrain } from "./drain.ts";
import { checkSendBuffer } from "./_send_buffer.ts";
import { abortSocket, closeInfoOf, closeSocket } from "./_socket_close.ts";
import { CloseCode } from "./close.ts";
import type { CloseInfo } from "./close.ts";
import type { WebSocketMessage } from "./reader.ts";
import { DEFAULT_SEND_HIGH_WATER_MARK_BYTES } from "./session_options.ts";
import type { DrainOptions, SessionObserver, WebSocketSessionOptions } from "./session_options.ts";
import { utf8ByteLength } from "./utf8.ts";

/**
 * A push listener ({@linkcode WebSocketSession.listen}): text arrives as a string, binary as
 * bytes, so no message object is made per message.
 */
export type MessageListener = (data: string | Uint8Array) => void;

/** Sends look at the send buffer once this many bytes have gone out since the last look. */
const BUFFER_CHECK_BYTES = 64 * 1024;
/** Upper bound of the wait between looks at a new socket's `readyState` (see `#awaitOpen`). */
const MAX_OPEN_POLL_MS = 16;

const RESOLVED: Promise<void> = Promise.resolve();

let nextSessionId = 1;

/**
 * The push core of one WebSocket session; handlers get its pull-capable subclass,
 * {@linkcode WebSocketSession}.
 */
export abstract class SessionCore {
  /** Session id, as in the log lines. */
  readonly id: number;
  /** The negotiated subprotocol (`""` when none). */
  readonly protocol: string;
  /** The peer's address as `host:port`. */
  readonly remoteAddress: string;
  /** The peer's TCP port (`0` when unknown). */
  readonly remotePort: number;
  /** Default read timeout in milliseconds for this session; `0` means none. Settable. */
  readTimeoutMs: number;
  /** Payload bytes received since the session opened (UTF-8 for text). */
  bytesReceived = 0;
  /** Messages received since the session opened. */
  messagesReceived = 0;
  /** Messages sent since the session opened. */
  messagesSent = 0;

  #socket: WebSocket;
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
  /** The next look at `readyState` while the socket is still connecting. */
  #openTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set once the socket is open; `isConnected` reads flags, not the socket, on the hot path. */
  #open = false;
  #ended = false;
  #closeRequested = false;
  /** Bytes sent since the send buffer was last looked at. */
  #uncheckedBytes = 0;
  /** The text the handler got last and its size, so echoing it does not measure it again. */
  #lastText: string | undefined;
  #lastTextBytes = 0;
  /** The close this side sent, if it closed first. */
  #closeSent: { code: number; reason: string } | undefined;
  /** Ends the connection when the peer has not answered the close in time. */
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #aborted: "reset" | "dropped" | undefined;
  #closeTimeoutMs: number;
  #localPort: number;
  /** How the session ended, once it has. */
  #closeInfo: CloseInfo | undefined;
  /** Callers of `opened` and `closed`, created only when someone asks. */
  #openWaiters: (() => void)[] | undefined;
  #closeWaiters: ((info: CloseInfo) => void)[] | undefined;
  #maxMessageBytes: number;
  #maxSendBufferBytes: number;
  #highWaterMark: number;
  #metrics: Metrics | undefined;
  #logger: Logger | undefined;
  #debug: boolean;
  #observer: SessionObserver | undefined;

  /** Wraps `socket`, which must be a fresh server-side socket from `Deno.upgradeWebSocket`. */
  protected constructor(socket: WebSocket, options: WebSocketSessionOptions = {}) {
    this.#socket = socket;
    this.id = options.id ?? nextSessionId++;
    this.protocol = options.protocol ?? "";
    this.remoteAddress = options.remoteAddress ?? "";
    this.readTimeoutMs = options.readTimeoutMs ?? DEFAULT_SETTINGS.readTimeoutMs;
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_SETTINGS.maxMessageBytes;
    this.#maxSendBufferBytes = options.maxSendBufferBytes ?? DEFAULT_SETTINGS.maxSendBufferBytes;
    // Awaiting senders must start waiting well before the hard limit would close the session.
    this.#highWaterMark = Math.min(
      options.sendHighWaterMarkBytes ?? DEFAULT_SEND_HIGH_WATER_MARK_BYTES,
      Math.floor(this.#maxSendBufferBytes / 2),
    );
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#debug = options.logger?.enabled("debug") ?? false;
    this.#observer = options.observer;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_SETTINGS.closeTimeoutMs;
    this.#localPort = options.localPort ?? 0;
    this.remotePort = options.remotePort ?? 0;
    // Deno's server sockets start with it; the setter's checks are skipped when so.
    if (socket.binaryType !== "arraybuffer") socket.binaryType = "arraybuffer";
    // The session itself listens (handleEvent): no closure per event per session. A failed
    // connection is followed by a close event, which ends the session. No "open" listener:
    // see #awaitOpen.
    socket.addEventListener("message", this);
    socket.addEventListener("close", this);
    this.#awaitOpen(0);
  }

  /**
   * Receives the socket's events (the DOM `EventListener` interface); not for handlers.
   * @internal
   */
  handleEvent(event: Event): void {
    if (event.type === "message") {
      const data = (event as MessageEvent).data;
      if (this.#echoing) this.#echoBack(data);
      else this.#receive(data);
    } else if (event.type === "close") this.#closed(event as CloseEvent);
  }

  /**
   * Learns that the socket opened by looking at `readyState` on the next turns of the event
   * loop: an "open" listener would make every message of every session dearer (measured in
   * bench/README.md, "Instructions, not seconds").
   */
  #awaitOpen(delayMs: number): void {
    this.#openTimer = setTimeout(() => {
      this.#openTimer = undefined;
      const state = this.#socket.readyState;
      if (state === WebSocket.OPEN) this.#opened();
      // A socket that fails before opening ends with a close event, which ends the session.
      else if (state === WebSocket.CONNECTING) {
        this.#awaitOpen(Math.min(Math.max(1, delayMs * 2), MAX_OPEN_POLL_MS));
      }
    }, delayMs);
  }

  #opened(): void {
    if (this.#open || this.#closeInfo) return;
    this.#open = true;
    if (this.#openWaiters) { for (const resolve of this.#openWaiters.splice(0)) resolve(); }
    this.#observer?.sessionOpened(this);
  }

  /** The one path of every received message: limits, metrics, then listener or queue. */
  #receive(data: string | ArrayBuffer): void {
    // Deno reads no message before the socket is open, so one proves it open even if
    // #awaitOpen has not looked yet.
    if (!this.#open) this.#opened();
    // After a close was sent, new messages are not taken on: the peer is told to stop. On
    // shutdown, messages are taken on through the grace: they were on the wire already.
    if (this.#ended || this.#closeRequested) return;
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

  /** No read can be answered nor message delivered any more (a close was sent, or it ended). */
  protected abstract ending(): void;

  /** A shutdown drain began. */
  protected abstract drainStarted(drain: ShutdownDrain): void;

  /** True once no more messages will be taken (closed, or a close was sent). */
  protected get stopped(): boolean {
    return this.#ended || this.#closeRequested;
  }

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
      if (this.#ended || this.#closeRequested) this.#stopListening();
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
    this.#echoing = this.#listener !== undefined && this.#drain === undefined;
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
    this.#socket.send(data);
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
    this.#socket.send(data);
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
    this.#socket.send(data);
    this.messagesSent++;
    this.#metrics?.countMessageOut(kind, bytes);
    void this.#sent(bytes);
    return true;
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
      this.#socket,
      this.#maxSendBufferBytes,
      this.#highWaterMark,
      () => this.#ended,
    );
    if (state === "over") {
      const bytes = this.#socket.bufferedAmount;
      this.log("warn", "session.limit", { limit: "max_send_buffer_bytes", bytes });
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
    if (!this.#drain && !this.#closeRequested && !this.#ended) {
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

  /**
   * Closes the session with `code` (default 1000) and `reason` (default empty). Idempotent:
   * later calls only wait. Resolves with how the session ended.
   */
  close(code: number = CloseCode.Normal, reason = ""): Promise<CloseInfo> {
    this.#sendClose(code, reason, this.#closeTimeoutMs);
    return this.closed;
  }

  /**
   * Sends a close with `code` and `reason` and ends the connection at once, without waiting
   * for the peer's answer (as `ws`'s `terminate`): for a peer that must not be read any more.
   * Resolves with how the session ended.
   */
  terminate(code: number = CloseCode.PolicyViolation, reason = ""): Promise<CloseInfo> {
    this.#sendClose(code, reason, 0);
    return this.closed;
  }

  /** Sends the close, then ends the connection unless the peer answers within `waitMs`. */
  #sendClose(code: number, reason: string, waitMs: number): void {
    if (this.#closeRequested || this.#ended) return;
    this.#closeRequested = true;
    // Reads waiting now can never be answered; queued messages stay readable.
    this.ending();
    this.#stopListening();
    try {
      closeSocket(this.#socket, code, reason);
      this.#closeSent = { code, reason };
      const abort = () => {
        this.#aborted = abortSocket(this.#socket, this.#localPort, this.remotePort);
        if (waitMs > 0) {
          this.log("warn", "session.close_timeout", {
            code,
            waited_ms: waitMs,
            aborted: this.#aborted,
          });
        }
      };
      if (waitMs > 0) this.#closeTimer = setTimeout(abort, waitMs);
      else abort();
    } catch (error) {
      // Only a socket that is still connecting can refuse; it is dropped then.
      this.log("debug", "session.close_failed", { error: String(error) });
    }
  }

  #closed(event: CloseEvent): void {
    // Deno dispatches a second close event after an idle timeout or an abort: the first counts.
    if (this.#closeInfo) return;
    if (this.#openTimer !== undefined) clearTimeout(this.#openTimer);
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    // A peer that closes or resets right after the 101 can beat the look at readyState: the
    // session still opened (its handler runs, it is counted and logged), then ends at once.
    if (!this.#open) this.#opened();
    // Pending reads resolve null; messages already queued stay readable.
    this.#ended = true;
    this.ending();
    this.#stopListening();
    this.#closeInfo = closeInfoOf(event, this.#closeSent, this.#aborted);
    const info = this.#closeInfo;
    if (this.#openWaiters) { for (const resolve of this.#openWaiters.splice(0)) resolve(); }
    if (this.#closeWaiters) { for (const resolve of this.#closeWaiters.splice(0)) resolve(info); }
    this.#observer?.sessionClosed(this, info);
  }

  /** Resolves when the session is open (or has closed before opening). */
  get opened(): Promise<void> {
    if (this.#open || this.#closeInfo) return RESOLVED;
    return new Promise((resolve) => (this.#openWaiters ??= []).push(resolve));
  }

  /** How the session ended: `undefined` until it has closed. */
  get closeInfo(): CloseInfo | undefined {
    return this.#closeInfo;
  }

  /** Resolves with the close code and reason once the session has closed. */
  get closed(): Promise<CloseInfo> {
    if (this.#closeInfo) return Promise.resolve(this.#closeInfo);
    return new Promise((resolve) => (this.#closeWaiters ??= []).push(resolve));
  }

  /** True while messages can be read and sent. */
  get isConnected(): boolean {
    return this.#open && !this.#ended && !this.#closeRequested;
  }

  /** Bytes handed to the socket and not yet written to the network. */
  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
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

  /** Logs a line about this session. */
  protected log(level: "debug" | "info" | "warn", event: string, fields: LogFields): void {
    this.#logger?.[level](event, { session: this.id, ...fields });
  }
}
