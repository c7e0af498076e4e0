/**
 * `createServer(app, options)`: one listener over `Deno.serve` serving an {@linkcode App},
 * with its sessions, metrics and graceful shutdown. There is no global state, so tests run
 * many servers side by side. For signals and worker threads, see `serve`.
 *
 * @example
 * ```ts
 * import { createServer } from "./server.ts";
 *
 * const server = createServer({ websocket: { "/echo": { echo: () => (s) => s.echo() } } }, {
 *   port: 0,
 *   hostname: "127.0.0.1",
 *   logLevel: "warn",
 * });
 * console.log(`listening on ${server.addr.port}`);
 * await server.shutdown();
 * ```
 * @module
 */

import type { App } from "../app.ts";
import { ConfigError, resolveSettings } from "../config/settings.ts";
import type { ServerSettings } from "../config/settings.ts";
import { createLogger } from "../log.ts";
import type { Logger } from "../log.ts";
import { Metrics } from "../metrics.ts";
import { createStaticHandler } from "../static/static_files.ts";
import { TopicRegistry } from "../topics/registry.ts";
import { CloseCode } from "../websocket/close.ts";
import { WebSocketUpgrader } from "../websocket/upgrader.ts";
import { serveResilient } from "./listener.ts";
import { textResponse } from "./responses.ts";
import { createRouter } from "./router.ts";

/** Options for {@linkcode createServer}: any {@linkcode ServerSettings} field, plus wiring. */
export interface ServerOptions extends Partial<ServerSettings> {
  /** Where log lines go. @default {a logger built from logFormat and logLevel} */
  logger?: Logger;
  /** Let several listeners share the port (Linux `SO_REUSEPORT`). @default {false} */
  reusePort?: boolean;
  /**
   * This listener's place among the worker threads of one process: session ids stay unique
   * across them, and only the pool logs `server.listening`. @default {undefined} (alone)
   */
  worker?: { index: number; count: number };
  /** The port to the pool's topic hub, in a worker. @default {undefined} (alone) */
  hub?: MessagePort;
}

/** How a graceful shutdown went. */
export interface ShutdownReport {
  /** Sessions whose peer never confirmed the 1001 close (it may not have received it). */
  sessionsCut: number;
}

/** A running server, or a pool of them: what `serve` returns. */
export interface RunningServer {
  /**
   * Publishes `data` (a string as text, bytes as binary) to every subscriber of `topic` in the
   * process.
   *
   * @throws {TopicError} for a bad topic name.
   */
  publish(topic: string, data: string | Uint8Array | ArrayBuffer): void;
  /** The subscribers of `topic` in the process. */
  subscriberCount(topic: string): number;
  /** The address it listens on (with the real port when `port` was 0). */
  readonly addr: Deno.NetAddr;
  /**
   * Graceful shutdown: readiness turns 503, new WebSocket handshakes get 503, every session is
   * closed with 1001 "server shutting down" after its handler has answered what the peer had
   * already sent, in-flight responses finish, and the listener closes. Idempotent. Resolves
   * with how many sessions never confirmed their 1001 (cut).
   */
  shutdown(): Promise<ShutdownReport>;
}

/** One running listener. */
export interface Server extends RunningServer {
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
}

/** The static directory to serve: the setting's, else the app's, else none. */
function staticDirOf(app: App, settings: ServerSettings): string | null {
  if (settings.staticDir !== null) return settings.staticDir;
  if (app.static === undefined) return null;
  const url = typeof app.static === "string" ? null : app.static;
  return url === null ? app.static as string : decodeURIComponent(url.pathname);
}

/**
 * Creates the server for `app` and starts listening at once.
 *
 * @throws {ConfigError} for settings that contradict each other or a static directory that
 * cannot be read.
 */
