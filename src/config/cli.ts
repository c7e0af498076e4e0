/**
 * The command line's settings: flags and environment variables (a flag wins) over the
 * defaults of {@link ./settings.ts}, each error naming the flag or variable the user set.
 *
 * Every setting has a flag `--name=value` (or `--name value`) and an environment variable
 * `WS_NAME`. Durations take `ms`, `s` or `m` (a bare number is seconds); sizes take `B`,
 * `KiB`, `MiB` or `GiB` (a bare number is bytes).
 *
 * @example
 * ```ts
 * import { parseConfig } from "./cli.ts";
 *
 * const config = parseConfig(["--port=9000", "--log-format=json"], {});
 * console.log(config.port, config.logFormat); // 9000 "json"
 * ```
 * @module
 */

import { LOG_FORMATS, LOG_LEVELS } from "../log.ts";
import { fileDescriptorLimit } from "./fd_limit.ts";
import { ConfigError, RESERVED_FILE_DESCRIPTORS, resolveSettings } from "./settings.ts";
import { oneOf, parseBytes, parseDurationMs, parseInteger } from "./values.ts";

export { parseBytes, parseDurationMs };
import type { ServerSettings } from "./settings.ts";

/** What the command line sets: the server's settings and the app it serves. */
export interface CliConfig extends ServerSettings {
  /** The app module to serve (its default export), as a path or URL. @default {"apps/app.ts"} */
  app: string;
}

/** The app `deno task start` serves. */
export const DEFAULT_APP: string = new URL("../../apps/app.ts", import.meta.url).href;

/** Thrown by {@linkcode parseConfig} when `--help` is given; its message is the help text. */
export class HelpRequested extends Error {
  /** Creates it with the help text. */
  constructor() {
    super(helpText());
    this.name = "HelpRequested";
  }
}

/** How one setting is read: its flag, environment variable, help text and parser. */
interface Setting {
  flag: string;
  env: string;
  value: string;
  help: string;
  /** The setting it sets, if one field. */
  key?: keyof CliConfig;
  apply(config: Partial<CliConfig>, raw: string, files: FileReads): void;
}

/** Reads TLS files after all settings are known, since cert and key come as a pair. */
interface FileReads {
  tlsCertFile?: string;
  tlsKeyFile?: string;
}

