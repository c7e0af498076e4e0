/**
 * Process lifecycle: graceful shutdown on SIGTERM or SIGINT within a deadline, and an
 * immediate exit on a second signal.
 *
 * @example
 * ```ts
 * import { createServer } from "./server.ts";
 * import { exitOnSignals } from "./signals.ts";
 *
 * const server = createServer({}, { port: 0 });
 * const stopHandling = exitOnSignals(server, { deadlineMs: 5000 });
 * stopHandling();
 * await server.shutdown();
 * ```
 * @module
 */

import type { Logger } from "../log.ts";

/** Anything that can be shut down gracefully: a server or a pool of them. */
export interface Stoppable {
  /** Resolves once everything has stopped, with how many sessions were cut (if it knows). */
  shutdown(): Promise<{ sessionsCut: number } | void>;
}

/** Options for {@linkcode exitOnSignals}. */
export interface ExitOnSignalsOptions {
  /** Milliseconds the graceful shutdown may take before the process exits with 1. @default {5000} */
  deadlineMs?: number;
  /** Where the shutdown lines go. @default {undefined} (nowhere) */
  logger?: Logger;
}

/** Exit status when the deadline passed or a second signal came. */
const FORCED_EXIT_STATUS = 1;

/**
 * On the first SIGTERM or SIGINT, shuts `server` down gracefully and exits 0 when done (or 1
 * at the deadline); a second signal exits at once with 1. Returns a function that stops
 * handling the signals (the listeners would otherwise keep the process alive).
 */
export function exitOnSignals(server: Stoppable, options: ExitOnSignalsOptions = {}): () => void {
  const deadlineMs = options.deadlineMs ?? 5000;
  const { logger } = options;
  let signalled = false;
  const onSignal = (signal: Deno.Signal) => {
    if (signalled) {
      logger?.warn("process.forced_exit", { signal, why: "second signal" });
      Deno.exit(FORCED_EXIT_STATUS);
    }
    signalled = true;
    logger?.info("process.signal", { signal, deadline_ms: deadlineMs });
    const deadline = setTimeout(() => {
      logger?.warn("process.forced_exit", { why: "shutdown deadline passed" });
      Deno.exit(FORCED_EXIT_STATUS);
    }, deadlineMs);
    server.shutdown().then((report) => {
      clearTimeout(deadline);
      const cut = report?.sessionsCut ?? 0;
      if (cut > 0) {
        logger?.error("process.shutdown_incomplete", {
          sessions_cut: cut,
          why: "their peers never confirmed the 1001 close",
        });
      }
      Deno.exit(cut > 0 ? FORCED_EXIT_STATUS : 0);
    }, (error) => {
      logger?.error("process.shutdown_failed", { error: String(error) });
      Deno.exit(FORCED_EXIT_STATUS);
    });
  };
  const listeners = (["SIGTERM", "SIGINT"] as const).map((signal) => {
    const listener = () => onSignal(signal);
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  };
}
