/**
 * The producer-based WebSocket route handler: Perfect's `WebSocketHandler`, over
 * `Deno.upgradeWebSocket`.
 *
 * A *handler producer* receives a snapshot of the request and the subprotocols the client
 * offered, and returns a {@linkcode WebSocketSessionHandler} or nothing. Before it is asked,
 * the handshake is checked ({@linkcode readHandshake}), cross-origin browser pages are
 * refused unless allowed, and connection limits are applied; every refusal is a specific 4xx
 * or 503 with a one-line reason, counted and logged.
 *
 * @example
 * ```ts
 * import { WebSocketHandler } from "./route.ts";
 * import { EchoHandler } from "../../apps/echo/echo_handler.ts";
 *
 * const echo = new WebSocketHandler(
 *   (_request, protocols) => protocols.includes("echo") ? new EchoHandler() : null,
 *   { supportedProtocols: ["echo"] },
 * );
 * Deno.serve({ port: 0 }, (request, info) => echo.handle(request, info));
 * ```
 * @module
 */

import { readHandshake, RefusalReason, refusalResponse } from "./handshake.ts";
import type { HandshakeRefusal } from "./handshake.ts";
import type { Logger } from "../log.ts";
import { BAD_HOST_MESSAGE, parseRequestUrl } from "../server/request_url.ts";
import type { Metrics } from "../metrics.ts";
import { PartialMessageGuard } from "./_partial_message_guard.ts";
import { CloseCode, DEFAULT_MAX_MESSAGE_BYTES, WebSocketSession } from "./session.ts";
import type { CloseInfo, SessionObserver, WebSocketSessionOptions } from "./session.ts";

/**
 * What a session handler may know of the upgrade request. Deno empties the `Request` once it
 * is upgraded, so the server copies these first.
 */
export interface SessionRequest {
  /** The request URL. */
  url: URL;
  /**
   * The request headers: all of them while the producer runs; in `handleSession`, a copy of
   * those the handler declared in `requestHeaders`.
   */
  headers: Headers;
  /** The client's IP address (the TCP peer, not a proxy's forwarded header). */
  remoteHostname: string;
  /** The client's TCP port. */
  remotePort: number;
  /** The subprotocols the client offered, in its order. */
  protocols: string[];
}

/**
 * A session handler: Perfect's `WebSocketSessionHandler`. One instance serves one session
 * (or many, if it keeps no per-session state).
 */
export interface WebSocketSessionHandler {
  /** The subprotocol this handler speaks, answered in the handshake; `null` for none. */
  readonly socketProtocol: string | null;
  /**
   * The request headers `handleSession` reads, copied before the upgrade (Deno's request is
   * gone after it); `"all"` copies every one, at about 2 KB per session.
   * Default: {@linkcode DEFAULT_SESSION_HEADERS}.
   */
  readonly requestHeaders?: readonly string[] | "all";
  /**
   * Runs the session. The session is open when this is called; when the returned promise
   * settles the server closes the session if the handler has not (1011 if it threw).
   */
  handleSession(request: SessionRequest, session: WebSocketSession): Promise<void> | void;
}

/**
 * Request headers a session handler sees when it does not say which it needs: the ones
 * handlers commonly read (identity, origin, proxies).
 */
export const DEFAULT_SESSION_HEADERS: readonly string[] = [
  "host",
  "origin",
  "user-agent",
  "cookie",
  "authorization",
  "x-forwarded-for",
  "x-forwarded-proto",
  "sec-websocket-protocol",
];

/**
 * The request behind {@linkcode SessionRequest}. While the producer runs it reads the live
 * request; before the upgrade it keeps the headers the chosen handler needs, read one by one.
 * (Iterating all of them would make Deno keep a copy of the whole list on the request for the
 * connection's life: about 2 KB per session.)
 */