const SETTINGS: Setting[] = [
  {
    flag: "--app",
    key: "app",
    env: "WS_APP",
    value: "FILE",
    help: "app module to serve: its default export declares the routes [apps/app.ts]",
    apply: (c, raw) => {
      if (raw.trim() === "") throw new ConfigError("--app", "must not be empty");
      c.app = appUrl(raw.trim());
    },
  },
  {
    flag: "--port",
    key: "port",
    env: "WS_PORT",
    value: "PORT",
    help: "TCP port (0 picks a free one) [8181]",
    apply: (c, raw) => c.port = parseInteger("--port", raw, 0, 65535),
  },
  {
    flag: "--hostname",
    key: "hostname",
    env: "WS_HOSTNAME",
    value: "HOST",
    help: "interface to listen on [0.0.0.0]",
    apply: (c, raw) => {
      if (raw.trim() === "") throw new ConfigError("--hostname", "must not be empty");
      c.hostname = raw.trim();
    },
  },
  {
    flag: "--static-dir",
    key: "staticDir",
    env: "WS_STATIC_DIR",
    value: "DIR",
    help: "directory of static files, instead of the app's [the app's]",
    apply: (c, raw) => c.staticDir = raw,
  },
  {
    flag: "--allowed-origins",
    key: "allowedOrigins",
    env: "WS_ALLOWED_ORIGINS",
    value: "LIST",
    help: "comma-separated origins allowed to open WebSockets, or * [own origin only]",
    apply: (c, raw) => {
      c.allowedOrigins = raw.split(",").map((o) => o.trim()).filter((o) => o !== "");
      for (const origin of c.allowedOrigins) {
        if (origin !== "*" && !/^https?:\/\/[^/\s]+$/.test(origin)) {
          throw new ConfigError(
            "--allowed-origins",
            `"${origin}" is not an origin like https://example.com`,
          );
        }
      }
    },
  },
  {
    flag: "--idle-timeout",
    key: "idleTimeoutSeconds",
    env: "WS_IDLE_TIMEOUT",
    value: "DURATION",
    help: "drop a WebSocket whose peer misses a ping for this long; 0 disables [120s]",
    apply: (c, raw) => {
      const ms = parseDurationMs("--idle-timeout", raw);
      if (ms % 1000 !== 0) throw new ConfigError("--idle-timeout", "must be whole seconds");
      c.idleTimeoutSeconds = ms / 1000;
    },
  },
  {
    flag: "--read-timeout",
    key: "readTimeoutMs",
    env: "WS_READ_TIMEOUT",
    value: "DURATION",
    help: "close a session that sends nothing for this long; 0 waits forever [0]",
    apply: (c, raw) => c.readTimeoutMs = parseDurationMs("--read-timeout", raw),
  },
  {
    flag: "--max-message-size",
    key: "maxMessageBytes",
    env: "WS_MAX_MESSAGE_SIZE",
    value: "SIZE",
    help: "largest message; larger closes with 1009 (Deno caps frames at 64MiB) [16MiB]",
    apply: (c, raw) => c.maxMessageBytes = parseBytes("--max-message-size", raw),
  },
  {
    flag: "--max-send-buffer",
    key: "maxSendBufferBytes",
    env: "WS_MAX_SEND_BUFFER",
    value: "SIZE",
    help: "unsent bytes per session before it closes with 1008 [16MiB]",
    apply: (c, raw) => c.maxSendBufferBytes = parseBytes("--max-send-buffer", raw),
  },
  {
    flag: "--max-read-queue",
    key: "maxReadQueueBytes",
    env: "WS_MAX_READ_QUEUE",
    value: "SIZE",
    help: "received, unhandled bytes per session before it closes with 1008 [2 x max message]",
    apply: (c, raw) => c.maxReadQueueBytes = parseBytes("--max-read-queue", raw),
  },
  {
    flag: "--max-connections",
    key: "maxConnections",
    env: "WS_MAX_CONNECTIONS",
    value: "N",
    help: "WebSocket sessions open at once; more get 503 [open-files limit - 64]",
    apply: (c, raw) => c.maxConnections = parseInteger("--max-connections", raw, 1, 10_000_000),
  },
  {
    flag: "--max-connections-per-address",
    key: "maxConnectionsPerAddress",
    env: "WS_MAX_CONNECTIONS_PER_ADDRESS",
    value: "N",
    help: "sessions open at once per client IP; 0 is no limit [0]",
    apply: (c, raw) =>
      c.maxConnectionsPerAddress = parseInteger(
        "--max-connections-per-address",
        raw,
        0,
        10_000_000,
      ),
  },
  {
    flag: "--shutdown-deadline",
    key: "shutdownDeadlineMs",
    env: "WS_SHUTDOWN_DEADLINE",
    value: "DURATION",
    help: "longest graceful shutdown before exiting anyway [5s]",
    apply: (c, raw) => c.shutdownDeadlineMs = parseDurationMs("--shutdown-deadline", raw),
  },
  {
    flag: "--close-timeout",
    key: "closeTimeoutMs",
    env: "WS_CLOSE_TIMEOUT",
    value: "DURATION",
    help: "reset a connection whose peer has not answered the server's close by then [10s]",
    apply: (c, raw) => c.closeTimeoutMs = parseDurationMs("--close-timeout", raw),
  },
  {
    flag: "--log-format",
    key: "logFormat",
    env: "WS_LOG_FORMAT",
    value: "FORMAT",
    help: "text or json [text]",
    apply: (c, raw) => c.logFormat = oneOf("--log-format", raw, LOG_FORMATS),
  },
  {
    flag: "--log-level",
    key: "logLevel",
    env: "WS_LOG_LEVEL",
    value: "LEVEL",
    help: "debug, info, warn or error (debug logs message contents) [info]",
    apply: (c, raw) => c.logLevel = oneOf("--log-level", raw, LOG_LEVELS),
  },
  {
    flag: "--max-topics-per-session",
    key: "maxTopicsPerSession",
    env: "WS_MAX_TOPICS_PER_SESSION",
    value: "N",
    help: "topics one session may subscribe to [100]",
    apply: (c, raw) =>
      c.maxTopicsPerSession = parseInteger("--max-topics-per-session", raw, 1, 1_000_000),
  },
  {
    flag: "--workers",
    key: "workers",
    env: "WS_WORKERS",
    value: "N",
    help: "listeners sharing the port, one per thread; use the core count to scale [1]",
    apply: (c, raw) => c.workers = parseInteger("--workers", raw, 1, 256),
  },
  {
    flag: "--backplane",
    key: "backplane",
    env: "WS_BACKPLANE",
    value: "URL",
    help:
      "redis://[user:password@]host:port[/db] (rediss:// for TLS): topics across instances [none]",
    apply: (c, raw) => c.backplane = raw.trim(),
  },
  {
    flag: "--backplane-prefix",
    key: "backplanePrefix",
    env: "WS_BACKPLANE_PREFIX",
    value: "NAME",
    help: "prefix of the backplane's Redis channels [ws]",
    apply: (c, raw) => c.backplanePrefix = raw.trim(),
  },
  {
    flag: "--node-id",
    key: "nodeId",
    env: "WS_NODE_ID",
    value: "NAME",
    help: "this instance's name on the backplane [host-pid-random]",
    apply: (c, raw) => c.nodeId = raw.trim(),
  },
  {
    flag: "--backplane-timeout",
    key: "backplaneTimeoutMs",
    env: "WS_BACKPLANE_TIMEOUT",
    value: "DURATION",
    help: "connect or ping timeout before the backplane counts as down [2s]",
    apply: (c, raw) => c.backplaneTimeoutMs = parseDurationMs("--backplane-timeout", raw),
  },
  {
    flag: "--ready-requires-backplane",
    key: "readyRequiresBackplane",
    env: "WS_READY_REQUIRES_BACKPLANE",
    value: "BOOL",
    help: "/readyz answers 503 while the backplane is down (true or false) [false]",
    apply: (c, raw) =>
      c.readyRequiresBackplane = oneOf("--ready-requires-backplane", raw, ["true", "false"]) ===
        "true",
  },
  {
    flag: "--tls-cert",
    key: "tls",
    env: "WS_TLS_CERT",
    value: "FILE",
    help: "PEM certificate chain; with --tls-key serves HTTPS and WSS [none]",
    apply: (_c, raw, files) => files.tlsCertFile = raw,
  },
  {
    flag: "--tls-key",
    key: "tls",
    env: "WS_TLS_KEY",
    value: "FILE",
    help: "PEM private key for --tls-cert [none]",
    apply: (_c, raw, files) => files.tlsKeyFile = raw,
  },
];

