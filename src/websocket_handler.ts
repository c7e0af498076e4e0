/**
 * The producer-based WebSocket route handler: Perfect's `WebSocketHandler`, over
 * `Deno.upgradeWebSocket`.
 *
 * A *handler producer* receives a snapshot of the request and the subprotocols the client
 * offered, and returns a {@linkcode WebSocketSessionHandler} or nothing. Before it is asked,
 * the handshake is checked ({@linkcode checkHandshake}), cross-origin browser pages are
 * refused unless allowed, and connection limits are applied; every refusal is a specific 4xx
 * or 503 with a one-line reason, counted and logged.
 *
 * @example
 * ```ts
 * import { WebSocketHandler } from "./websocket_handler.ts";
 * import { EchoHandler } from "./echo_handler.ts";
 *
 * const echo = new WebSocketHandler(
 *   (_request, protocols) => protocols.includes("echo") ? new EchoHandler() : null,
 *   { supportedProtocols: ["echo"] },
 * );
 * Deno.serve({ port: 0 }, (request, info) => echo.handle(request, info));
 * ```
 * @module
 */

import { checkHandshake, parseProtocols, RefusalReason, refusalResponse } from "./handshake.ts";
import type { HandshakeRefusal } from "./handshake.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import { CloseCode, WebSocketSession } from "./websocket_session.ts";
import type { WebSocketSessionOptions } from "./websocket_session.ts";

/**
 * What a session handler may know of the upgrade request. Deno empties the `Request` once it
 * is upgraded, so the server copies these first.
 */
export interface SessionRequest {
  /** The request URL. */
  url: URL;
  /** A copy of the request headers. */
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
   * Runs the session. The session is open when this is called; when the returned promise
   * settles the server closes the session if the handler has not (1011 if it threw).
   */
  handleSession(request: SessionRequest, session: WebSocketSession): Promise<void> | void;
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
    "id" | "protocol" | "remoteAddress" | "metrics" | "logger"
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

/**
 * A route handler that upgrades valid WebSocket handshakes to sessions run by the handler its
 * producer picks. It owns its open sessions so a server can close them all on shutdown.
 */
export class WebSocketHandler {
  #producer: HandlerProducer;
  #supportedProtocols: string[];
  #allowedOrigins: Set<string>;
  #maxConnections: number;
  #maxPerAddress: number;
  #idleTimeoutSeconds: number;
  #sessionOptions: WebSocketHandlerOptions["session"];
  #metrics: Metrics | undefined;
  #logger: Logger | undefined;
  #sessions = new Set<WebSocketSession>();
  #perAddress = new Map<string, number>();
  #closing = false;
  #running = new Set<Promise<void>>();

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
  }

  /** Sessions open (or opening) now. */
  get sessions(): ReadonlySet<WebSocketSession> {
    return this.#sessions;
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

  /** Checks, negotiates and upgrades one request; every failure is a 4xx or 503 response. */
  handle(request: Request, info: Deno.ServeHandlerInfo): Response {
    const peer = peerOf(info);
    const remote = formatAddress(peer.hostname, peer.port);
    const invalid = checkHandshake(request);
    if (invalid) return this.#refuse(invalid, remote);
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
    // checkHandshake has already rejected a malformed protocol header.
    const protocols = parseProtocols(request.headers) ?? [];
    const snapshot: SessionRequest = {
      url: new URL(request.url),
      headers: new Headers(request.headers),
      remoteHostname: peer.hostname,
      remotePort: peer.port,
      protocols,
    };
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
    // Deno's own protocol option splits only on ", " and throws on "chat,echo", so the
    // negotiated protocol is set on the 101 response here instead.
    const { socket, response } = Deno.upgradeWebSocket(request, {
      idleTimeout: this.#idleTimeoutSeconds,
    });
    if (protocol !== null) response.headers.set("sec-websocket-protocol", protocol);
    this.#startSession(handler, snapshot, socket, remote);
    return response;
  }

  #startSession(
    handler: WebSocketSessionHandler,
    request: SessionRequest,
    socket: WebSocket,
    remote: string,
  ): void {
    const session = new WebSocketSession(socket, {
      ...this.#sessionOptions,
      protocol: handler.socketProtocol ?? "",
      remoteAddress: remote,
      metrics: this.#metrics,
      logger: this.#logger,
    });
    const address = request.remoteHostname;
    this.#sessions.add(session);
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    const started = performance.now();
    let opened = false;
    const run = (async () => {
      await session.opened;
      if (!session.isConnected) return;
      opened = true;
      this.#metrics?.countSessionOpen();
      this.#logger?.info("session.open", {
        session: session.id,
        remote,
        protocol: session.protocol || undefined,
        path: request.url.pathname,
      });
      try {
        await handler.handleSession(request, session);
        await session.close(CloseCode.Normal);
      } catch (error) {
        this.#logger?.error("session.handler_failed", {
          session: session.id,
          error: error instanceof Error ? error.message : String(error),
        });
        await session.close(CloseCode.InternalError, "internal error");
      }
    })();
    const finished = (async () => {
      await run;
      const { code, reason } = await session.closed;
      // Free the slot before the close is logged, so whoever sees the line can reconnect.
      this.#sessions.delete(session);
      const left = (this.#perAddress.get(address) ?? 1) - 1;
      if (left === 0) this.#perAddress.delete(address);
      else this.#perAddress.set(address, left);
      if (opened) this.#metrics?.countSessionClose(code);
      this.#logger?.info("session.close", {
        session: session.id,
        remote,
        protocol: session.protocol || undefined,
        code,
        reason: reason || undefined,
        duration_ms: Math.round(performance.now() - started),
        received: session.messagesReceived,
        sent: session.messagesSent,
      });
    })().finally(() => this.#running.delete(finished));
    this.#running.add(finished);
  }

  /** Resolves once every session open now has closed and been counted and logged. */
  async sessionsClosed(): Promise<void> {
    await Promise.allSettled([...this.#running]);
  }

  /**
   * Refuses new handshakes from now on (503 `shutting_down`), closes every open session with
   * `code` and `reason` once its handler has read what the peer already sent, and resolves
   * when all their handlers have finished.
   */
  async closeAll(
    code: number = CloseCode.GoingAway,
    reason = "server shutting down",
  ): Promise<void> {
    this.#closing = true;
    for (const session of this.#sessions) session.closeWhenDrained(code, reason);
    await this.sessionsClosed();
  }
}