export function createServer(app: App, options: ServerOptions = {}): Server {
  const { logger: givenLogger, reusePort = false, worker, hub, ...given } = options;
  const settings = resolveSettings(given);
  if (settings.backplane !== null && hub === undefined) {
    throw new ConfigError(
      "backplane",
      "needs serve(): the backplane runs on the main thread, the listeners in worker threads",
    );
  }
  const logger = givenLogger ??
    createLogger({ level: settings.logLevel, format: settings.logFormat });
  const metrics = new Metrics();
  const staticDir = staticDirOf(app, settings);
  let serveStatic = null;
  if (staticDir !== null) {
    try {
      serveStatic = createStaticHandler(staticDir, { metrics, logger });
    } catch (error) {
      const why = error instanceof Deno.errors.NotFound ? "no such directory" : String(error);
      throw new ConfigError("staticDir", `cannot read "${staticDir}": ${why}`);
    }
  }
  const topics = new TopicRegistry({
    metrics,
    maxTopicsPerSession: settings.maxTopicsPerSession,
    hub,
    nodeId: settings.nodeId ?? undefined,
  });
  app.setup?.(topics);
  const upgrader = new WebSocketUpgrader({
    allowedOrigins: settings.allowedOrigins,
    maxConnections: settings.maxConnections,
    maxConnectionsPerAddress: settings.maxConnectionsPerAddress,
    idleTimeoutSeconds: settings.idleTimeoutSeconds,
    session: {
      readTimeoutMs: settings.readTimeoutMs,
      maxMessageBytes: settings.maxMessageBytes,
      maxSendBufferBytes: settings.maxSendBufferBytes,
      maxReadQueueBytes: settings.maxReadQueueBytes,
      closeTimeoutMs: settings.closeTimeoutMs,
    },
    ids: worker ? { first: worker.index + 1, step: worker.count } : undefined,
    topics,
    metrics,
    logger,
  });
  let ready = true;
  const handler = createRouter(app, {
    upgrader,
    serveStatic,
    notReady: () =>
      !ready ? "shutting down" : settings.readyRequiresBackplane && settings.backplane !== null &&
          metrics.backplane?.up !== true
        ? "backplane down"
        : null,
    metrics,
    logger,
  });

  const serveOptions = {
    port: settings.port,
    hostname: settings.hostname,
    reusePort,
    onListen(addr: Deno.NetAddr) {
      if (worker) return;
      logger.info("server.listening", {
        url: listeningUrl(addr, settings.tls !== null),
        static_dir: staticDir ?? undefined,
      });
    },
    onError(error: unknown) {
      logger.error("server.handler_failed", { error: String(error) });
      return textResponse(500, "internal error");
    },
  };
  const listener = serveResilient(
    settings.tls ? { ...serveOptions, ...settings.tls } : serveOptions,
    handler,
    { logger },
  );

  upgrader.localPort = listener.addr.port;
  let stopping: Promise<ShutdownReport> | undefined;
  return {
    addr: listener.addr,
    metrics,
    get ready() {
      return ready;
    },
    handler,
    publish: (topic, data) => void topics.publish(topic, data),
    subscriberCount: (topic) => topics.subscriberCount(topic),
    sessionsClosed: () => upgrader.sessionsClosed(),
    finished: listener.finished,
    shutdown() {
      stopping ??= (async () => {
        ready = false;
        logger.info("server.shutdown", { sessions: upgrader.sessionCount });
        // Peers still sending are heard out for half the deadline; the rest is for the closes.
        const { cut } = await upgrader.closeAll(
          CloseCode.GoingAway,
          "server shutting down",
          settings.shutdownDeadlineMs / 2,
        );
        if (cut > 0) {
          logger.error("server.sessions_cut", {
            sessions: cut,
            why: "the peer never confirmed the 1001 close before its connection ended",
          });
        }
        await listener.shutdown();
        // Publishes still gathered for the hub go now; the turn clock lets the thread end.
        topics.close();
        logger.info("server.stopped", {});
        return { sessionsCut: cut };
      })();
      return stopping;
    },
  };
}

/** The URL a listener serves, for the `server.listening` line. */
export function listeningUrl(addr: Deno.NetAddr, tls: boolean): string {
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return `${tls ? "https" : "http"}://${host}:${addr.port}/`;
}