/** The `--help` text: every setting with its flag, environment variable and default. */
export function helpText(): string {
  const lines = [
    "Usage: deno run -P main.ts [options]",
    "",
    "Serves an app: its WebSocket routes, its HTTP routes and its static files (by default the",
    'echo app: WebSocket echo on /echo, subprotocol "echo", and the demo page).',
    "Each option can also be set by its environment variable; a flag wins.",
    "",
  ];
  for (const s of SETTINGS) {
    lines.push(`  ${`${s.flag}=${s.value}`.padEnd(36)} ${s.env.padEnd(32)} ${s.help}`);
  }
  lines.push(`  ${"--help".padEnd(36)} ${"".padEnd(32)} show this text`);
  return lines.join("\n");
}

function readPem(flag: string, path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "no such file" : String(error);
    throw new ConfigError(flag, `cannot read "${path}": ${why}`);
  }
}

/** Throws a {@linkcode ConfigError} for `setting` unless `path` is a readable directory. */
export function checkStaticDir(setting: string, path: string): void {
  const fail = (error: unknown): never => {
    const why = error instanceof Deno.errors.NotFound ? "no such directory" : String(error);
    throw new ConfigError(setting, `cannot read "${path}": ${why}`);
  };
  let info: Deno.FileInfo | undefined;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    fail(error);
  }
  if (!info?.isDirectory) throw new ConfigError(setting, `"${path}" is not a directory`);
  try {
    Deno.readDirSync(path)[Symbol.iterator]().next();
  } catch (error) {
    fail(error);
  }
}

