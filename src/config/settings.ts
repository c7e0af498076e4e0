/**
 * Server settings: every default, written once, and {@linkcode resolveSettings}, which fills
 * the defaults in, derives the read-queue limit and checks the settings against each other.
 * The command line ({@link ./cli.ts}) and the library ({@linkcode createServer}, `serve`) both
 * go through it, so they cannot drift apart.
 *
 * @example
 * ```ts
 * import { resolveSettings } from "./settings.ts";
 *
 * const settings = resolveSettings({ maxMessageBytes: 64 * 1024 * 1024 });
 * console.log(settings.maxReadQueueBytes); // 134217728: two messages of the maximum
 * ```
 * @module
 */

import { backplaneUrlProblem } from "../backplane/backplane_url.ts";
import type { LogFormat, LogLevel } from "../log.ts";

/** Everything the server can be told. */
export interface ServerSettings {
  /** TCP port; `0` picks a free one. @default {8181} */
  port: number;
  /** Interface to listen on. @default {"0.0.0.0"} (all IPv4 interfaces) */
  hostname: string;
  /** Directory of static files, overriding the app's `static`. @default {null} (the app's) */
  staticDir: string | null;
  /** Origins allowed to open WebSockets besides the server's own; `*` allows all. @default {[]} */
  allowedOrigins: string[];
  /** Seconds without a pong before Deno drops a WebSocket; `0` disables pings. @default {120} */
  idleTimeoutSeconds: number;
  /** Milliseconds a session waits for a message before a read ends; `0` waits forever. @default {0} */
  readTimeoutMs: number;
  /** Largest WebSocket message accepted; larger closes with 1009. @default {16777216} (16 MiB, Bun's) */
  maxMessageBytes: number;
  /** Unsent bytes allowed per session before it is closed with 1008. @default {16777216} (16 MiB, Bun's) */
  maxSendBufferBytes: number;
  /**
   * Received, unread bytes allowed per session before it is closed with 1008.
   * @default {2 * maxMessageBytes}
   */
  maxReadQueueBytes: number;
  /**
   * Sessions open at once; more get 503. The command line sizes it to the open-files limit
   * less 64. @default {4032} (Linux's usual open-files limit, 4096, less 64)
   */
  maxConnections: number;
  /** Sessions open at once per client IP; `0` is no limit (behind a proxy all share one). @default {0} */
  maxConnectionsPerAddress: number;
  /** Milliseconds a graceful shutdown may take before the process exits anyway. @default {5000} */
  shutdownDeadlineMs: number;
  /**
   * Milliseconds a close sent by the server waits for the peer's answer before the connection
   * is reset and its memory freed. @default {10000}
   */
  closeTimeoutMs: number;
  /** Log line format. @default {"text"} */
  logFormat: LogFormat;
  /** Lowest level logged. @default {"info"} */
  logLevel: LogLevel;
  /** Most topics one session may subscribe to; more are refused with a `TopicError`. @default {100} */
  maxTopicsPerSession: number;
  /** Listeners, one per worker thread, sharing the port (Linux `SO_REUSEPORT`). @default {1} */
  workers: number;
  /** PEM certificate chain and key; when set the server speaks HTTPS and WSS. @default {null} */
  tls: { cert: string; key: string } | null;
  /**
   * Redis URL (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS) that carries
   * topics and presence between instances; `null` for none. @default {null}
   */
  backplane: string | null;
  /** Prefix of the backplane's Redis channels. @default {"ws"} */
  backplanePrefix: string;
  /** This instance's name on the backplane; `null` picks host-pid-random. @default {null} */
  nodeId: string | null;
  /** Milliseconds to connect to, or hear back from, the backplane before it counts as down. @default {2000} */
  backplaneTimeoutMs: number;
  /** Whether `/readyz` answers 503 while the backplane is down. @default {false} */
  readyRequiresBackplane: boolean;
}

