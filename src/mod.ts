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

export { createServer } from "./server.ts";
export type { Server, ServerOptions } from "./server.ts";
export { ConfigError, defaultConfig, parseConfig } from "./config.ts";
export type { ServerConfig } from "./config.ts";
export { WebSocketHandler } from "./websocket_handler.ts";
export type {
  HandlerProducer,
  SessionRequest,
  WebSocketHandlerOptions,
  WebSocketSessionHandler,
} from "./websocket_handler.ts";
export { CloseCode, WebSocketSession } from "./websocket_session.ts";
export type {
  CloseInfo,
  MessageListener,
  ReadOptions,
  WebSocketMessage,
} from "./websocket_session.ts";
export { EchoHandler, echoHandlerProducer } from "./echo_handler.ts";
export { createStaticHandler } from "./static_files.ts";
export { createLogger } from "./log.ts";
export type { LogFormat, Logger, LogLevel } from "./log.ts";
export { Metrics } from "./metrics.ts";
