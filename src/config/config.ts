/**
 * Server settings: defaults, parsing from command-line flags and environment variables (a
 * flag wins), and validation that names the setting and the problem.
 *
 * Every setting has a flag `--name=value` (or `--name value`) and an environment variable
 * `WS_NAME`. Durations take `ms`, `s` or `m` (a bare number is seconds); sizes take `B`,
 * `KiB`, `MiB` or `GiB` (a bare number is bytes).
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 *
 * const config = parseConfig(["--port=9000", "--log-format=json"], {});
 * console.log(config.port, config.logFormat); // 9000 "json"
 * ```
 * @module
 */

import { LOG_FORMATS, LOG_LEVELS } from "../log.ts";
import type { LogFormat, LogLevel } from "../log.ts";

/** Everything the server can be told. */
export interface ServerConfig {
  /** TCP port; `0` picks a free one. Default: 8181. */
  port: number;
  /** Interface to listen on. Default: `0.0.0.0` (all IPv4 interfaces). */
  hostname: string;
  /** Directory of static files. Default: the `static/` folder beside `src/`. */
  staticDir: string;
  /** Origins allowed to open WebSockets besides the server's own; `*` allows all. Default: none. */
  allowedOrigins: string[];
  /** Seconds without a pong before Deno drops a WebSocket; `0` disables pings. Default: 120 (Deno's). */
  idleTimeoutSeconds: number;
  /** Milliseconds a session waits for a message before it is closed; `0` waits forever. Default: 0. */
  readTimeoutMs: number;
  /** Largest WebSocket message accepted; larger closes with 1009. Default: 16 MiB (Bun's). */
  maxMessageBytes: number;
  /** Unsent bytes allowed per session before it is closed with 1008. Default: 16 MiB (Bun's). */
  maxSendBufferBytes: number;
  /** Received, unhandled bytes allowed per session before it is closed with 1008. Default: 2 × max message. */
  maxReadQueueBytes: number;
  /** Sessions open at once; more get 503. Default: the file-descriptor limit less 64. */
  maxConnections: number;
  /** Sessions open at once per client IP; `0` is no limit. Default: 0 (behind a proxy all share one IP). */
  maxConnectionsPerAddress: number;
  /** Milliseconds a graceful shutdown may take before the process exits anyway. Default: 5000. */
  shutdownDeadlineMs: number;
  /**
   * Milliseconds a close sent by the server (a limit, shutdown, the handler) waits for the
   * peer's answer before the connection is reset and its memory freed. Default: 10000.
   */
  closeTimeoutMs: number;
  /** Log line format. Default: `text`. */
  logFormat: LogFormat;
  /** Lowest level logged. Default: `info`. */
  logLevel: LogLevel;
  /**
   * Listeners, one per worker thread, sharing the port through `SO_REUSEPORT` (Linux), so the
   * server can use every core. Default: 1 (no worker threads).
   */
  workers: number;
  /** PEM certificate chain and key; when set the server speaks HTTPS and WSS. Default: none. */
  tls: { cert: string; key: string } | null;
}

/** A setting with a bad value: its message names the setting and the problem. */
export class ConfigError extends Error {
  /** How the user set it: its flag (`--port`) or environment variable (`WS_PORT`). */
  readonly setting: string;
  /** What is wrong with it, without the setting's name. */
  readonly problem: string;

  /** Creates the error for `setting`. */
  constructor(setting: string, problem: string) {
    super(`${setting}: ${problem}`);
    this.name = "ConfigError";
    this.setting = setting;
    this.problem = problem;
  }
}

/** Thrown by {@linkcode parseConfig} when `--help` is given; its message is the help text. */
export class HelpRequested extends Error {
  /** Creates it with the help text. */
  constructor() {
    super(helpText());
    this.name = "HelpRequested";
  }
}

/** File descriptors kept for files, the listener and the runtime when sizing `maxConnections`. */
const RESERVED_FILE_DESCRIPTORS = 64;

/** `maxConnections` when the open-files limit cannot be learnt: Linux's usual 4096, less the reserve. */
const FALLBACK_MAX_CONNECTIONS = 4096 - RESERVED_FILE_DESCRIPTORS;

/**
 * The open-files limit of this process, or `null` when it cannot be learnt. Deno raises its
 * soft limit to the hard one at start, and its sandbox hides `/proc/self/limits` unless run
 * with `-A`, so this asks util-linux's `prlimit` (the permission set allows running only it).
 */
export function fileDescriptorLimit(): number | null {
  if (knownFileDescriptorLimit === undefined) knownFileDescriptorLimit = askPrlimit();
  return knownFileDescriptorLimit;
}

/** The limit once learnt: it does not change while the process runs. */
let knownFileDescriptorLimit: number | null | undefined;

