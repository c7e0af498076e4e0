/**
 * The request handler of a server, from its app's declaration:
 *
 * ```
 * /healthz /readyz /metrics → operability answers (no route can shadow them)
 * a WebSocket route's path  → the upgrader, with that route's subprotocols
 * an HTTP route's pattern   → its handler (405 with Allow for another method)
 * anything else             → static files, or 404 when the app has none
 * ```
 * The URL is parsed once here ({@linkcode parseRequestUrl}); a bad `Host` is a 400 on every
 * path.
 *
 * @module
 */

import type { App, HttpRoute, WebSocketRoute } from "../app.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { WebSocketUpgrader } from "../websocket/upgrader.ts";
import { BAD_HOST_MESSAGE, parseRequestUrl } from "./request_url.ts";
import { textResponse } from "./responses.ts";

/** What the router needs besides the app. */
export interface RouterOptions {
  /** Upgrades requests on WebSocket paths. */
  upgrader: WebSocketUpgrader;
  /** Serves every other path; `null` answers 404. */
  serveStatic: ((request: Request, url: URL) => Response | Promise<Response>) | null;
  /** Why `/readyz` answers 503, or `null` when it answers 200. */
  notReady: () => string | null;
  /** Counters, also rendered at `/metrics`. */
  metrics: Metrics;
  /** Where refusals are logged. */
  logger: Logger;
}

/** An HTTP route with its pattern compiled and its methods listed. */
interface CompiledRoute {
  pattern: URLPattern;
  methods: string[];
  handler: HttpRoute["handler"];
}

const NO_STORE = { "cache-control": "no-store" };
const OPERABILITY_PATHS = ["/healthz", "/readyz", "/metrics"];

/**
 * Checks that no route shadows an operability path and compiles the HTTP routes.
 *
 * @throws {TypeError} for a WebSocket path that is not absolute or shadows `/healthz` etc.
 */
function compile(app: App): { websocket: Map<string, WebSocketRoute>; http: CompiledRoute[] } {
  const websocket = new Map(Object.entries(app.websocket ?? {}));
  for (const path of websocket.keys()) {
    if (!path.startsWith("/") || OPERABILITY_PATHS.includes(path)) {
      throw new TypeError(
        `WebSocket route "${path}": must start with / and not be ${OPERABILITY_PATHS.join(", ")}`,
      );
    }
  }
  const http = (app.http ?? []).map((route) => ({
    pattern: typeof route.pattern === "string"
      ? new URLPattern({ pathname: route.pattern })
      : route.pattern,
    methods: [route.method ?? ["GET", "HEAD"]].flat().map((m) => m.toUpperCase()),
    handler: route.handler,
  }));
  return { websocket, http };
}

/** Builds the request handler for `app`. */
export function createRouter(app: App, options: RouterOptions): Deno.ServeHandler {
  const { upgrader, serveStatic, notReady, metrics, logger } = options;
  const { websocket, http } = compile(app);

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

  /** The first HTTP route whose pattern and method match; 405 when only a pattern does. */
  function routeHttp(request: Request, url: URL, info: Deno.ServeHandlerInfo) {
    let allowed: string[] | undefined;
    for (const route of http) {
      const match = route.pattern.exec(url);
      if (match === null) continue;
      if (route.methods.includes(request.method)) return route.handler(request, match, info);
      (allowed ??= []).push(...route.methods);
    }
    if (allowed === undefined) return undefined;
    return textResponse(405, `method ${request.method} not allowed`, {
      headers: { allow: [...new Set(allowed)].join(", ") },
    });
  }

  return (request, info) => {
    const url = parseRequestUrl(request);
    if (url === null) return badHost(request);
    const path = url.pathname;
    const route = websocket.get(path);
    if (route !== undefined) return upgrader.handle(request, info, url, path, route);
    switch (path) {
      case "/healthz":
        return operability(request, 200, "ok");
      case "/readyz": {
        const why = notReady();
        return why === null ? operability(request, 200, "ready") : operability(request, 503, why);
      }
      case "/metrics":
        return operability(
          request,
          200,
          metrics.render().trimEnd(),
          "text/plain; version=0.0.4; charset=utf-8",
        );
    }
    if (http.length > 0) {
      const answer = routeHttp(request, url, info);
      if (answer !== undefined) return answer;
    }
    if (serveStatic !== null) return serveStatic(request, url);
    return textResponse(404, `not found: ${path}`);
  };
}
