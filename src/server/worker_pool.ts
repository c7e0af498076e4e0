/**
 * Several listeners on one port, one per worker thread, so the server can use every core.
 *
 * Each worker runs its own {@linkcode createServer} with `reusePort` (Linux `SO_REUSEPORT`: the
 * kernel spreads new connections over the listeners). Sessions, limits and metrics are per
 * worker: `/metrics` shows the counters of the worker that answered.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../config/config.ts";
 * import { startWorkerPool } from "./worker_pool.ts";
 *
 * const pool = await startWorkerPool(parseConfig(["--workers=2"], {}));
 * await pool.shutdown();
 * ```
 * @module
 */

import type { ServerConfig } from "../config/config.ts";

/** What the main thread tells a worker. */
export type ToWorker = { type: "start"; config: ServerConfig } | { type: "shutdown" };

/** What a worker tells the main thread. */
export type FromWorker =
  | { type: "listening"; port: number }
  | { type: "stopped"; sessionsCut: number }
  | { type: "failed"; error: string };

/** A running pool of listener workers. */
export interface WorkerPool {
  /** How many workers listen. */
  readonly size: number;
  /** Shuts every worker's server down gracefully and ends the workers; sums their cut sessions. */
  shutdown(): Promise<{ sessionsCut: number }>;
}

/** Waits for the next message from `worker` of the given type; rejects on `failed` or error. */
function nextFrom<T extends FromWorker["type"]>(
  worker: Worker,
  type: T,
): Promise<Extract<FromWorker, { type: T }>> {
  return new Promise((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      if (event.data.type === type) resolve(event.data as Extract<FromWorker, { type: T }>);
      else if (event.data.type === "failed") reject(new Error(event.data.error));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(event.message));
    };
  });
}

/** Starts `config.workers` workers, each listening on `config.port`; resolves once all listen. */
export async function startWorkerPool(config: ServerConfig): Promise<WorkerPool> {
  const workers = Array.from(
    { length: config.workers },
    () => new Worker(new URL("./worker_main.ts", import.meta.url), { type: "module" }),
  );
  try {
    await Promise.all(workers.map((worker) => {
      const listening = nextFrom(worker, "listening");
      worker.postMessage({ type: "start", config } satisfies ToWorker);
      return listening;
    }));
  } catch (error) {
    for (const worker of workers) worker.terminate();
    throw error;
  }
  let stopping: Promise<{ sessionsCut: number }> | undefined;
  return {
    size: workers.length,
    shutdown() {
      stopping ??= Promise.all(workers.map(async (worker) => {
        const stopped = nextFrom(worker, "stopped");
        worker.postMessage({ type: "shutdown" } satisfies ToWorker);
        const { sessionsCut } = await stopped;
        worker.terminate();
        return sessionsCut;
      })).then((cuts) => ({ sessionsCut: cuts.reduce((sum, n) => sum + n, 0) }));
      return stopping;
    },
  };
}