function askPrlimit(): number | null {
  try {
    const { success, stdout } = new Deno.Command("prlimit", {
      args: ["--pid", String(Deno.pid), "--nofile", "--raw", "--noheadings", "--output=SOFT"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const text = new TextDecoder().decode(stdout).trim();
    return success && /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

/**
 * The local path of a `file:` URL. Not `node:url`'s `fileURLToPath`: loading Deno's Node layer
 * adds over a megabyte to the heap, which every full collection marks.
 */
function filePath(url: URL): string {
  const path = decodeURIComponent(url.pathname);
  // file:///C:/dir → C:\dir
  return Deno.build.os === "windows" ? path.slice(1).replaceAll("/", "\\") : path;
}

/** Defaults, with `maxConnections` sized to this process's file-descriptor limit. */
export function defaultConfig(): ServerConfig {
  const fdLimit = fileDescriptorLimit();
  const maxMessageBytes = 16 * 1024 * 1024;
  return {
    port: 8181,
    hostname: "0.0.0.0",
    staticDir: filePath(new URL("../../static", import.meta.url)),
    allowedOrigins: [],
    idleTimeoutSeconds: 120,
    readTimeoutMs: 0,
    maxMessageBytes,
    maxSendBufferBytes: 16 * 1024 * 1024,
    maxReadQueueBytes: 2 * maxMessageBytes,
    maxConnections: fdLimit === null
      ? FALLBACK_MAX_CONNECTIONS
      : Math.max(1, fdLimit - RESERVED_FILE_DESCRIPTORS),
    maxConnectionsPerAddress: 0,
    shutdownDeadlineMs: 5000,
    closeTimeoutMs: 10_000,
    logFormat: "text",
    logLevel: "info",
    workers: 1,
    tls: null,
  };
}

/** How one setting is read: its flag, environment variable, help text and parser. */
interface Setting {
  flag: string;
  env: string;
  value: string;
  help: string;
  apply(config: ServerConfig, raw: string, files: FileReads): void;
}

/** Reads TLS files after all settings are known, since cert and key come as a pair. */
interface FileReads {
  tlsCertFile?: string;
  tlsKeyFile?: string;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, "": 1000 };
const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
};

function parseInteger(flag: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim())) {
    throw new ConfigError(flag, `expected a whole number, got "${raw}"`);
  }
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(flag, `must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

/** Parses `500ms`, `30s`, `2m` or a bare number of seconds into milliseconds. */
export function parseDurationMs(flag: string, raw: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|)\s*$/i.exec(raw);
  if (!match) throw new ConfigError(flag, `expected a duration like 30s or 500ms, got "${raw}"`);
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2].toLowerCase()]);
}

/** Parses `16MiB`, `64KiB`, `1024` (bytes) and the like into bytes. */
export function parseBytes(flag: string, raw: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b|)\s*$/i.exec(raw);
  if (!match) throw new ConfigError(flag, `expected a size like 16MiB or 65536, got "${raw}"`);
  const bytes = Math.floor(Number(match[1]) * SIZE_UNITS[match[2].toLowerCase()]);
  if (bytes < 1) throw new ConfigError(flag, "must be at least 1 byte");
  return bytes;
}

function oneOf<T extends string>(flag: string, raw: string, values: readonly T[]): T {
  if (!(values as readonly string[]).includes(raw)) {
    throw new ConfigError(flag, `expected one of ${values.join(", ")}, got "${raw}"`);
  }
  return raw as T;
}

const SETTINGS: Setting[] = [
  {
    flag: "--port",
    env: "WS_PORT",
    value: "PORT",
    help: "TCP port (0 picks a free one) [8181]",
    apply: (c, raw) => c.port = parseInteger("--port", raw, 0, 65535),
  },
  {
    flag: "--hostname",
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
    env: "WS_STATIC_DIR",
    value: "DIR",
    help: "directory of static files [static/]",
    apply: (c, raw) => c.staticDir = raw,
  },
  {
    flag: "--allowed-origins",
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
    env: "WS_READ_TIMEOUT",
    value: "DURATION",
    help: "close a session that sends nothing for this long; 0 waits forever [0]",
    apply: (c, raw) => c.readTimeoutMs = parseDurationMs("--read-timeout", raw),
  },
  {
    flag: "--max-message-size",
    env: "WS_MAX_MESSAGE_SIZE",
    value: "SIZE",
    help: "largest message; larger closes with 1009 (Deno caps frames at 64MiB) [16MiB]",
    apply: (c, raw) => c.maxMessageBytes = parseBytes("--max-message-size", raw),
  },
  {
    flag: "--max-send-buffer",
    env: "WS_MAX_SEND_BUFFER",
    value: "SIZE",
    help: "unsent bytes per session before it closes with 1008 [16MiB]",
    apply: (c, raw) => c.maxSendBufferBytes = parseBytes("--max-send-buffer", raw),
  },
  {
    flag: "--max-read-queue",
    env: "WS_MAX_READ_QUEUE",
    value: "SIZE",
    help: "received, unhandled bytes per session before it closes with 1008 [2 x max message]",
    apply: (c, raw) => c.maxReadQueueBytes = parseBytes("--max-read-queue", raw),
  },
  {
    flag: "--max-connections",
    env: "WS_MAX_CONNECTIONS",
    value: "N",
    help: "WebSocket sessions open at once; more get 503 [open-files limit - 64]",
    apply: (c, raw) => c.maxConnections = parseInteger("--max-connections", raw, 1, 10_000_000),
  },
  {
    flag: "--max-connections-per-address",
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
    env: "WS_SHUTDOWN_DEADLINE",
    value: "DURATION",
    help: "longest graceful shutdown before exiting anyway [5s]",
    apply: (c, raw) => c.shutdownDeadlineMs = parseDurationMs("--shutdown-deadline", raw),
  },
  {
    flag: "--close-timeout",
    env: "WS_CLOSE_TIMEOUT",
    value: "DURATION",
    help: "reset a connection whose peer has not answered the server's close by then [10s]",
    apply: (c, raw) => c.closeTimeoutMs = parseDurationMs("--close-timeout", raw),
  },
  {
    flag: "--log-format",
    env: "WS_LOG_FORMAT",
    value: "FORMAT",
    help: "text or json [text]",
    apply: (c, raw) => c.logFormat = oneOf("--log-format", raw, LOG_FORMATS),
  },
  {
    flag: "--log-level",
    env: "WS_LOG_LEVEL",
    value: "LEVEL",
    help: "debug, info, warn or error (debug logs message contents) [info]",
    apply: (c, raw) => c.logLevel = oneOf("--log-level", raw, LOG_LEVELS),
  },
  {
    flag: "--workers",
    env: "WS_WORKERS",
    value: "N",
    help: "listeners sharing the port, one per thread; use the core count to scale [1]",
    apply: (c, raw) => c.workers = parseInteger("--workers", raw, 1, 256),
  },
  {
    flag: "--tls-cert",
    env: "WS_TLS_CERT",
    value: "FILE",
    help: "PEM certificate chain; with --tls-key serves HTTPS and WSS [none]",
    apply: (_c, raw, files) => files.tlsCertFile = raw,
  },
  {
    flag: "--tls-key",
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
    'Serves WebSocket echo on /echo (subprotocol "echo") and static files on every other path.',
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

function checkStaticDir(path: string): void {
  const fail = (error: unknown): never => {
    const why = error instanceof Deno.errors.NotFound ? "no such directory" : String(error);
    throw new ConfigError("--static-dir", `cannot read "${path}": ${why}`);
  };
  let info: Deno.FileInfo | undefined;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    fail(error);
  }
  if (!info?.isDirectory) throw new ConfigError("--static-dir", `"${path}" is not a directory`);
  try {
    Deno.readDirSync(path)[Symbol.iterator]().next();
  } catch (error) {
    fail(error);
  }
}

/**
 * Builds the configuration from `args` (flags) over `env` (environment variables) over the
 * defaults, and validates it: the static directory must be readable, and TLS files readable
 * and given as a pair.
 *
 * @throws {ConfigError} for a bad or unknown setting.
 * @throws {HelpRequested} for `--help`.
 */
export function parseConfig(args: string[], env: Record<string, string | undefined>): ServerConfig {
  const config = defaultConfig();
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
  let readQueueSet = false;
  for (const setting of SETTINGS) {
    const flagged = fromFlags.get(setting);
    const raw = flagged ?? env[setting.env];
    if (raw === undefined) continue;
    try {
      setting.apply(config, raw, files);
    } catch (error) {
      // Name what the user actually set: WS_PORT=abc is an environment variable, not --port.
      if (flagged !== undefined || !(error instanceof ConfigError)) throw error;
      throw new ConfigError(setting.env, error.problem);
    }
    if (setting.flag === "--max-read-queue") readQueueSet = true;
  }
  if (!readQueueSet) config.maxReadQueueBytes = 2 * config.maxMessageBytes;
  if (config.maxReadQueueBytes < config.maxMessageBytes) {
    throw new ConfigError("--max-read-queue", "must be at least --max-message-size");
  }
  if ((files.tlsCertFile === undefined) !== (files.tlsKeyFile === undefined)) {
    const missing = files.tlsCertFile === undefined ? "--tls-cert" : "--tls-key";
    throw new ConfigError(missing, "TLS needs both --tls-cert and --tls-key");
  }
  if (files.tlsCertFile !== undefined && files.tlsKeyFile !== undefined) {
    config.tls = {
      cert: readPem("--tls-cert", files.tlsCertFile),
      key: readPem("--tls-key", files.tlsKeyFile),
    };
  }
  if (config.workers > 1 && config.port === 0) {
    throw new ConfigError("--workers", "several workers need a fixed --port to share");
  }
  checkStaticDir(config.staticDir);
  return config;
}
