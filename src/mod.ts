/**
 * The public API: build a server, or write your own session handlers.
 *
 * @example
 * ```ts
 * import { createServer, type SessionRequest, type WebSocketSession } from "./mod.ts";
 *
 * class ShoutHandler {
 *   readonly socketProtocol = "shout";
 *   async handleSession(_request: SessionRequest, session: WebSocketSession) {
 *     for await (const message of session) {
 *       if (message.kind === "text") await session.sendText(message.data.toUpperCase());
 *     }
 *   }
 * }
 * const server = createServer({
 *   port: 0,
 *   producer: (_request, protocols) => protocols.includes("shout") ? new ShoutHandler() : null,
 *   supportedProtocols: ["shout"],
 * });
 * await server.shutdown();
 * ```
 * @module
 */

export { createServer } from "./server/server.ts";
export type { Server, ServerOptions } from "./server/server.ts";
export { ConfigError, defaultConfig, parseConfig } from "./config/config.ts";
export type { ServerConfig } from "./config/config.ts";
export { WebSocketHandler } from "./websocket/route.ts";
export type {
  HandlerProducer,
  SessionRequest,
  WebSocketHandlerOptions,
  WebSocketSessionHandler,
} from "./websocket/route.ts";
export { CloseCode, WebSocketSession } from "./websocket/session.ts";
export type {
  CloseInfo,
  MessageListener,
  ReadOptions,
  WebSocketMessage,
} from "./websocket/session.ts";
export { EchoHandler, echoHandlerProducer } from "../apps/echo/echo_handler.ts";
export { createStaticHandler } from "./static/static_files.ts";
export { createLogger } from "./log.ts";
export type { LogFormat, Logger, LogLevel } from "./log.ts";
export { Metrics } from "./metrics.ts";