class RequestSnapshot implements SessionRequest {
  readonly remoteHostname: string;
  readonly remotePort: number;
  readonly protocols: string[];
  #url: string;
  #parsedUrl: URL | undefined;
  /** The live request, until the snapshot is kept. */
  #live: Request | undefined;
  /** Kept header names and values, alternating, until someone asks for `headers`. */
  #kept: string[] | undefined;
  #headers: Headers | undefined;

  constructor(request: Request, peer: { hostname: string; port: number }, protocols: string[]) {
    this.#url = request.url;
    this.#live = request;
    this.remoteHostname = peer.hostname;
    this.remotePort = peer.port;
    this.protocols = protocols;
  }

  get url(): URL {
    // The server checked that it parses (parseRequestUrl) before the upgrade.
    return this.#parsedUrl ??= new URL(this.#url);
  }

  get headers(): Headers {
    if (this.#live) return this.#live.headers;
    if (!this.#headers) {
      const headers = new Headers();
      const kept = this.#kept ?? [];
      for (let i = 0; i < kept.length; i += 2) headers.append(kept[i], kept[i + 1]);
      this.#headers = headers;
      this.#kept = undefined;
    }
    return this.#headers;
  }

  /** Keeps `names` (or every header, for `"all"`) and lets go of the live request. */
  keep(names: readonly string[] | "all"): void {
    const live = this.#live!;
    this.#live = undefined;
    if (names !== "all" && names.length === 0) return;
    const kept: string[] = [];
    if (names === "all") {
      for (const [name, value] of live.headers) kept.push(name, value);
    } else {
      for (const name of names) {
        const value = live.headers.get(name);
        if (value !== null) kept.push(name, value);
      }
    }
    this.#kept = kept;
  }
}

/** What the route handler keeps for one session until it has closed and its handler returned. */
interface SessionEntry {
  handler: WebSocketSessionHandler;
  request: SessionRequest;
  remote: string;
  /** When it opened (`performance.now()`), for the session.close line; 0 when that is not logged. */
  startedMs: number;
  /** Things still to happen before the session is done: its close and its handler's return. */
  pending: number;
  closeInfo: CloseInfo | undefined;
}

/** Picks a session handler for a request, or refuses it by returning `null`/`undefined`. */
export type HandlerProducer = (
  request: SessionRequest,
  protocols: string[],
) => WebSocketSessionHandler | null | undefined;

/** Options for {@linkcode WebSocketHandler}. */
export interface WebSocketHandlerOptions {
  /** Subprotocols this route supports, named in the 400 when the producer refuses. Default: `[]`. */
  supportedProtocols?: string[];
  /**
   * Origins allowed to connect besides the server's own (`https://example.com`); `*` allows
   * any. Requests without `Origin` (non-browser clients) always pass. Default: `[]`.
   */
  allowedOrigins?: string[];
  /** Most sessions open at once; more are refused with 503. Default: `Infinity`. */
  maxConnections?: number;
  /** Most sessions open at once from one client IP; `0` means no limit. Default: `0`. */
  maxConnectionsPerAddress?: number;
  /** Seconds without a pong before Deno drops the connection (its ping-based idle timeout). Default: 120. */
  idleTimeoutSeconds?: number;
  /** Options handed to every session (limits, read timeout). Default: the session defaults. */
  session?: Omit<
    WebSocketSessionOptions,
    | "id"
    | "protocol"
    | "remoteAddress"
    | "metrics"
    | "logger"
    | "observer"
    | "localPort"
    | "remotePort"
  >;
  /** Counters to update. Default: none. */
  metrics?: Metrics;
  /** Where handshake and session lines go. Default: none. */
  logger?: Logger;
}

/** Seconds a refused client is told to wait before retrying when the server is full. */
const RETRY_AFTER_SECONDS = "5";

/** Formats an address for logs: IPv6 in brackets. */
function formatAddress(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** The address of the TCP peer, when the server listens on TCP. */
function peerOf(info: Deno.ServeHandlerInfo): { hostname: string; port: number } {
  const addr = info.remoteAddr as Deno.Addr;
  return addr.transport === "tcp" || addr.transport === "udp"
    ? { hostname: addr.hostname, port: addr.port }
    : { hostname: "local", port: 0 };
}

/**
 * True when `origin` is the server's own origin as the request's `Host` names it (so a page
 * works on localhost, 127.0.0.1, or behind a proxy that sets `Host`).
 */
function isSameOrigin(origin: string, request: Request): boolean {
  const host = request.headers.get("host");
  if (host === null) return false;
  try {
    const page = new URL(origin);
    if (page.protocol !== "http:" && page.protocol !== "https:") return false;
    // Parsing the Host with the page's scheme drops a default port the same way.
    return page.host === new URL(`${page.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/** Upgrades a checked handshake, answering `protocol` (when not `null`) in the 101. */
function upgrade(
  request: Request,
  protocol: string | null,
  idleTimeout: number,
): Deno.WebSocketUpgrade {
  if (protocol === null) return Deno.upgradeWebSocket(request, { idleTimeout });
  try {
    // Deno's own option is the cheap way, but it finds the name only in a list separated by
    // ", " exactly, and throws (before upgrading anything) on a valid "chat,echo"...
    return Deno.upgradeWebSocket(request, { idleTimeout, protocol });
  } catch {
    // ...so then the header is set on the 101 here.
    const upgraded = Deno.upgradeWebSocket(request, { idleTimeout });
    upgraded.response.headers.set("sec-websocket-protocol", protocol);
    return upgraded;
  }
}

/**
 * A route handler that upgrades valid WebSocket handshakes to sessions run by the handler its
 * producer picks. It owns its open sessions so a server can close them all on shutdown.
 */
export class WebSocketHandler implements SessionObserver {
  #producer: HandlerProducer;
  #supportedProtocols: string[];
  #allowedOrigins: Set<string>;
  #maxConnections: number;
  #maxPerAddress: number;
  #idleTimeoutSeconds: number;
  #sessionOptions: WebSocketHandlerOptions["session"];
  #metrics: Metrics | undefined;
  #logger: Logger | undefined;
  #sessions = new Map<WebSocketSession, SessionEntry>();
  #perAddress = new Map<string, number>();
  #closing = false;
  /** Sessions whose shutdown close the peer never confirmed. */
  #cut = 0;
  /**
   * The port the server listens on, so a close that times out can find the session's TCP
   * connection and reset it. `0` (unknown) leaves aborts to drop Deno's resource only.
   */
  localPort = 0;
  #guard: PartialMessageGuard<WebSocketSession>;
  /** Callers of `sessionsClosed`, resolved when no session is left. */
  #idleWaiters: (() => void)[] = [];

  /** Creates a handler that asks `producer` for a session handler on each valid handshake. */
  constructor(producer: HandlerProducer, options: WebSocketHandlerOptions = {}) {
    this.#producer = producer;
    this.#supportedProtocols = options.supportedProtocols ?? [];
    this.#allowedOrigins = new Set(options.allowedOrigins ?? []);
    this.#maxConnections = options.maxConnections ?? Infinity;
    this.#maxPerAddress = options.maxConnectionsPerAddress ?? 0;
    this.#idleTimeoutSeconds = options.idleTimeoutSeconds ?? 120;
    this.#sessionOptions = options.session;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    const maxMessageBytes = options.session?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#guard = new PartialMessageGuard({
      maxMessageBytes,
      localPort: () => this.localPort,
      sessions: () => this.#sessions.keys(),
      onOversize: (session, inProgress) => {
        this.#logger?.warn("session.limit", {
          session: session.id,
          limit: "max_message_bytes",
          in_progress: inProgress,
        });
        session.terminate(
          CloseCode.MessageTooBig,
          `message in progress over ${maxMessageBytes} bytes`,
        );
      },
    });
  }

  /** How many sessions are open (or opening) now. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  #refuse(refusal: HandshakeRefusal, remote: string): Response {
    this.#metrics?.countRefusal(refusal.reason);
    this.#logger?.info("handshake.refused", {
      status: refusal.status,
      reason: refusal.reason,
      remote,
      detail: refusal.message,
    });
    return refusalResponse(refusal);
  }

  #originAllowed(request: Request): boolean {
    const origin = request.headers.get("origin");
    if (origin === null || this.#allowedOrigins.has("*") || this.#allowedOrigins.has(origin)) {
      return true;
    }
    return isSameOrigin(origin, request);
  }

  /**
   * Checks, negotiates and upgrades one request; every failure is a 4xx or 503 response.
   * `url` is the request's URL when the caller has parsed it (see `parseRequestUrl`).
   */
  handle(request: Request, info: Deno.ServeHandlerInfo, url?: URL): Response {
    const peer = peerOf(info);
    const remote = formatAddress(peer.hostname, peer.port);
    if (url === undefined && parseRequestUrl(request) === null) {
      return this.#refuse({
        status: 400,
        reason: RefusalReason.BadHost,
        message: BAD_HOST_MESSAGE,
      }, remote);
    }
    const protocols = readHandshake(request);
    if (!Array.isArray(protocols)) return this.#refuse(protocols, remote);
    if (this.#closing) {
      return this.#refuse({
        status: 503,
        reason: RefusalReason.ShuttingDown,
        message: "server shutting down",
        headers: { "retry-after": RETRY_AFTER_SECONDS },
      }, remote);
    }
    if (!this.#originAllowed(request)) {
      return this.#refuse({
        status: 403,
        reason: RefusalReason.OriginNotAllowed,
        message: `origin ${request.headers.get("origin")} is not allowed to open WebSockets here`,
      }, remote);
    }
    const fromAddress = this.#perAddress.get(peer.hostname) ?? 0;
    if (
      this.#sessions.size >= this.#maxConnections ||
      (this.#maxPerAddress > 0 && fromAddress >= this.#maxPerAddress)
    ) {
      return this.#refuse({
        status: 503,
        reason: RefusalReason.TooManyConnections,
        message: this.#sessions.size >= this.#maxConnections
          ? "server at its connection limit, retry later"
          : "too many connections from this address, retry later",
        headers: { "retry-after": RETRY_AFTER_SECONDS },
      }, remote);
    }
    const snapshot = new RequestSnapshot(request, peer, protocols);
    const handler = this.#producer(snapshot, protocols);
    const protocol = handler?.socketProtocol ?? null;
    if (!handler || (protocol !== null && !protocols.includes(protocol))) {
      const offered = protocols.length ? protocols.join(", ") : "none";
      return this.#refuse({
        status: 400,
        reason: RefusalReason.NoSupportedProtocol,
        message: `no supported subprotocol offered (offered: ${offered}; supported: ${
          this.#supportedProtocols.join(", ") || "none"
        })`,
      }, remote);
    }
    snapshot.keep(handler.requestHeaders ?? DEFAULT_SESSION_HEADERS);
    const { socket, response } = upgrade(request, protocol, this.#idleTimeoutSeconds);
    this.#startSession(handler, snapshot, socket, remote, peer.port);
    return response;
  }

  #startSession(
    handler: WebSocketSessionHandler,
    request: SessionRequest,
    socket: WebSocket,
    remote: string,
    remotePort: number,
  ): void {
    const session = new WebSocketSession(socket, {
      ...this.#sessionOptions,
      localPort: this.localPort,
      remotePort,
      protocol: handler.socketProtocol ?? "",
      remoteAddress: remote,
      metrics: this.#metrics,
      logger: this.#logger,
      observer: this,
    });
    this.#sessions.set(session, {
      handler,
      request,
      remote,
      // Only the session.close line reads it: no clock call per handshake when it is not logged.
      startedMs: this.#logger?.enabled("info") ? performance.now() : 0,
      pending: 2,
      closeInfo: undefined,
    });
    const address = request.remoteHostname;
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    // Started with the first session, it runs until shutdown: cheap while nothing grows.
    if (this.localPort) this.#guard.start();
  }

  /** Runs the session's handler once it is open ({@linkcode SessionObserver}). */
  sessionOpened(session: WebSocketSession): void {
    const entry = this.#sessions.get(session);
    if (!entry) return;
    this.#metrics?.countSessionOpen();
    if (this.#logger?.enabled("info")) {
      this.#logger.info("session.open", {
        session: session.id,
        remote: entry.remote,
        protocol: session.protocol || undefined,
        path: entry.request.url.pathname,
      });
    }
    let running: Promise<void> | void;
    try {
      running = entry.handler.handleSession(entry.request, session);
    } catch (error) {
      running = Promise.reject(error);
    }
    // One reaction per session, not a chain: an idle session holds as little as possible.
    Promise.resolve(running).then(
      () => this.#handlerReturned(session, entry, null),
      (error) => this.#handlerReturned(session, entry, { error }),
    );
  }

  /** Closes the session the handler left open (1011 if it threw), then settles it. */
  #handlerReturned(
    session: WebSocketSession,
    entry: SessionEntry,
    failure: { error: unknown } | null,
  ): void {
    if (failure !== null) {
      const { error } = failure;
      this.#logger?.error("session.handler_failed", {
        session: session.id,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    // Usually the handler returned because the session closed: settle now, with no promise.
    if (session.closeInfo) return this.#settle(session, entry);
    const closing = failure === null
      ? session.close(CloseCode.Normal)
      : session.close(CloseCode.InternalError, "internal error");
    closing.then(() => this.#settle(session, entry));
  }

  /** Notes how the session ended ({@linkcode SessionObserver}). */
  sessionClosed(session: WebSocketSession, info: CloseInfo): void {
    const entry = this.#sessions.get(session);
    if (!entry) return;
    entry.closeInfo = info;
    this.#settle(session, entry);
  }

  /** Counts one of the session's last two events; after both, frees its slot and logs it. */
  #settle(session: WebSocketSession, entry: SessionEntry): void {
    if (--entry.pending > 0) return;
    // Free the slot before the close is logged, so whoever sees the line can reconnect.
    this.#sessions.delete(session);
    const address = entry.request.remoteHostname;
    const left = (this.#perAddress.get(address) ?? 1) - 1;
    if (left === 0) this.#perAddress.delete(address);
    else this.#perAddress.set(address, left);
    const { code, reason, closeSent, aborted } = entry.closeInfo!;
    if (this.#closing && closeSent !== undefined) this.#cut++;
    this.#metrics?.countSessionClose(code);
    if (this.#logger?.enabled("info")) {
      this.#logger.info("session.close", {
        session: session.id,
        remote: entry.remote,
        protocol: session.protocol || undefined,
        code,
        reason: reason || undefined,
        close_sent: closeSent,
        aborted,
        duration_ms: Math.round(performance.now() - entry.startedMs),
        received: session.messagesReceived,
        sent: session.messagesSent,
      });
    }
    if (this.#sessions.size === 0) { for (const resolve of this.#idleWaiters.splice(0)) resolve(); }
  }

  /** Resolves once no session is open: each has closed, its handler returned, and it was logged. */
  sessionsClosed(): Promise<void> {
    if (this.#sessions.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Refuses new handshakes from now on (503 `shutting_down`), closes every open session with
   * `code` and `reason` once its handler has read what the peer already sent (taking on what
   * still arrives for up to `graceMs`, until no session has received for a moment), and resolves when all their handlers have finished,
   * with how many sessions never confirmed the close (their peers may not have received it).
   */
  async closeAll(
    code: number = CloseCode.GoingAway,
    reason = "server shutting down",
    graceMs?: number,
  ): Promise<{ cut: number }> {
    this.#closing = true;
    const activity = { lastMessageMs: performance.now() };
    for (const session of this.#sessions.keys()) {
      session.closeWhenDrained(code, reason, { graceMs, activity });
    }
    await this.sessionsClosed();
    this.#guard.stop();
    return { cut: this.#cut };
  }
}
