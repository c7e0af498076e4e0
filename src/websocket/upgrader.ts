/**
 * WebSocket upgrades and the sessions they open: Perfect's `WebSocketHandler`, over
 * `Deno.upgradeWebSocket`, for every WebSocket route of a server.
 *
 * Before a route's session factory is asked, the handshake is checked ({@linkcode readHandshake}),
 * cross-origin browser pages are refused unless allowed, the subprotocol is chosen from the
 * route's, and connection limits are applied; every refusal is a specific 4xx or 503 with a
 * one-line reason, counted and logged. The upgrader owns the open sessions, so a server can
 * close them all on shutdown.
 *
 * @example
 * ```ts
 * import { WebSocketUpgrader } from "./upgrader.ts";
 *
 * const upgrader = new WebSocketUpgrader();
 * const route = { echo: () => (session) => session.echo() };
 * Deno.serve({ port: 0 }, (request, info) => upgrader.handle(request, info, new URL(request.url), "/echo", route));
 * ```
 * @module
 */

import type { SessionHandler, WebSocketRoute } from "../app.ts";
import { DEFAULT_SETTINGS } from "../config/settings.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { PartialMessageGuard } from "./_partial_message_guard.ts";
import { CloseCode } from "./close.ts";
import type { CloseInfo } from "./close.ts";
import { readHandshake, RefusalReason, refusalResponse } from "./handshake.ts";
import type { HandshakeRefusal } from "./handshake.ts";
import { originPolicy } from "./origin.ts";
import { chooseProtocol, formatAddress, peerOf, upgrade } from "./_upgrade.ts";
import { WebSocketSession } from "./session.ts";
import type { SocketLifecycle } from "./socket_lifecycle.ts";
import { TopicRegistry } from "../topics/registry.ts";
import type { SessionLimits, SessionObserver } from "./session_options.ts";

/** What the upgrader keeps for one session until it has closed and its handler returned. */
interface SessionEntry {
  handler: SessionHandler;
  /** The route's path, for the session.open line. */
  path: string;
  remoteHostname: string;
  remote: string;
  /** When it opened (`performance.now()`), for the session.close line; 0 when that is not logged. */
  startedMs: number;
  /** Things still to happen before the session is done: its close and its handler's return. */
  pending: number;
  closeInfo: CloseInfo | undefined;
}

/** Options for {@linkcode WebSocketUpgrader}. */
export interface UpgraderOptions {
  /**
   * Origins allowed to connect besides the server's own (`https://example.com`); `*` allows
   * any. Requests without `Origin` (non-browser clients) always pass. @default {[]}
   */
  allowedOrigins?: string[];
  /** Most sessions open at once; more are refused with 503. @default {Infinity} */
  maxConnections?: number;
  /** Most sessions open at once from one client IP; `0` means no limit. @default {0} */
  maxConnectionsPerAddress?: number;
  /** Seconds without a pong before Deno drops the connection (its ping-based idle timeout). @default {120} */
  idleTimeoutSeconds?: number;
  /** Limits and timeouts of every session. @default {the session defaults} */
  session?: SessionLimits;
  /** Session ids: the first and the step, so the workers of one process never share one. @default {{ first: 1, step: 1 }} */
  ids?: { first: number; step: number };
  /** The server's topics, handed to every session. @default {undefined} */
  topics?: TopicRegistry;
  /** Counters to update. @default {undefined} */
  metrics?: Metrics;
  /** Where handshake and session lines go. @default {undefined} */
  logger?: Logger;
}

/** Seconds a refused client is told to wait before retrying when the server is full. */
const RETRY_AFTER_SECONDS = "5";

/** The topics of an upgrader made without any (tests, embedders): empty, and one thread's. */
const NO_TOPICS = new TopicRegistry();

/**
 * Upgrades valid WebSocket handshakes to sessions run by the handler the route's factory
 * builds. It owns its open sessions so a server can close them all on shutdown.
 */
export class WebSocketUpgrader implements SessionObserver {
  #originAllowed: (request: Request) => boolean;
  #maxConnections: number;
  #maxPerAddress: number;
  #idleTimeoutSeconds: number;
  #sessionLimits: SessionLimits | undefined;
  #topics: TopicRegistry | undefined;
  #nextId: number;
  #idStep: number;
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

