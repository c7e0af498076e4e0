/**
 * Structured log lines: one line per event, as `text` for people or `json` for machines.
 *
 * Events are short dotted names (`session.open`, `handshake.refused`); fields are flat
 * key/value pairs. Message contents are never logged by the library below `debug`.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 *
 * const log = createLogger({ level: "info", format: "json" });
 * log.info("session.open", { id: 1, remote: "127.0.0.1:50000" });
 * ```
 * @module
 */

/** Severity of a log line, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** How lines are written: `text` (`time LEVEL event key=value …`) or `json` (one object). */
export type LogFormat = "text" | "json";

/** Every log level, lowest first; the order defines which levels a threshold lets through. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** Every log format. */
export const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];

/** Fields of one log line. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** A sink for log lines; see {@linkcode createLogger}. */
export interface Logger {
  /** True when lines at `level` are written: lets callers skip building costly fields. */
  enabled(level: LogLevel): boolean;
  /** Writes a `debug` line. */
  debug(event: string, fields?: LogFields): void;
  /** Writes an `info` line. */
  info(event: string, fields?: LogFields): void;
  /** Writes a `warn` line. */
  warn(event: string, fields?: LogFields): void;
  /** Writes an `error` line. */
  error(event: string, fields?: LogFields): void;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lowest level written. Default: `"info"`. */
  level?: LogLevel;
  /** Line format. Default: `"text"`. */
  format?: LogFormat;
  /**
   * Where finished lines go. Default: `console.log` for debug/info, `console.error` for
   * warn/error (so container runtimes keep both).
   */
  write?: (line: string, level: LogLevel) => void;
}

function defaultWrite(line: string, level: LogLevel): void {
  if (level === "warn" || level === "error") console.error(line);
  else console.log(line);
}

/**
 * Longest text field written, in UTF-16 units: field values often come from clients (paths,
 * headers, reasons), and one request must not write a line of kilobytes.
 */
export const MAX_FIELD_CHARS = 200;

/** `value` cut to {@linkcode MAX_FIELD_CHARS}, marked with how much was cut. */
function capped(value: string): string {
  if (value.length <= MAX_FIELD_CHARS) return value;
  return `${value.slice(0, MAX_FIELD_CHARS)}…(+${value.length - MAX_FIELD_CHARS})`;
}

/** Quotes a text value only when it would otherwise break the `key=value` layout. */
function textValue(value: string | number | boolean | null): string {
  if (typeof value !== "string") return String(value);
  const text = capped(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

function formatText(level: LogLevel, event: string, fields: LogFields | undefined): string {
  let line = `${new Date().toISOString()} ${level.toUpperCase()} ${event}`;
  if (fields) {
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) line += ` ${key}=${textValue(value)}`;
    }
  }
  return line;
}

function formatJson(level: LogLevel, event: string, fields: LogFields | undefined): string {
  const record: Record<string, unknown> = { time: new Date().toISOString(), level, event };
  if (fields) {
    for (const [key, value] of Object.entries(fields)) {
      record[key] = typeof value === "string" ? capped(value) : value;
    }
  }
  return JSON.stringify(record);
}

/** Creates a {@linkcode Logger} that writes lines at or above `options.level`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level ?? "info");
  const format = options.format === "json" ? formatJson : formatText;
  const write = options.write ?? defaultWrite;
  // Decided once: `enabled` sits on hot paths.
  const on: Record<LogLevel, boolean> = {
    debug: threshold <= 0,
    info: threshold <= 1,
    warn: threshold <= 2,
    error: true,
  };
  const enabled = (level: LogLevel) => on[level];
  const at = (level: LogLevel) => (event: string, fields?: LogFields) => {
    if (enabled(level)) write(format(level, event, fields), level);
  };
  return {
    enabled,
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
  };
}
