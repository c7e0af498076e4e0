/**
 * The body of one listener worker of {@linkcode startWorkerPool}: a server with `reusePort`,
 * started and shut down on the main thread's word.
 *
 * @module
 */

/// <reference lib="deno.worker" />

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
      server = createServer({ ...message.config, reusePort: true });
      reply({ type: "listening", port: server.addr.port });
    } else if (message.type === "shutdown") {
      const report = await server?.shutdown();
      reply({ type: "stopped", sessionsCut: report?.sessionsCut ?? 0 });
    }
  } catch (error) {
    reply({ type: "failed", error: error instanceof Error ? error.message : String(error) });
  }
};
