/**
 * An app: what a server serves, declared once. WebSocket routes map a path to the
 * subprotocols it speaks and, for each, a factory that builds the session handler from the
 * live request; HTTP routes are URL patterns (in the spirit of std's `route()`); a static
 * directory answers every other path. The server answers `/healthz`, `/readyz` and
 * `/metrics` before any of them.
 *
 * @example
 * ```ts
 * import { type App, defineApp } from "./app.ts";
 *
 * const app: App = defineApp({
 *   websocket: {
 *     "/shout": {
 *       "shout.v1": () => (session) =>
 *         session.listen((data) => void session.send(String(data).toUpperCase())),
 *     },
 *   },
 *   http: [{ pattern: "/hello/:name", handler: (_req, match) => new Response(match.pathname.groups.name) }],
 * });
 * ```
 * @module
 */

import type { PubSub } from "./topics/registry.ts";
import type { WebSocketSession } from "./websocket/session.ts";

/**
 * Runs one session: an object with `handleSession` (a class, as Perfect's handlers) or just
 * the function. The session is open when it is called; when the returned promise settles,
 * the server closes the session if the handler has not (1011 if it threw).
 */
export type SessionHandler =
  | { handleSession(session: WebSocketSession): Promise<void> | void }
  | ((session: WebSocketSession) => Promise<void> | void);

/** What a session factory learns besides the request. */
export interface UpgradeInfo {
  /** The request URL, parsed once by the server. */
  url: URL;
  /** The client's TCP address (not a proxy's forwarded header). */
  remoteAddr: { hostname: string; port: number };
  /** The subprotocol chosen for this session: the client's first that the route speaks. */
  protocol: string;
  /** The listener's topics: counts, publishing, and this instance's `nodeId`. */
  pubsub: PubSub;
}

/**
 * Builds the handler of one session from the live request, before the upgrade (Deno empties
 * the request once upgraded, so copy what the handler needs; what is not copied costs
 * nothing). Returning a `Response` refuses the upgrade with it (for example a 401);
 * `null` refuses with 403.
 */
export type SessionFactory = (
  request: Request,
  info: UpgradeInfo,
) => SessionHandler | Response | null;

/**
 * One WebSocket route: subprotocol → the factory of its session handlers. The key `""`
 * accepts clients that offer no subprotocol. The 400 for a client that offers none of the
 * route's subprotocols lists these keys.
 */
export type WebSocketRoute = Record<string, SessionFactory>;

/** One HTTP route of the app's own, tried in order after the WebSocket paths. */
export interface HttpRoute {
  /** The URL pattern, or a pathname pattern such as `"/users/:id"`. */
  pattern: URLPattern | string;
  /** The methods it answers (others get 405 with `Allow`). @default {["GET", "HEAD"]} */
  method?: string | string[];
  /** Answers a request that matched. */
  handler: (
    request: Request,
    match: URLPatternResult,
    info: Deno.ServeHandlerInfo,
  ) => Response | Promise<Response>;
}

/** What a server serves. */
export interface App {
  /** WebSocket routes by exact path. @default {{}} */
  websocket?: Record<string, WebSocketRoute>;
  /** HTTP routes, tried in order. @default {[]} */
  http?: HttpRoute[];
  /** Directory of static files for every other path (a path or `file:` URL); none answers 404. @default {undefined} */
  static?: string | URL;
  /**
   * Runs once per listener (in each worker thread) before it serves, with its topics: to
   * publish from the app, or to follow subscriber counts. @default {undefined}
   */
  setup?: (pubsub: PubSub) => void;
}

/** Returns `app` as it is: a helper for type-checking an app declared in its own module. */
export function defineApp(app: App): App {
  return app;
}
