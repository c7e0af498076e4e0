/**
 * The body of one listener worker of {@linkcode startWorkerPool}: imports the app module,
 * serves it with `reusePort`, and shuts down on the main thread's word.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { loadApp } from "./app_module.ts";
import { createServer } from "./server.ts";
import type { Server } from "./server.ts";
import type { FromWorker, ToWorker } from "./worker_pool.ts";

let server: Server | undefined;

function reply(message: FromWorker): void {
  self.postMessage(message);
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  try {
    if (message.type === "start") {
      const app = await loadApp(message.app);
      server = createServer(app, {
        ...message.settings,
        reusePort: true,
        worker: { index: message.index, count: message.count },
        hub: message.hub,
      });
      reply({ type: "listening", addr: server.addr });
    } else if (message.type === "shutdown") {
      const report = await server?.shutdown();
      reply({ type: "stopped", sessionsCut: report?.sessionsCut ?? 0 });
    }
  } catch (error) {
    reply({ type: "failed", error: error instanceof Error ? error.message : String(error) });
  }
};
