/**
 * The server process: configuration from flags and environment, the server, and signals.
 *
 * ```sh
 * deno task start            # port 8181, all interfaces
 * deno run -P main.ts --help # every setting
 * ```
 * @module
 */

import { ConfigError, HelpRequested, parseConfig } from "./src/config/config.ts";
import type { ServerConfig } from "./src/config/config.ts";
import { exitOnSignals } from "./src/server/lifecycle.ts";
import { createLogger } from "./src/log.ts";
import { createServer } from "./src/server/server.ts";
import { startWorkerPool } from "./src/server/worker_pool.ts";

/** Exit status for a bad setting, as usual for command-line usage errors. */
const USAGE_EXIT_STATUS = 2;

function loadConfig(): ServerConfig {
  try {
    return parseConfig(Deno.args, Deno.env.toObject());
  } catch (error) {
    if (error instanceof HelpRequested) {
      console.log(error.message);
      Deno.exit(0);
    }
    if (error instanceof ConfigError) {
      console.error(`error: ${error.message}`);
      Deno.exit(USAGE_EXIT_STATUS);
    }
    throw error;
  }
}

/**
 * A listen that failed, as one line naming the setting behind it, or `null` for any other
 * error. (A worker's failure reaches this thread as its message only.)
 */
function listenFailure(error: unknown, config: ServerConfig): string | null {
  const message = error instanceof Error ? error.message : String(error);
  const address = `${config.hostname}:${config.port}`;
  if (error instanceof Deno.errors.AddrInUse || /Address already in use/.test(message)) {
    return `--port: ${address} is already in use`;
  }
  if (error instanceof Deno.errors.AddrNotAvailable || /Cannot assign requested/.test(message)) {
    return `--hostname: ${config.hostname} is not an address of this machine`;
  }
  if (/failed to lookup address/.test(message)) {
    return `--hostname: cannot resolve "${config.hostname}"`;
  }
  if (error instanceof Deno.errors.PermissionDenied || /Permission denied/.test(message)) {
    return `--port: not allowed to listen on ${address} (ports below 1024 need privileges)`;
  }
  return null;
}

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, format: config.logFormat });
// One listener on this thread, or one per worker thread sharing the port. Signals are
// handled from the start, so one that comes while workers start up still stops them.
const server = config.workers > 1
  ? startWorkerPool(config)
  : Promise.resolve().then(() => createServer({ ...config, logger }));
exitOnSignals(
  { shutdown: async () => (await server).shutdown() },
  { deadlineMs: config.shutdownDeadlineMs, logger },
);
try {
  await server;
} catch (error) {
  const line = listenFailure(error, config);
  if (line === null) throw error;
  console.error(`error: ${line}`);
  Deno.exit(USAGE_EXIT_STATUS);
}
