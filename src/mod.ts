/**
 * A WebSocket server for Deno to build real-time apps on: declare an app's routes once, and
 * serve it with limits, an origin policy, metrics, TLS, worker threads and graceful shutdown.
 *
 * @example
 * ```ts
 * import { defineApp, serve, type WebSocketSession } from "./mod.ts";
 *
 * class ShoutHandler {
 *   async handleSession(session: WebSocketSession) {
 *     for await (const message of session) {
 *       if (message.kind === "text") await session.send(message.data.toUpperCase());
 *     }
 *   }
 * }
 * const app = defineApp({ websocket: { "/shout": { shout: () => new ShoutHandler() } } });
 * const server = await serve(app, { port: 0, signals: false });
 * await server.shutdown();
 * ```
 * @module
 */

export { defineApp } from "./app.ts";
export type {
  App,
  HttpRoute,
  SessionFactory,
  SessionHandler,
  UpgradeInfo,
  WebSocketRoute,
} from "./app.ts";
export { serve } from "./serve.ts";
export type { ServeOptions } from "./serve.ts";
export { createServer } from "./server/server.ts";
export type { RunningServer, Server, ServerOptions, ShutdownReport } from "./server/server.ts";
export { exitOnSignals } from "./server/signals.ts";
export type { ExitOnSignalsOptions, Stoppable } from "./server/signals.ts";
export { ConfigError, DEFAULT_SETTINGS, resolveSettings } from "./config/settings.ts";
export type { ServerSettings } from "./config/settings.ts";
export { WebSocketSession } from "./websocket/session.ts";
export { SessionCore } from "./websocket/session_core.ts";
export { SocketLifecycle } from "./websocket/socket_lifecycle.ts";
export { ShutdownDrain } from "./websocket/drain.ts";
export type { MessageListener } from "./websocket/session.ts";
export type {
  DrainActivity,
  DrainOptions,
  SessionLimits,
  SessionObserver,
  WebSocketSessionOptions,
} from "./websocket/session_options.ts";
export type { ReadOptions, WebSocketMessage } from "./websocket/reader.ts";
export { CloseCode } from "./websocket/close.ts";
export type { CloseInfo } from "./websocket/close.ts";
export { createLogger } from "./log.ts";
export type { LogFields, LogFormat, Logger, LoggerOptions, LogLevel } from "./log.ts";
export { TopicError } from "./topics/topic_name.ts";
export { TopicRegistry } from "./topics/registry.ts";
export { DEFAULT_BATCH_LIMITS, jsonArrayBatches } from "./topics/batching.ts";
export type { BatchFormat, JsonArrayBatchOptions } from "./topics/batching.ts";
export { MAX_TOPIC_BYTES } from "./topics/topic_name.ts";
export type {
  PublishOptions,
  PubSub,
  Subscriber,
  SubscriberCountListener,
  TopicRegistryOptions,
} from "./topics/registry.ts";
export type { BackplaneStats } from "./backplane/backplane.ts";
export { Metrics } from "./metrics.ts";
export type { MessageKind, TrafficCounters } from "./metrics.ts";
