/**
 * The server process: settings from flags and environment, the app (by default the echo app),
 * and graceful shutdown on signals.
 *
 * ```sh
 * deno task start                          # the echo app on port 8181, all interfaces
 * deno run -P main.ts --app=./my_app.ts    # your app, with every setting below
 * deno run -P main.ts --help               # every setting
 * ```
 * @module
 */

import { HelpRequested, parseConfig, settingName } from "./src/config/cli.ts";
import type { CliConfig } from "./src/config/cli.ts";
import { ConfigError } from "./src/config/settings.ts";
import { createLogger } from "./src/log.ts";
import { serve } from "./src/serve.ts";
import { defaultNodeId } from "./src/backplane/node_id.ts";

/** Exit status for a bad setting, as usual for command-line usage errors. */
const USAGE_EXIT_STATUS = 2;

function loadConfig(): CliConfig {
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
function listenFailure(error: unknown, config: CliConfig): string | null {
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
try {
  // The host name is probed here, on the command line, only when a backplane needs a node id.
  const nodeId = config.nodeId ??
    (config.backplane === null ? null : defaultNodeId(Deno.hostname()));
  await serve(config.app, { ...config, nodeId, logger });
} catch (error) {
  if (error instanceof ConfigError) {
    // Named as the user gave it: --app or WS_APP, not the library's option name.
    console.error(
      `error: ${settingName(error.setting, Deno.args, Deno.env.toObject())}: ${error.problem}`,
    );
    Deno.exit(USAGE_EXIT_STATUS);
  }
  const line = listenFailure(error, config);
  if (line === null) throw error;
  console.error(`error: ${line}`);
  Deno.exit(USAGE_EXIT_STATUS);
}
