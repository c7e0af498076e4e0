/**
 * `serve(app, options)`: the library's entry, behaving as `deno task start` does. It serves
 * an app on one listener or on `workers` threads, and by default shuts down gracefully on
 * SIGINT or SIGTERM: every session gets 1001, then the process exits (0, or 1 when the
 * deadline passed or a peer never confirmed its close).
 *
 * @example
 * ```ts
 * import { serve } from "./serve.ts";
 *
 * // The app module's default export declares the routes; worker threads import it too.
 * const server = await serve(new URL("../apps/echo/app.ts", import.meta.url), {
 *   port: 0,
 *   signals: false,
 * });
 * await server.shutdown();
 * ```
 * @module
 */

import type { App } from "./app.ts";
import { ConfigError, resolveSettings } from "./config/settings.ts";
import { createLogger } from "./log.ts";
import type { Logger } from "./log.ts";
import { loadApp } from "./server/app_module.ts";
import { createServer } from "./server/server.ts";
import type { RunningServer, ServerOptions } from "./server/server.ts";
import { exitOnSignals } from "./server/signals.ts";
import { startWorkerPool } from "./server/worker_pool.ts";

/** Options for {@linkcode serve}: the server's settings, a logger, and signal handling. */
export interface ServeOptions extends Omit<ServerOptions, "reusePort" | "worker" | "hub"> {
  /**
   * Shut down gracefully on SIGINT and SIGTERM and exit the process when done; turn off in
   * tests and when embedding the server in a program that handles signals itself.
   * @default {true}
   */
  signals?: boolean;
  /** Where log lines go. @default {a logger built from logFormat and logLevel} */
  logger?: Logger;
}

/**
 * Serves `app`: the app itself, or the URL of a module whose default export is the app (needed
 * for `workers` above 1: every worker thread imports it). Resolves once listening.
 *
 * @throws {ConfigError} for a bad setting, or several workers with an app that is no module.
 */
export async function serve(
  app: App | URL | string,
  options: ServeOptions = {},
): Promise<RunningServer> {
  const { signals = true, logger: givenLogger, ...given } = options;
  const settings = resolveSettings(given);
  const logger = givenLogger ??
    createLogger({ level: settings.logLevel, format: settings.logFormat });
  const isModule = typeof app === "string" || app instanceof URL;
  if (settings.workers > 1 && !isModule) {
    throw new ConfigError("workers", "several workers need the app as a module URL to import");
  }
  // With a backplane the listeners run in worker threads even for one: its npm client stays
  // on the main thread, out of the isolates that serve WebSockets.
  if (settings.backplane !== null && !isModule) {
    throw new ConfigError("backplane", "a backplane needs the app as a module URL to import");
  }
  // Signals are handled from the start, so one that comes while workers start still stops them.
  const starting = settings.workers > 1 || settings.backplane !== null
    ? startWorkerPool(app as URL | string, settings, logger)
    : (isModule ? loadApp(app) : Promise.resolve(app)).then((loaded) =>
      createServer(loaded, { ...settings, logger })
    );
  if (!signals) return await starting;
  const stopHandling = exitOnSignals(
    { shutdown: async () => (await starting).shutdown() },
    { deadlineMs: settings.shutdownDeadlineMs, logger },
  );
  let server: RunningServer;
  try {
    server = await starting;
  } catch (error) {
    stopHandling();
    throw error;
  }
  return {
    addr: server.addr,
    publish: (topic, data) => server.publish(topic, data),
    subscriberCount: (topic) => server.subscriberCount(topic),
    // Shut down by the program: the signals need no handling any more.
    shutdown: () => server.shutdown().finally(stopHandling),
  };
}
