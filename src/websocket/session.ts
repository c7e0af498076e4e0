/**
 * The session API over one server-side WebSocket: Perfect's `WebSocket` class as idiomatic
 * async TypeScript.
 *
 * - Messages that arrive before the handler reads are queued in order; none is lost.
 * - {@linkcode WebSocketSession.readMessage} (and `readText`, `readBinary`, the async
 *   iterator) resolve to `null` when the peer closed, the connection failed, or the read
 *   timeout passed.
 * - Sends resolve once the data is handed to the socket, and wait while the socket's send
 *   buffer is above a high-water mark, so a fast producer cannot grow it without bound.
 * - Limits close the session with the matching code: a message over `maxMessageBytes` → 1009,
 *   a send buffer over `maxSendBufferBytes` or a read queue over `maxReadQueueBytes` → 1008.
 *
 * @example
 * ```ts
 * import type { WebSocketSession } from "./session.ts";
 *
 * async function shout(session: WebSocketSession) {
 *   for await (const message of session) {
 *     if (message.kind === "text") await session.sendText(message.data.toUpperCase());
 *   }
 *   await session.close(1000, "bye");
 * }
 * ```
 * @module
 */

import { abortSocket, closeSocket } from "./_socket_close.ts";
import type { LogFields, Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";

/** One WebSocket data message, with its kind. */
export type WebSocketMessage =
  | { kind: "text"; data: string }
  | { kind: "binary"; data: Uint8Array };

/**
 * A push-mode listener ({@linkcode WebSocketSession.listen}): text arrives as a string, binary
 * as bytes, so no message object is made per message.
 */
export type MessageListener = (data: string | Uint8Array) => void;

/** How a session ended. */
export interface CloseInfo {
  /** The close code (1005 when the peer sent none, 1006 when the connection dropped). */
  code: number;
  /** The close reason, possibly empty. */
  reason: string;
  /** True when the closing handshake completed. */
  wasClean: boolean;
  /**
   * The code this side sent when the peer never confirmed it (`code` is then 1006 and `reason`
   * the one sent): the frame may not have reached it. Absent when nothing was sent or the peer
   * answered.
   */
  closeSent?: number;
  /** Set when the close did not complete in time and the connection was ended: how. */
  aborted?: "reset" | "dropped";
}

/** When the last message of any session draining together arrived (`performance.now()`). */
export interface DrainActivity {
  lastMessageMs: number;
}

/** Options for {@linkcode WebSocketSession.closeWhenDrained}. */
export interface DrainOptions {
  /** Longest time messages still arriving are taken on. Default: 1000 ms. */
  graceMs?: number;
  /**
   * Shared by the sessions of one shutdown: none closes while any of them still receives.
   * Default: this session's own.
   */
  activity?: DrainActivity;
}

/** Options of one read. */
export interface ReadOptions {
  /**
   * Milliseconds to wait for a message before resolving `null`; `0` waits forever.
   * Default: the session's {@linkcode WebSocketSession.readTimeoutMs}.
   */
  timeoutMs?: number;
}

/** Options for {@linkcode WebSocketSession}. */
export interface WebSocketSessionOptions {
  /** Session id used in log lines. Default: a process-wide counter. */
  id?: number;
  /** The negotiated subprotocol. Default: `""`. */
  protocol?: string;
  /** The peer's address as `host:port`, for log lines. Default: `""`. */
  remoteAddress?: string;
  /** Default read timeout in milliseconds; `0` means none. Default: `0`. */
  readTimeoutMs?: number;
  /** Largest message accepted; a larger one closes the session with 1009. Default: 16 MiB. */
  maxMessageBytes?: number;
  /**
   * Largest send buffer (bytes handed to the socket but not yet written) before the session
   * is closed with 1008, for a peer that does not read. Default: 16 MiB.
   */
  maxSendBufferBytes?: number;
  /**
   * Largest total of received messages the handler has not read yet before the session is
   * closed with 1008. Default: 32 MiB (two messages of the default maximum).
   */
  maxReadQueueBytes?: number;
  /**
   * Sends wait while the send buffer is above this many bytes (at most half of
   * `maxSendBufferBytes`). Default: 1 MiB.
   */
  sendHighWaterMarkBytes?: number;
  /** Counters to update. Default: none. */
  metrics?: Metrics;
  /** Where session lines go. Default: none. */
  logger?: Logger;
  /** Told when the session opens and when it closes. Default: none. */
  observer?: SessionObserver;
  /**
   * Milliseconds a close this side sent may wait for the peer's answer before the connection
   * is ended (a peer that stops reading never gets the frame, queued behind what it did not
   * read). Default: 10 000.
   */
  closeTimeoutMs?: number;
  /** The server's TCP port, so an abort can find the connection and reset it. Default: 0 (drop only). */
  localPort?: number;
  /** The peer's TCP port. Default: 0 (unknown). */
  remotePort?: number;
}

/**
 * The owner of sessions (the route handler): told when each opens and closes. One observer
 * serves every session, so an idle session costs no callbacks or promises of its own.
 */
export interface SessionObserver {
  /** The session is open: its handler may start. */
  sessionOpened(session: WebSocketSession): void;
  /** The session has closed (or failed to open). */
  sessionClosed(session: WebSocketSession, info: CloseInfo): void;
}

/** The default largest message: 16 MiB, as Bun's `maxPayloadLength`. */
export const DEFAULT_MAX_MESSAGE_BYTES: number = 16 * 1024 * 1024;
/** The default send-buffer limit: 16 MiB, as Bun's `backpressureLimit`. */
export const DEFAULT_MAX_SEND_BUFFER_BYTES: number = 16 * 1024 * 1024;
/** The default read-queue limit: two messages of the default maximum. */
export const DEFAULT_MAX_READ_QUEUE_BYTES: number = 32 * 1024 * 1024;
/** The default wait for the peer's answer to a close. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;
/** The default send high-water mark. */
export const DEFAULT_SEND_HIGH_WATER_MARK_BYTES: number = 1024 * 1024;

/** Close codes this library sends (RFC 6455 §7.4.1). */
export const CloseCode = {
  /** Normal closure. */
  Normal: 1000,
  /** The server is going away (shutting down). */
  GoingAway: 1001,
  /** The peer broke a policy (here: a buffer limit). */
  PolicyViolation: 1008,
  /** A message was too big. */
  MessageTooBig: 1009,
  /** The server hit an unexpected condition (a handler threw). */
  InternalError: 1011,
  /** Reported, never sent: the connection dropped without a close frame. */
  Abnormal: 1006,
} as const;

/** Sends look at the send buffer once this many bytes have gone out since the last look. */
const BUFFER_CHECK_BYTES = 64 * 1024;

/** Upper bound of the wait between send-buffer checks while waiting for it to drain. */
const MAX_DRAIN_POLL_MS = 32;

/** Upper bound of the wait between looks at a new socket's `readyState` (see `#awaitOpen`). */
const MAX_OPEN_POLL_MS = 16;

/**
 * On shutdown the close is sent once the peer (and every session draining with it) has sent
 * nothing for this long: frames it wrote before the signal may still be on the wire, and once
 * the close is sent they are not answered. Twice the longest silence seen mid-backlog: 200
 * sessions × 500 messages written before SIGTERM showed whole-server gaps of 90–170 ms.
 */
const SHUTDOWN_QUIET_MS = 300;
/** ...or once this long has passed, so a peer that never stops cannot hold the shutdown. */
const DEFAULT_SHUTDOWN_GRACE_MS = 1000;

const RESOLVED: Promise<void> = Promise.resolve();

let nextSessionId = 1;

/** Any character outside ASCII: where UTF-8 needs more than one byte. */
const NON_ASCII = /[\u0080-\uffff]/;

/** UTF-8 length of a string without encoding it. */
export function utf8ByteLength(text: string): number {
  // Most text is ASCII, and a native scan is far cheaper than counting by hand. The count
  // by hand is a function of its own, keeping this one small for the runtime to inline.
  return NON_ASCII.test(text) ? countUtf8Bytes(text) : text.length;
}

function countUtf8Bytes(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      // A surrogate pair is 2 UTF-16 units and 4 UTF-8 bytes.
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2;
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}

interface PendingRead {
  resolve: (message: WebSocketMessage | null) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * One WebSocket session. The server creates it when it upgrades a connection and hands it to
 * a `WebSocketSessionHandler`; handlers only read, send and close.
 */
export class WebSocketSession implements AsyncIterable<WebSocketMessage> {
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
  /** Received messages no read has taken yet; allocated only when one waits. */
  #queue: WebSocketMessage[] | undefined;
  /** UTF-8 sizes of the queued messages, index for index; allocated with the queue. */
  #queueSizes: number[] | undefined;
  #queueHead = 0;
  #queuedBytes = 0;
  /** The oldest waiting read: an idle session holds just this one. */
  #read: PendingRead | undefined;
  /** Reads made while another was waiting, oldest first (rare). */
  #laterReads: PendingRead[] | undefined;
  /** Push mode ({@linkcode WebSocketSession.listen}): who gets each message as it arrives. */
  #listener: MessageListener | undefined;
  /**
   * Set by {@linkcode WebSocketSession.echo} while nothing unusual is on (debug logging, the
   * shutdown drain, a close): messages go straight back, not through the listener.
   */
  #echoing = false;
  /** Resolves the promise `listen` returned. */
  #listenDone: (() => void) | undefined;
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
  /** Set by {@linkcode WebSocketSession.closeWhenDrained}: the close to send once the queue is read. */
  #closeWhenDrained:
    | { code: number; reason: string; takeUntilMs: number; activity: DrainActivity }
    | undefined;
  /** How the session ended, once it has. */
  #closeInfo: CloseInfo | undefined;
  /** Callers of `opened` and `closed`, created only when someone asks. */
  #openWaiters: (() => void)[] | undefined;
  #closeWaiters: ((info: CloseInfo) => void)[] | undefined;
  #maxMessageBytes: number;
  #maxSendBufferBytes: number;
  #maxReadQueueBytes: number;
  #highWaterMark: number;
  #metrics: Metrics | undefined;
  #logger: Logger | undefined;
  #debug: boolean;
  #observer: SessionObserver | undefined;

  /** Wraps `socket`, which must be a fresh server-side socket from `Deno.upgradeWebSocket`. */
  constructor(socket: WebSocket, options: WebSocketSessionOptions = {}) {
    this.#socket = socket;
    this.id = options.id ?? nextSessionId++;
    this.protocol = options.protocol ?? "";
    this.remoteAddress = options.remoteAddress ?? "";
    this.readTimeoutMs = options.readTimeoutMs ?? 0;
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#maxSendBufferBytes = options.maxSendBufferBytes ?? DEFAULT_MAX_SEND_BUFFER_BYTES;
    this.#maxReadQueueBytes = options.maxReadQueueBytes ?? DEFAULT_MAX_READ_QUEUE_BYTES;
    // Awaiting senders must start waiting well before the hard limit would close the session.
    this.#highWaterMark = Math.min(
      options.sendHighWaterMarkBytes ?? DEFAULT_SEND_HIGH_WATER_MARK_BYTES,
      Math.floor(this.#maxSendBufferBytes / 2),
    );
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#debug = options.logger?.enabled("debug") ?? false;
    this.#observer = options.observer;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
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
    switch (event.type) {
      case "message": {
        const data = (event as MessageEvent).data;
        return this.#echoing ? this.#echoBack(data) : this.#receive(data);
      }
      case "close":
        return this.#closed(event as CloseEvent);
    }
  }

  /**
   * Learns that the socket opened by looking at `readyState` on the next turns of the event
   * loop, not from an "open" listener. Deno sends an open event through its full DOM dispatch
   * only when some listener wants it; once one has, that dispatch has seen two kinds of event
   * and every message of every session afterwards pays for it: about 300 more machine
   * instructions per 32-byte echo under callgrind (bench/instructions.ts), 1-2 % of the echo rate.
   * The timer has a price too: Deno 2.9's timers go through its Node layer, about 4,000
   * instructions per handshake, so the two break even at some 15 messages per session.
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

  #closed(event: CloseEvent): void {
    // Deno dispatches a second close event after an idle timeout or an abort: the first counts.
    if (this.#closeInfo) return;
    if (this.#openTimer !== undefined) clearTimeout(this.#openTimer);
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    // A peer that closes or resets right after the 101 can beat the look at readyState: the
    // session still opened (its handler runs, it is counted and logged), then ends at once.
    if (!this.#open) this.#opened();
    this.#end();
    // A close this side sent counts once the peer answered it (a clean close with a code; Deno
    // reports 1005 when the peer just hangs up). Otherwise the wire saw a drop: 1006.
    const sent = this.#closeSent;
    const answered = event.wasClean && event.code !== 1005 && event.code !== 0;
    const info: CloseInfo = sent
      ? answered
        ? { code: sent.code, reason: sent.reason, wasClean: true }
        : { code: CloseCode.Abnormal, reason: sent.reason, wasClean: false, closeSent: sent.code }
      : {
        code: event.code === 0 ? CloseCode.Abnormal : event.code,
        reason: event.reason,
        wasClean: event.wasClean,
      };
    if (this.#aborted) info.aborted = this.#aborted;
    this.#closeInfo = info;
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

  #log(level: "debug" | "info" | "warn", event: string, fields: LogFields): void {
    this.#logger?.[level](event, { session: this.id, ...fields });
  }

  /**
   * Echo's own path (see `#echoing`): the general path's checks are settled by the flag, and
   * the message goes straight back, without the listener call, the view over the bytes or
   * the remembered text. A message over the size limit takes the general path, which measures
   * it again (rare: it closes the session).
   */
  #echoBack(data: string | ArrayBuffer): void {
    const text = typeof data === "string";
    const bytes = text ? utf8ByteLength(data) : data.byteLength;
    if (bytes > this.#maxMessageBytes) return this.#receive(data);
    const kind = text ? "text" : "binary";
    this.#socket.send(data);
    this.messagesReceived++;
    this.bytesReceived += bytes;
    this.messagesSent++;
    this.#metrics?.countMessageIn(kind, bytes);
    this.#metrics?.countMessageOut(kind, bytes);
    void this.#sent(bytes);
  }

  #receive(data: string | ArrayBuffer): void {
    // Deno reads no message before the socket is open, so one proves it open even if
    // #awaitOpen has not looked yet. (Echo's own path starts only after the open.)
    if (!this.#open) this.#opened();
    // After a close was sent, new messages are not taken on: the peer is told to stop. On
    // shutdown, messages are taken on through the grace: they were on the wire already.
    if (this.#ended || this.#closeRequested) return;
    if (this.#closeWhenDrained) {
      const nowMs = performance.now();
      if (nowMs > this.#closeWhenDrained.takeUntilMs) return;
      this.#closeWhenDrained.activity.lastMessageMs = nowMs;
    }
    const text = typeof data === "string";
    // Limits and metrics are in UTF-8 bytes, not UTF-16 units.
    const bytes = text ? utf8ByteLength(data) : data.byteLength;
    const kind = text ? "text" : "binary";
    this.messagesReceived++;
    this.bytesReceived += bytes;
    this.#metrics?.countMessageIn(kind, bytes);
    const payload = text ? data : new Uint8Array(data);
    if (bytes > this.#maxMessageBytes) {
      this.#log("warn", "session.limit", { limit: "max_message_bytes", bytes });
      this.close(
        CloseCode.MessageTooBig,
        `message of ${bytes} bytes exceeds ${this.#maxMessageBytes}`,
      );
      return;
    }
    if (this.#debug) {
      this.#log("debug", "session.message", {
        kind,
        bytes,
        data: typeof payload === "string" ? payload : undefined,
      });
    }
    // Only text needs its size remembered (bytes know their length), and a binary payload
    // held here would outlive the message: big buffers that die young are cheaper.
    if (typeof payload === "string") {
      this.#lastText = payload;
      this.#lastTextBytes = bytes;
    }
    if (this.#listener) {
      this.#push(payload);
      if (this.#closeWhenDrained) this.#armQuietTimer();
      return;
    }
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
    (this.#queueSizes ??= []).push(bytes);
    this.#queuedBytes += bytes;
    if (this.#queuedBytes > this.#maxReadQueueBytes) {
      this.#log("warn", "session.limit", {
        limit: "max_read_queue_bytes",
        bytes: this.#queuedBytes,
      });
      // The backlog is what the limit protects against: free it now, not when the handler reads.
      this.#clearQueue();
      this.close(
        CloseCode.PolicyViolation,
        "read queue over limit: messages arrive faster than handled",
      );
    }
  }

  /** Hands one message to the listener; a listener that throws fails the session (1011). */
  #push(data: string | Uint8Array): void {
    try {
      this.#listener!(data);
    } catch (error) {
      this.#log("warn", "session.listener_failed", {
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
    const { code, reason } = this.#closeWhenDrained!;
    if (this.#quietTimer !== undefined) clearTimeout(this.#quietTimer);
    this.#afterQuiet((timer) => this.#quietTimer = timer, () => this.close(code, reason));
  }

  /**
   * Runs `then` once the peer has been quiet for the shutdown's quiet time, and the sessions
   * sharing its {@linkcode DrainActivity} too: while Deno dispatches other sessions' messages,
   * this peer's frames can wait unread in the kernel for hundreds of milliseconds (measured: 17 MB
   * queued at the signal with 200 busy sessions). Up to the grace.
   */
  #afterQuiet(
    setTimer: (timer: ReturnType<typeof setTimeout>) => void,
    then: () => void,
  ): void {
    const waitMs = this.#quietWaitMs();
    const dueMs = performance.now() + waitMs;
    setTimer(setTimeout(() => {
      const nowMs = performance.now();
      // Another session still receiving, or a timer firing late (the loop was stalled, and
      // I/O waits behind the timers): what the peer sent may not have been dispatched yet.
      const busy = nowMs - this.#closeWhenDrained!.activity.lastMessageMs < SHUTDOWN_QUIET_MS ||
        nowMs - dueMs > SHUTDOWN_QUIET_MS / 2;
      if (busy && this.#quietWaitMs() > 0) this.#afterQuiet(setTimer, then);
      else then();
    }, waitMs));
  }

  /** How long the shutdown close still waits for the peer to go quiet. */
  #quietWaitMs(): number {
    const untilMs = this.#closeWhenDrained!.takeUntilMs - performance.now();
    return Math.max(0, Math.min(SHUTDOWN_QUIET_MS, untilMs));
  }

  /**
   * Push mode, for handlers that answer each message at once: `listener` is called with
   * every message as it arrives (a string for text, bytes for binary), in order (those
   * already queued first), with no promise or message object per message. Sends made from it
   * do not wait on backpressure; the send-buffer limit guards a peer that does not read.
   * Resolves when the session closes (or is closing). Reads must not be mixed with it.
   */
  listen(listener: MessageListener): Promise<void> {
    if (this.#listener) throw new Error("this session already has a listener");
    return new Promise((resolve) => {
      this.#listenDone = resolve;
      this.#listener = listener;
      for (let message = this.#dequeue(); message && this.#listener; message = this.#dequeue()) {
        this.#push(message.data);
      }
      if (this.#ended || this.#closeRequested) this.#stopListening();
      else if (this.#closeWhenDrained) this.#armQuietTimer();
    });
  }

  /**
   * Push mode that answers every message with itself, text as text and binary as binary,
   * until the session closes: {@linkcode WebSocketSession.listen} with an echoing listener,
   * on a shorter path per message. Limits, metrics, the send-buffer limit and shutdown behave
   * as with `listen`. Resolves when the session closes (or is closing).
   */
  echo(): Promise<void> {
    const done = this.listen((data) =>
      void (typeof data === "string" ? this.sendText(data) : this.sendBinary(data))
    );
    // Queued messages went through the listener; it is gone if the session ended meanwhile.
    // Debug logging and the shutdown drain need the general path.
    this.#echoing = this.#listener !== undefined && !this.#debug && !this.#closeWhenDrained;
    return done;
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

  #dequeue(): WebSocketMessage | undefined {
    if (this.#queue === undefined) return undefined;
    const message = this.#queue[this.#queueHead];
    const bytes = this.#queueSizes![this.#queueHead];
    this.#queuedBytes -= bytes;
    if (message.kind === "text") {
      this.#lastText = message.data;
      this.#lastTextBytes = bytes;
    }
    this.#queueHead++;
    if (this.#queueHead === this.#queue.length) {
      this.#clearQueue();
    } else if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      // Drop the consumed prefix once it dominates, so a long-lived backlog cannot leak.
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueSizes = this.#queueSizes!.slice(this.#queueHead);
      this.#queueHead = 0;
    }
    return message;
  }

  #clearQueue(): void {
    this.#queue = undefined;
    this.#queueSizes = undefined;
    this.#queueHead = 0;
    this.#queuedBytes = 0;
  }

  /** Resolves every waiting read with `null`. */
  #cancelReads(): void {
    for (let read = this.#takeRead(); read; read = this.#takeRead()) {
      if (read.timer !== undefined) clearTimeout(read.timer);
      read.resolve(null);
    }
  }

  /**
   * Marks the session ended: pending reads resolve `null`. Messages already queued stay
   * readable, so nothing the peer sent before closing is lost.
   */
  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#cancelReads();
    this.#stopListening();
  }

  /**
   * Reads the next message, text or binary. Queued messages are returned first, in order.
   *
   * @returns the message, or `null` when the session closed (queued messages are still
   * returned first if the peer closed after sending them) or the read timeout passed.
   */
  readMessage(options?: ReadOptions): Promise<WebSocketMessage | null> {
    const queued = this.#dequeue();
    if (queued) return Promise.resolve(queued);
    if (this.#ended || this.#closeRequested) return Promise.resolve(null);
    if (this.#closeWhenDrained) {
      return new Promise((resolve) => {
        const read: PendingRead = { resolve, timer: undefined };
        this.#closeWhenQuiet(read);
        this.#addRead(read);
      });
    }
    const timeoutMs = options?.timeoutMs ?? this.readTimeoutMs;
    return new Promise((resolve) => {
      const read: PendingRead = { resolve, timer: undefined };
      if (timeoutMs > 0) {
        read.timer = setTimeout(() => {
          this.#removeRead(read);
          resolve(null);
        }, timeoutMs);
      }
      this.#addRead(read);
    });
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

  /**
   * Sends a text message. Resolves once handed to the socket, after waiting while the send
   * buffer is above the high-water mark. A send after the session closed is dropped.
   */
  sendText(text: string): Promise<void> {
    return this.#send(text, "text", this.#textBytes(text));
  }

  /** Sends a binary message; see {@linkcode WebSocketSession.sendText}. */
  sendBinary(data: Uint8Array | ArrayBuffer): Promise<void> {
    return this.#send(data, "binary", data.byteLength);
  }

  /** Sends a message with its own kind: text as text, binary as binary. */
  send(message: WebSocketMessage): Promise<void> {
    if (message.kind === "binary") {
      return this.#send(message.data, "binary", message.data.byteLength);
    }
    return this.#send(message.data, "text", this.#textBytes(message.data));
  }

  /** UTF-8 size of `text`, not counted again when it is the text just received (an echo). */
  #textBytes(text: string): number {
    return text === this.#lastText ? this.#lastTextBytes : utf8ByteLength(text);
  }

  #send(data: string | Uint8Array | ArrayBuffer, kind: "text" | "binary", bytes: number) {
    if (!this.isConnected) return RESOLVED;
    this.#socket.send(data);
    this.messagesSent++;
    this.#metrics?.countMessageOut(kind, bytes);
    return this.#sent(bytes);
  }

  /**
   * Accounts `bytes` just handed to the socket against the send buffer's limits. Reading the
   * buffer size is a call into the runtime: small sends look every 64 KiB.
   */
  #sent(bytes: number): Promise<void> {
    this.#uncheckedBytes += bytes;
    if (this.#uncheckedBytes < BUFFER_CHECK_BYTES) return RESOLVED;
    this.#uncheckedBytes = 0;
    // Past the hard limit the peer is not reading at all.
    const buffered = this.#socket.bufferedAmount;
    if (buffered > this.#maxSendBufferBytes) {
      this.#log("warn", "session.limit", { limit: "max_send_buffer_bytes", bytes: buffered });
      this.close(CloseCode.PolicyViolation, "send buffer over limit: the peer is not reading");
      return RESOLVED;
    }
    if (buffered <= this.#highWaterMark) return RESOLVED;
    return this.#drain();
  }

  /**
   * Waits until the send buffer is at or below the high-water mark, or the session ends.
   * Deno's WebSocket has no drain event, so this polls with a short, growing delay.
   */
  async #drain(): Promise<void> {
    let delayMs = 1;
    while (!this.#ended && this.#socket.bufferedAmount > this.#highWaterMark) {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(delayMs * 2, MAX_DRAIN_POLL_MS);
    }
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
    if (!this.#closeWhenDrained && !this.#closeRequested && !this.#ended) {
      this.#closeWhenDrained = {
        code,
        reason,
        takeUntilMs: performance.now() + (options.graceMs ?? DEFAULT_SHUTDOWN_GRACE_MS),
        activity: options.activity ?? { lastMessageMs: 0 },
      };
      this.#echoing = false;
      // A handler waiting for a read closes once the peer has been quiet for a moment.
      // Otherwise it is answering a message, and its next read starts that wait.
      for (const read of [this.#read, ...(this.#laterReads ?? [])]) {
        if (!read) continue;
        if (read.timer !== undefined) clearTimeout(read.timer);
        this.#closeWhenQuiet(read);
      }
      if (this.#listener) this.#armQuietTimer();
    }
    return this.closed;
  }

  /** Arms `read` to send the shutdown close unless a message comes first. */
  #closeWhenQuiet(read: PendingRead): void {
    const { code, reason } = this.#closeWhenDrained!;
    this.#afterQuiet((timer) => read.timer = timer, () => {
      this.#removeRead(read);
      this.close(code, reason);
      read.resolve(null);
    });
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
    if (!this.#closeRequested && !this.#ended) {
      this.#closeRequested = true;
      // Reads waiting now can never be answered; queued messages stay readable.
      this.#cancelReads();
      this.#stopListening();
      try {
        closeSocket(this.#socket, code, reason);
        this.#closeSent = { code, reason };
        const abort = () => {
          this.#aborted = abortSocket(this.#socket, this.#localPort, this.remotePort);
          if (waitMs > 0) {
            this.#log("warn", "session.close_timeout", {
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
        this.#log("debug", "session.close_failed", { error: String(error) });
      }
    }
  }
}