  /** Creates an upgrader with no session open. */
  constructor(options: UpgraderOptions = {}) {
    this.#originAllowed = originPolicy(options.allowedOrigins ?? []);
    this.#maxConnections = options.maxConnections ?? Infinity;
    this.#maxPerAddress = options.maxConnectionsPerAddress ?? 0;
    this.#idleTimeoutSeconds = options.idleTimeoutSeconds ?? DEFAULT_SETTINGS.idleTimeoutSeconds;
    this.#sessionLimits = options.session;
    this.#topics = options.topics;
    this.#nextId = options.ids?.first ?? 1;
    this.#idStep = options.ids?.step ?? 1;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    const maxMessageBytes = options.session?.maxMessageBytes ?? DEFAULT_SETTINGS.maxMessageBytes;
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

  /**
   * Checks, negotiates and upgrades one request to `route` (served at `path`); every failure
   * is a 4xx or 503 response. `url` is the request's URL, parsed once by the server.
   */
  handle(
    request: Request,
    info: Deno.ServeHandlerInfo,
    url: URL,
    path: string,
    route: WebSocketRoute,
  ): Response {
    const peer = peerOf(info);
    const remote = formatAddress(peer.hostname, peer.port);
    const offered = readHandshake(request);
    if (!Array.isArray(offered)) return this.#refuse(offered, remote);
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
    const protocol = chooseProtocol(route, offered);
    if (protocol === null) {
      return this.#refuse({
        status: 400,
        reason: RefusalReason.NoSupportedProtocol,
        message: `no supported subprotocol offered (offered: ${offered.join(", ") || "none"}; ` +
          `supported: ${Object.keys(route).filter((p) => p !== "").join(", ") || "none"})`,
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
    const handler = route[protocol](request, {
      url,
      remoteAddr: peer,
      protocol,
      pubsub: this.#topics ?? NO_TOPICS,
    });
    if (handler === null || handler instanceof Response) {
      const response = handler ?? refusalResponse({
        status: 403,
        reason: RefusalReason.Refused,
        message: "refused by the route",
      });
      this.#metrics?.countRefusal(RefusalReason.Refused);
      this.#logger?.info("handshake.refused", {
        status: response.status,
        reason: RefusalReason.Refused,
        remote,
      });
      return response;
    }
    const { socket, response } = upgrade(request, protocol || null, this.#idleTimeoutSeconds);
    this.#startSession(handler, path, socket, protocol, peer, remote);
    return response;
  }

  #startSession(
    handler: SessionHandler,
    path: string,
    socket: WebSocket,
    protocol: string,
    peer: { hostname: string; port: number },
    remote: string,
  ): void {
    const id = this.#nextId;
    this.#nextId += this.#idStep;
    const session = new WebSocketSession(socket, {
      ...this.#sessionLimits,
      id,
      protocol,
      remoteAddress: remote,
      localPort: this.localPort,
      remotePort: peer.port,
      metrics: this.#metrics,
      logger: this.#logger,
      observer: this,
      topics: this.#topics,
    });
    this.#sessions.set(session, {
      handler,
      path,
      remoteHostname: peer.hostname,
      remote,
      // Only the session.close line reads it: no clock call per handshake when it is not logged.
      startedMs: this.#logger?.enabled("info") ? performance.now() : 0,
      pending: 2,
      closeInfo: undefined,
    });
    this.#perAddress.set(peer.hostname, (this.#perAddress.get(peer.hostname) ?? 0) + 1);
    // Started with the first session, it runs until shutdown: cheap while nothing grows.
    if (this.localPort) this.#guard.start();
  }

  /** Runs the session's handler once it is open ({@linkcode SessionObserver}). */
  sessionOpened(core: SocketLifecycle): void {
    const session = core as WebSocketSession;
    const entry = this.#sessions.get(session);
    if (!entry) return;
    this.#metrics?.countSessionOpen();
    if (this.#logger?.enabled("info")) {
      this.#logger.info("session.open", {
        session: session.id,
        remote: entry.remote,
        protocol: session.protocol || undefined,
        path: entry.path,
      });
    }
    let running: Promise<void> | void;
    try {
      const { handler } = entry;
      running = typeof handler === "function" ? handler(session) : handler.handleSession(session);
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
  sessionClosed(core: SocketLifecycle, info: CloseInfo): void {
    const session = core as WebSocketSession;
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
    const address = entry.remoteHostname;
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
    // Sessions leave their topics first: nothing published from now on waits in their buffers.
    for (const session of this.#sessions.keys()) session.unsubscribeAll();
    const activity = { lastMessageMs: performance.now() };
    for (const session of this.#sessions.keys()) {
      session.closeWhenDrained(code, reason, { graceMs, activity });
    }
    await this.sessionsClosed();
    this.#guard.stop();
    return { cut: this.#cut };
  }
}
