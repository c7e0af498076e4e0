/**
 * The lifecycle of one server-side WebSocket: learning that it opened, closing it (and
 * ending the connection when the peer does not answer), and how it ended, as the wire saw it.
 * The session's message handling is built on it ({@link ./session_core.ts}).
 *
 * @module
 */

import { DEFAULT_SETTINGS } from "../config/settings.ts";
import type { LogFields, Logger } from "../log.ts";
import { abortSocket, closeInfoOf, closeSocket } from "./_socket_close.ts";
import { CloseCode } from "./close.ts";
import type { CloseInfo } from "./close.ts";
import type { SessionObserver, WebSocketSessionOptions } from "./session_options.ts";

/** Upper bound of the wait between looks at a new socket's `readyState` (see `#awaitOpen`). */
const MAX_OPEN_POLL_MS = 16;

const RESOLVED: Promise<void> = Promise.resolve();

let nextSessionId = 1;

/** Open, close and the close's outcome of one WebSocket; sessions build on it. */
export abstract class SocketLifecycle {
  /** Session id, as in the log lines. */
  readonly id: number;
  /** The negotiated subprotocol (`""` when none). */
  readonly protocol: string;
  /** The peer's address as `host:port`. */
  readonly remoteAddress: string;
  /** The peer's TCP port (`0` when unknown). */
  readonly remotePort: number;

  #socket: WebSocket;
  /** The next look at `readyState` while the socket is still connecting. */
  #openTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set once the socket is open; `isConnected` reads flags, not the socket, on the hot path. */
  #open = false;
  #ended = false;
  #closeRequested = false;
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
  #logger: Logger | undefined;
  #observer: SessionObserver | undefined;

  /** Wraps `socket`, which must be a fresh server-side socket from `Deno.upgradeWebSocket`. */
  protected constructor(socket: WebSocket, options: WebSocketSessionOptions) {
    this.#socket = socket;
    this.id = options.id ?? nextSessionId++;
    this.protocol = options.protocol ?? "";
    this.remoteAddress = options.remoteAddress ?? "";
    this.remotePort = options.remotePort ?? 0;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_SETTINGS.closeTimeoutMs;
    this.#localPort = options.localPort ?? 0;
    this.#logger = options.logger;
    this.#observer = options.observer;
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
    if (event.type === "message") this.received((event as MessageEvent).data);
    else if (event.type === "close") this.#closed(event as CloseEvent);
  }

  /** A message arrived (text as a string, binary as an `ArrayBuffer`). */
  protected abstract received(data: string | ArrayBuffer): void;

  /** No message will be handled any more: a close was sent, or the session ended. */
  protected abstract ending(): void;

  /** The socket, for sending. */
  protected get socket(): WebSocket {
    return this.#socket;
  }

  /** True once the socket is known to be open. */
  protected get isOpen(): boolean {
    return this.#open;
  }

  /** True once no more messages will be taken (closed, or a close was sent). */
  protected get stopped(): boolean {
    return this.#ended || this.#closeRequested;
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
      if (state === WebSocket.OPEN) this.markOpen();
      // A socket that fails before opening ends with a close event, which ends the session.
      else if (state === WebSocket.CONNECTING) {
        this.#awaitOpen(Math.min(Math.max(1, delayMs * 2), MAX_OPEN_POLL_MS));
      }
    }, delayMs);
  }

  /** The socket is open (a message proves it even before `#awaitOpen` looked): tell the owner. */
  protected markOpen(): void {
    if (this.#open || this.#closeInfo) return;
    this.#open = true;
    if (this.#openWaiters) { for (const resolve of this.#openWaiters.splice(0)) resolve(); }
    this.#observer?.sessionOpened(this);
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
    this.ending();
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
    if (!this.#open) this.markOpen();
    // Pending reads resolve null; messages already queued stay readable.
    this.#ended = true;
    this.ending();
    const info = this.#closeInfo = closeInfoOf(event, this.#closeSent, this.#aborted);
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

  /** Logs a line about this session. */
  protected log(level: "debug" | "info" | "warn", event: string, fields: LogFields): void {
    this.#logger?.[level](event, { session: this.id, ...fields });
  }
}
