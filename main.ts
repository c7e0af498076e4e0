/**
 * The server process: configuration from flags and environment, the server, and signals.
 *
 * ```sh
 * deno task start            # port 8181, all interfaces
 * deno run -P main.ts --help # every setting
 * ```
 * @module
 */

import { ConfigError, HelpRequested, parseConfig } from "./src/config.ts";
import type { ServerConfig } from "./src/config.ts";
import { exitOnSignals } from "./src/lifecycle.ts";
import { createLogger } from "./src/log.ts";
import { createServer } from "./src/server.ts";
import { startWorkerPool } from "./src/worker_pool.ts";

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

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, format: config.logFormat });
// One listener on this thread, or one per worker thread sharing the port. Signals are
// handled from the start, so one that comes while workers start up still stops them.
const server = config.workers > 1
  ? startWorkerPool(config)
  : Promise.resolve(createServer({ ...config, logger }));
exitOnSignals(
  { shutdown: async () => (await server).shutdown() },
  { deadlineMs: config.shutdownDeadlineMs, logger },
);
await server;