/** File descriptors kept for files, the listener and the runtime when sizing `maxConnections`. */
export const RESERVED_FILE_DESCRIPTORS = 64;

/** The defaults, except `maxReadQueueBytes`, which follows `maxMessageBytes`. */
export const DEFAULT_SETTINGS: Readonly<Omit<ServerSettings, "maxReadQueueBytes">> = Object
  .freeze({
    port: 8181,
    hostname: "0.0.0.0",
    staticDir: null,
    allowedOrigins: [],
    idleTimeoutSeconds: 120,
    readTimeoutMs: 0,
    maxMessageBytes: 16 * 1024 * 1024,
    maxSendBufferBytes: 16 * 1024 * 1024,
    maxConnections: 4096 - RESERVED_FILE_DESCRIPTORS,
    maxConnectionsPerAddress: 0,
    shutdownDeadlineMs: 5000,
    closeTimeoutMs: 10_000,
    logFormat: "text",
    logLevel: "info",
    maxTopicsPerSession: 100,
    workers: 1,
    tls: null,
    backplane: null,
    backplanePrefix: "ws",
    nodeId: null,
    backplaneTimeoutMs: 2000,
    readyRequiresBackplane: false,
  });

/** The read-queue limit when none is set: room for two messages of the largest size. */
export function defaultReadQueueBytes(maxMessageBytes: number): number {
  return 2 * maxMessageBytes;
}

/** A setting with a bad value: its message names the setting and the problem. */
export class ConfigError extends Error {
  /** How the user set it: an option (`maxConnections`), flag (`--port`) or variable (`WS_PORT`). */
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

/**
 * The complete settings: `given` over the defaults (an `undefined` field counts as not given),
 * with the derived read-queue limit, checked against each other. `nameOf` says how each
 * setting was given, for the error (the command line names its flag or variable).
 *
 * @throws {ConfigError} when two settings contradict each other or one is out of range.
 */
export function resolveSettings(
  given: Partial<ServerSettings>,
  nameOf: (key: keyof ServerSettings) => string = (key) => key,
): ServerSettings {
  const defined = Object.fromEntries(
    Object.entries(given).filter(([, value]) => value !== undefined),
  ) as Partial<ServerSettings>;
  const settings: ServerSettings = {
    ...DEFAULT_SETTINGS,
    allowedOrigins: [...DEFAULT_SETTINGS.allowedOrigins],
    maxReadQueueBytes: defaultReadQueueBytes(
      given.maxMessageBytes ?? DEFAULT_SETTINGS.maxMessageBytes,
    ),
    ...defined,
  };
  if (settings.maxReadQueueBytes < settings.maxMessageBytes) {
    throw new ConfigError(
      nameOf("maxReadQueueBytes"),
      `must be at least ${nameOf("maxMessageBytes")}`,
    );
  }
  if (settings.workers > 1 && settings.port === 0) {
    throw new ConfigError(
      nameOf("workers"),
      `several workers need a fixed ${nameOf("port")} to share`,
    );
  }
  for (
    const key of ["maxMessageBytes", "maxSendBufferBytes", "maxConnections", "workers"] as const
  ) {
    if (!(settings[key] >= 1)) throw new ConfigError(nameOf(key), "must be at least 1");
  }
  if (settings.backplane !== null) {
    const problem = backplaneUrlProblem(settings.backplane);
    if (problem !== null) throw new ConfigError(nameOf("backplane"), problem);
  }
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(settings.backplanePrefix)) {
    throw new ConfigError(nameOf("backplanePrefix"), "must be 1 to 64 of A-Z a-z 0-9 _ . : -");
  }
  if (settings.nodeId !== null && !/^[A-Za-z0-9_.:-]{1,64}$/.test(settings.nodeId)) {
    throw new ConfigError(nameOf("nodeId"), "must be 1 to 64 of A-Z a-z 0-9 _ . : -");
  }
  return settings;
}
