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

import { DEFAULT_APP, SETTINGS } from "./cli_flags.ts";
import type { CliConfig, FileReads, Setting } from "./cli_flags.ts";
import { fileDescriptorLimit } from "./fd_limit.ts";
import { ConfigError, RESERVED_FILE_DESCRIPTORS, resolveSettings } from "./settings.ts";

export { DEFAULT_APP };
export type { CliConfig };
export { parseBytes, parseDurationMs } from "./values.ts";

/** Thrown by {@linkcode parseConfig} when `--help` is given; its message is the help text. */
export class HelpRequested extends Error {
  /** Creates it with the help text. */
  constructor() {
    super(helpText());
    this.name = "HelpRequested";
  }
}

/** The `--help` text: every setting with its flag, environment variable and default. */
export function helpText(): string {
  const lines = [
    "Usage: deno run -P main.ts [options]",
    "",
    "Serves an app: its WebSocket routes, its HTTP routes and its static files (by default",
    'echo on /echo, subprotocol "echo", and chat on /chat, "chat.v1", with their pages).',
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
