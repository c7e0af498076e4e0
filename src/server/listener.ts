/**
 * A `Deno.serve` listener that outlives the open-files limit.
 *
 * In Deno 2.9 an accept that fails with EMFILE ends the server's accept loop for good: its
 * `finished` promise rejects and the port stops answering, though connections already open go
 * on working (denoland/deno#10148). This listener then starts a new `Deno.serve` on the same
 * port, after a back-off while descriptors are short, and leaves the old server's connections
 * alone until shutdown. Measurements are in bench/README.md ("Runtime limits").
 *
 * @example
 * ```ts
 * import { serveResilient } from "./listener.ts";
 *
 * const listener = serveResilient({ port: 0 }, () => new Response("ok"));
 * await listener.shutdown();
 * ```
 * @module
 */

import type { Logger } from "../log.ts";

/** What {@linkcode serveResilient} passes on to each `Deno.serve`. */
export type ListenOptions =
  & Deno.ServeTcpOptions
  & Partial<Deno.TlsCertifiedKeyPem>
  & { reusePort?: boolean };

/** A listener that restarts its accept loop after the runtime gives it up. */
export interface ResilientListener {
  /** The address of the first listen (restarts keep its port). */
  readonly addr: Deno.NetAddr;
  /** Resolves once {@linkcode ResilientListener.shutdown} has finished. */
  readonly finished: Promise<void>;
  /** Stops accepting and shuts down every server it started; in-flight responses finish. */
  shutdown(): Promise<void>;
}

/** First wait before listening again; doubled after each failure up to the maximum. */
const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 1000;

/**
 * A stack trace read for the first time while no descriptor is free makes Deno 2.9.6 panic
 * (in its `stacker` crate) instead of throwing: read one now, while descriptors are free.
 */
void new Error("warm-up").stack;

/**
 * Serves `handler` like `Deno.serve(options, handler)`, starting a new server on the same port
 * whenever the runtime's accept loop fails (out of file descriptors). The first listen's
 * errors (port in use, …) are thrown.
 */
export function serveResilient(
  options: ListenOptions,
  handler: Deno.ServeHandler,
  { logger }: { logger?: Logger } = {},
): ResilientListener {
  const servers: Deno.HttpServer[] = [];
  let stopping = false;
  let backoffMs = FIRST_BACKOFF_MS;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let done: () => void;
  const finished = new Promise<void>((resolve) => done = resolve);

  const watch = (server: Deno.HttpServer) => {
    server.finished.catch((error) => {
      if (stopping) return;
      // The old server's open connections still work: it is shut down only with the rest.
      logger?.error("server.accept_failed", { error: String(error), retry_ms: backoffMs });
      listenAgain();
    });
  };

  const listenAgain = () => {
    retry = setTimeout(() => {
      retry = undefined;
      if (stopping) return;
      try {
        const server = Deno.serve({ ...options, port: addr.port, onListen: () => {} }, handler);
        servers.push(server);
        watch(server);
        logger?.warn("server.accept_resumed", { port: addr.port });
        backoffMs = FIRST_BACKOFF_MS;
      } catch (error) {
        // Listening needs a descriptor too: wait longer while none is free.
        backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
        logger?.error("server.listen_failed", { error: String(error), retry_ms: backoffMs });
        listenAgain();
      }
    }, backoffMs);
  };

  const first = Deno.serve(options, handler);
  const addr = first.addr as Deno.NetAddr;
  servers.push(first);
  watch(first);

  let stopped: Promise<void> | undefined;
  return {
    addr,
    finished,
    shutdown() {
      stopped ??= (async () => {
        stopping = true;
        if (retry !== undefined) clearTimeout(retry);
        // A server whose accept loop failed rejects `finished`; its shutdown still closes
        // the connections it holds.
        await Promise.all(servers.map((server) => server.shutdown().catch(() => {})));
        done();
      })();
      return stopped;
    },
  };
}
