/**
 * Failures that must not stop the loop they happen in (a turn's tasks, an app's batch format,
 * a Redis connection's callbacks): each becomes one line on stderr, and the loop goes on.
 *
 * @example
 * ```ts
 * import { safely } from "./_safely.ts";
 *
 * safely("example", () => {
 *   throw new Error("boom");
 * }); // writes "example: boom" to stderr
 * ```
 * @module
 */

/** Writes `label: message` of `error` to stderr. */
export function reportFailure(label: string, error: unknown): void {
  console.error(`${label}: ${error instanceof Error ? error.message : error}`);
}

/** Runs `callback`; if it throws, reports it ({@linkcode reportFailure}) instead. */
export function safely(label: string, callback: () => void): void {
  try {
    callback();
  } catch (error) {
    reportFailure(label, error);
  }
}
