/**
 * `createServer(config)`: routing and lifecycle of the whole server over `Deno.serve`.
 *
 * ```
 * /healthz /readyz /metrics → operability answers (static files cannot shadow them)
 * /echo                     → WebSocketHandler(echoHandlerProducer)
 * anything else             → static files
 * ```
 * The server object owns its sessions, metrics and shutdown; there is no global state, so
 * tests run many servers side by side.
 *
 * @example
 * ```ts
 * import { createServer } from "./server.ts";
 *
 * const server = createServer({ port: 0, hostname: "127.0.0.1", logLevel: "warn" });
 * console.log(`listening on ${server.addr.port}`);
 * await server.shutdown();
 * ```
 * @module
 */

import { defaultConfig } from "../config/config.ts";
import type { ServerConfig } from "../config/config.ts";
import { echoHandlerProducer } from "../../apps/echo/echo_handler.ts";
import { serveResilient } from "./listener.ts";
import { createLogger } from "../log.ts";
import type { Logger } from "../log.ts";
import { Metrics } from "../metrics.ts";
import { BAD_HOST_MESSAGE, parseRequestUrl } from "./request_url.ts";
import { textResponse } from "./responses.ts";
import { createStaticHandler } from "../static/static_files.ts";
import { CloseCode } from "../websocket/session.ts";
import { WebSocketHandler } from "../websocket/route.ts";
import type { HandlerProducer } from "../websocket/route.ts";

/** Options for {@linkcode createServer}: any {@linkcode ServerConfig} field, plus wiring. */
export interface ServerOptions extends Partial<ServerConfig> {
  /** Where log lines go. Default: a logger built from `logFormat` and `logLevel`. */
  logger?: Logger;
  /** The producer for `/echo`. Default: {@linkcode echoHandlerProducer}. */
  producer?: HandlerProducer;
  /** Subprotocols named when the producer refuses. Default: `["echo"]`. */
  supportedProtocols?: string[];
  /** Let several processes listen on one port (Linux `SO_REUSEPORT`). Default: `false`. */
  reusePort?: boolean;
}

/** How a graceful shutdown went. */
export interface ShutdownReport {
  /** Sessions whose peer never confirmed the 1001 close (it may not have received it). */
  sessionsCut: number;
}

/** A running server. */
export interface Server {
  /** The address it listens on (with the real port when `port` was 0). */
  readonly addr: Deno.NetAddr;
  /** Its counters. */
  readonly metrics: Metrics;
  /** False once shutdown has begun (`/readyz` answers 503). */
  readonly ready: boolean;
  /** The request handler, for calling without a socket. */
  readonly handler: Deno.ServeHandler;
  /** Resolves once no WebSocket session is open: each closed, was counted and was logged. */
  sessionsClosed(): Promise<void>;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /**
   * Graceful shutdown: readiness turns 503, new WebSocket handshakes get 503, every session is
   * closed with 1001 "server shutting down" after its handler has answered what the peer had
   * already sent, in-flight responses finish, and the listener closes. Idempotent. Resolves
   * with how many sessions never confirmed their 1001 (cut).
   */
  shutdown(): Promise<ShutdownReport>;
}

const NO_STORE = { "cache-control": "no-store" };

/** Creates the server and starts listening at once. */
export function createServer(options: ServerOptions = {}): Server {
  const config: ServerConfig = { ...defaultConfig(), ...withoutUndefined(options) };
  const logger = options.logger ??
    createLogger({ level: config.logLevel, format: config.logFormat });
  const metrics = new Metrics();
  const serveStatic = createStaticHandler(config.staticDir, { metrics, logger });
  const websocket = new WebSocketHandler(options.producer ?? echoHandlerProducer, {
    supportedProtocols: options.supportedProtocols ?? ["echo"],
    allowedOrigins: config.allowedOrigins,
    maxConnections: config.maxConnections,
    maxConnectionsPerAddress: config.maxConnectionsPerAddress,
    idleTimeoutSeconds: config.idleTimeoutSeconds,
    session: {
      readTimeoutMs: config.readTimeoutMs,
      maxMessageBytes: config.maxMessageBytes,
      maxSendBufferBytes: config.maxSendBufferBytes,
      maxReadQueueBytes: config.maxReadQueueBytes,
      closeTimeoutMs: config.closeTimeoutMs,
    },
    metrics,
    logger,
  });
  let ready = true;

  /** Answers the operability routes; only GET and HEAD are allowed there. */
  function operability(request: Request, status: number, body: string, type?: string) {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return textResponse(405, `method ${request.method} not allowed`, {
        headers: { allow: "GET, HEAD" },
      });
    }
    const response = textResponse(status, body, {
      headers: NO_STORE,
      omitBody: request.method === "HEAD",
    });
    if (type) response.headers.set("content-type", type);
    return response;
  }

  const handler: Deno.ServeHandler = (request, info) => {
    const url = parseRequestUrl(request);
    if (url === null) return badHost(request);
    switch (url.pathname) {
      case "/echo":
        return websocket.handle(request, info, url);
      case "/healthz":
        return operability(request, 200, "ok");
      case "/readyz":
        return ready
          ? operability(request, 200, "ready")
          : operability(request, 503, "shutting down");
      case "/metrics":
        return operability(
          request,
          200,
          metrics.render().trimEnd(),
          "text/plain; version=0.0.4; charset=utf-8",
        );
      default:
        return serveStatic(request, url);
    }
  };

  /** Answers a request whose `Host` is no valid authority: its URL means nothing. */
  function badHost(request: Request): Response {
    metrics.countBadRequest("bad_host");
    logger.info("request.refused", {
      status: 400,
      reason: "bad_host",
      host: request.headers.get("host") ?? undefined,
    });
    return textResponse(400, BAD_HOST_MESSAGE);
  }

  const serveOptions = {
    port: config.port,
    hostname: config.hostname,
    reusePort: options.reusePort ?? false,
    onListen(addr: Deno.NetAddr) {
      const scheme = config.tls ? "https" : "http";
      logger.info("server.listening", {
        url: `${scheme}://${
          addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname
        }:${addr.port}/`,
        static_dir: config.staticDir,
      });
    },
    onError(error: unknown) {
      logger.error("server.handler_failed", { error: String(error) });
      return textResponse(500, "internal error");
    },
  };
  const listener = serveResilient(
    config.tls ? { ...serveOptions, cert: config.tls.cert, key: config.tls.key } : serveOptions,
    handler,
    { logger },
  );

  websocket.localPort = listener.addr.port;
  let stopping: Promise<ShutdownReport> | undefined;
  return {
    addr: listener.addr,
    metrics,
    get ready() {
      return ready;
    },
    handler,
    sessionsClosed: () => websocket.sessionsClosed(),
    finished: listener.finished,
    shutdown() {
      stopping ??= (async () => {
        ready = false;
        logger.info("server.shutdown", { sessions: websocket.sessionCount });
        // Peers still sending are heard out for half the deadline; the rest is for the closes.
        const { cut } = await websocket.closeAll(
          CloseCode.GoingAway,
          "server shutting down",
          config.shutdownDeadlineMs / 2,
        );
        if (cut > 0) {
          logger.error("server.sessions_cut", {
            sessions: cut,
            why: "the peer never confirmed the 1001 close before its connection ended",
          });
        }
        await listener.shutdown();
        logger.info("server.stopped", {});
        return { sessionsCut: cut };
      })();
      return stopping;
    },
  };
}

/** Drops `undefined` fields so they do not override defaults. */
function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as Partial<T>;
}
