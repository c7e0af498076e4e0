/**
 * Values of command-line settings: whole numbers, durations (`500ms`, `30s`, `2m`; a bare number
 * is seconds), sizes (`16MiB`, `64KiB`; a bare number is bytes) and choices, each refused with a
 * {@linkcode ConfigError} that names the setting.
 *
 * @example
 * ```ts
 * import { parseBytes, parseDurationMs } from "./values.ts";
 *
 * console.log(parseDurationMs("--read-timeout", "30s")); // 30000
 * console.log(parseBytes("--max-message-size", "16MiB")); // 16777216
 * ```
 * @module
 */

import { ConfigError } from "./settings.ts";

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

/** Parses a whole number from `min` to `max`. */
export function parseInteger(flag: string, raw: string, min: number, max: number): number {
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

/** Checks that `raw` is one of `values`. */
export function oneOf<T extends string>(flag: string, raw: string, values: readonly T[]): T {
  if (!(values as readonly string[]).includes(raw)) {
    throw new ConfigError(flag, `expected one of ${values.join(", ")}, got "${raw}"`);
  }
  return raw as T;
}
