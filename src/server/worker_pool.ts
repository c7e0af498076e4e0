/**
 * Several listeners on one port, one per worker thread, so the server can use every core.
 *
 * Each worker imports the app module and runs its own {@linkcode createServer} with
 * `reusePort` (Linux `SO_REUSEPORT`: the kernel spreads new connections over the listeners).
 * Sessions, limits and metrics are per worker: `/metrics` shows the counters of the worker
 * that answered. Session ids are unique across the workers.
 *
 * @example
 * ```ts
 * import { resolveSettings } from "../config/settings.ts";
 * import { startWorkerPool } from "./worker_pool.ts";
 *
 * const app = new URL("../../apps/echo/app.ts", import.meta.url);
 * const pool = await startWorkerPool(app, resolveSettings({ workers: 2, port: 8199 }));
 * await pool.shutdown();
 * ```
 * @module
 */

import type { ServerSettings } from "../config/settings.ts";
import type { Logger } from "../log.ts";
import type { RunningServer, ShutdownReport } from "./server.ts";
import { listeningUrl } from "./server.ts";
import { TopicHub } from "../topics/hub.ts";
import { TopicError, topicProblem } from "../topics/topic_name.ts";
import { defaultNodeId } from "../backplane/node_id.ts";

/** What the main thread tells a worker. */
export type ToWorker =
  | {
    type: "start";
    app: string;
    settings: ServerSettings;
    index: number;
    count: number;
    hub: MessagePort;
  }
  | { type: "shutdown" };

/** What a worker tells the main thread. */
export type FromWorker =
  | { type: "listening"; addr: Deno.NetAddr }
  | { type: "stopped"; sessionsCut: number }
  | { type: "failed"; error: string };

/** A running pool of listener workers. */
export interface WorkerPool extends RunningServer {
  /** How many workers listen. */
  readonly size: number;
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

/**
 * Starts `settings.workers` workers serving the app module at `app` (its default export),
 * each listening on `settings.port`; resolves once all listen, after one `server.listening`
 * line on `logger`.
 */
export async function startWorkerPool(
  app: URL | string,
  given: ServerSettings,
  logger?: Logger,
): Promise<WorkerPool> {
  // One name for the whole process: the backplane's envelopes and every worker's `nodeId`.
  const settings = { ...given, nodeId: given.nodeId ?? defaultNodeId() };
  const count = settings.workers;
  const hub = new TopicHub();
  if (settings.backplane !== null) {
    // Loaded only here, on the main thread: the WebSocket isolates stay free of npm modules.
    const { connectRedisBackplane } = await import("../backplane/redis.ts");
    hub.attach(connectRedisBackplane({
      url: settings.backplane,
      nodeId: settings.nodeId,
      prefix: settings.backplanePrefix,
      timeoutMs: settings.backplaneTimeoutMs,
      events: hub.backplaneEvents,
      logger,
    }));
  }
  const workers = Array.from(
    { length: count },
    () => new Worker(new URL("./worker_main.ts", import.meta.url), { type: "module" }),
  );
  let addr: Deno.NetAddr;
  try {
    [{ addr }] = await Promise.all(workers.map((worker, index) => {
      const listening = nextFrom(worker, "listening");
      const { port1, port2 } = new MessageChannel();
      hub.add(port1);
      worker.postMessage(
        { type: "start", app: String(app), settings, index, count, hub: port2 } satisfies ToWorker,
        [port2],
      );
      return listening;
    }));
  } catch (error) {
    for (const worker of workers) worker.terminate();
    await hub.close();
    throw error;
  }
  logger?.info("server.listening", {
    url: listeningUrl(addr, settings.tls !== null),
    workers: count,
  });
  let stopping: Promise<ShutdownReport> | undefined;
  return {
    size: count,
    addr,
    publish(topic, data) {
      const problem = topicProblem(topic);
      if (problem !== null) throw new TopicError(problem);
      hub.publish(topic, data);
    },
    subscriberCount: (topic) => hub.subscriberCount(topic),
    shutdown() {
      stopping ??= Promise.all(workers.map(async (worker) => {
        const stopped = nextFrom(worker, "stopped");
        worker.postMessage({ type: "shutdown" } satisfies ToWorker);
        const { sessionsCut } = await stopped;
        worker.terminate();
        return sessionsCut;
      })).then(async (cuts) => {
        await hub.close();
        return { sessionsCut: cuts.reduce((sum, n) => sum + n, 0) };
      });
      return stopping;
    },
  };
}