/**
 * How the user gave the setting the library calls `key` (`staticDir` → `--static-dir`, or
 * `WS_STATIC_DIR` when only the variable is set); other names stay as they are.
 */
export function settingName(
  key: string,
  args: string[],
  env: Record<string, string | undefined>,
): string {
  const setting = SETTINGS.find((s) => s.key === key);
  if (!setting) return key;
  const flagged = args.some((arg) => arg === setting.flag || arg.startsWith(`${setting.flag}=`));
  return !flagged && env[setting.env] !== undefined ? setting.env : setting.flag;
}

/** An app path as a module URL: relative paths are from the working directory. */
function appUrl(path: string): string {
  if (/^(file|https?):/.test(path)) return path;
  const absolute = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  return new URL(`file://${absolute.split("/").map(encodeURIComponent).join("/")}`).href;
}

/**
 * Builds the configuration from `args` (flags) over `env` (environment variables) over the
 * defaults, and validates it: the static directory must be readable, and TLS files readable
 * and given as a pair. Without `--max-connections` it asks `prlimit` for this process's
 * open-files limit (the permission set allows running only it): a command-line concern.
 *
 * @throws {ConfigError} for a bad or unknown setting, named as the user gave it.
 * @throws {HelpRequested} for `--help`.
 */
export function parseConfig(args: string[], env: Record<string, string | undefined>): CliConfig {
  const given: Partial<CliConfig> = {};
  const files: FileReads = {};
  const byFlag = new Map(SETTINGS.map((s) => [s.flag, s]));
  const fromFlags = new Map<Setting, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") throw new HelpRequested();
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const setting = byFlag.get(flag);
    if (!setting) throw new ConfigError(flag, "unknown option (see --help)");
    if (eq !== -1) fromFlags.set(setting, arg.slice(eq + 1));
    else if (i + 1 < args.length) fromFlags.set(setting, args[++i]);
    else throw new ConfigError(flag, "missing value");
  }
  /** How each setting was given: its flag, or its variable when only that was set. */
  const names = new Map<string, string>();
  for (const setting of SETTINGS) {
    const flagged = fromFlags.get(setting);
    const raw = flagged ?? env[setting.env];
    if (setting.key) {
      names.set(
        setting.key,
        flagged === undefined && raw !== undefined ? setting.env : setting.flag,
      );
    }
    if (raw === undefined) continue;
    try {
      setting.apply(given, raw, files);
    } catch (error) {
      // Name what the user actually set: WS_PORT=abc is an environment variable, not --port.
      if (flagged !== undefined || !(error instanceof ConfigError)) throw error;
      throw new ConfigError(setting.env, error.problem);
    }
  }
  if ((files.tlsCertFile === undefined) !== (files.tlsKeyFile === undefined)) {
    const missing = files.tlsCertFile === undefined ? "--tls-cert" : "--tls-key";
    throw new ConfigError(missing, "TLS needs both --tls-cert and --tls-key");
  }
  if (files.tlsCertFile !== undefined && files.tlsKeyFile !== undefined) {
    given.tls = {
      cert: readPem("--tls-cert", files.tlsCertFile),
      key: readPem("--tls-key", files.tlsKeyFile),
    };
  }
  if (given.maxConnections === undefined) {
    const limit = fileDescriptorLimit();
    if (limit !== null) given.maxConnections = Math.max(1, limit - RESERVED_FILE_DESCRIPTORS);
  }
  const { app = DEFAULT_APP, ...settings } = given;
  const resolved = resolveSettings(settings, (key) => names.get(key) ?? key);
  if (resolved.staticDir !== null) checkStaticDir(names.get("staticDir")!, resolved.staticDir);
  return { ...resolved, app };
}
