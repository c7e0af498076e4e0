/**
 * The command line's flags and environment variables, one entry per setting: its flag, its
 * variable, its help line and how its value is read.
 *
 * @module
 */

import { LOG_FORMATS, LOG_LEVELS } from "../log.ts";
import { ConfigError } from "./settings.ts";
import type { ServerSettings } from "./settings.ts";
import { oneOf, parseBytes, parseDurationMs, parseInteger } from "./values.ts";

/** What the command line sets: the server's settings and the app it serves. */
export interface CliConfig extends ServerSettings {
  /** The app module to serve (its default export), as a path or URL. @default {"apps/app.ts"} */
  app: string;
}

/** The app `deno task start` serves. */
export const DEFAULT_APP: string = new URL("../../apps/app.ts", import.meta.url).href;

/** How one setting is read: its flag, environment variable, help text and parser. */
export interface Setting {
  flag: string;
  env: string;
  value: string;
  help: string;
  /** The setting it sets, if one field. */
  key?: keyof CliConfig;
  apply(config: Partial<CliConfig>, raw: string, files: FileReads): void;
}

/** Reads TLS files after all settings are known, since cert and key come as a pair. */
export interface FileReads {
  tlsCertFile?: string;
  tlsKeyFile?: string;
}

export const SETTINGS: Setting[] = [
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

/** An app path as a module URL: relative paths are from the working directory. */
function appUrl(path: string): string {
  if (/^(file|https?):/.test(path)) return path;
  const absolute = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  return new URL(`file://${absolute.split("/").map(encodeURIComponent).join("/")}`).href;
}
