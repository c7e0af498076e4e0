/**
 * Batched deliveries: a protocol whose frames can carry several messages (a JSON array of
 * them, say) lets a session join the published messages pending for it in one turn of the
 * event loop into one frame. Each WebSocket frame costs the runtime a task and a write of its
 * own, so under load one frame per subscriber and turn delivers several times the messages
 * per CPU-second (bench/README.md, "Fan-out").
 *
 * Adaptive: on a quiet thread a session's first delivery in a turn goes out at once, unjoined,
 * so the latency of a lone message does not rise; later ones in the same turn wait for its end
 * and go as one frame. Within 100 ms of a busy turn (one that brought some session, or the
 * worker or Redis outbox, two or more) the first waits with the rest too, one macrotask. Only
 * text is joined: a binary delivery, a `send()` or a close first sends what is pending, so
 * order holds. A format whose `join` throws costs no message: each then goes alone.
 *
 * @example
 * ```ts
 * import { jsonArrayBatches } from "./batching.ts";
 *
 * const batches = jsonArrayBatches({ maxMessages: 32 });
 * console.log(batches.join(['{"n":1}', '{"n":2}'])); // [{"n":1},{"n":2}]
 * ```
 * @module
 */

/** How a protocol carries several text messages in one frame, and how many at most. */
export interface BatchFormat {
  /** Joins two or more messages, in order, into one frame's text. */
  join(messages: string[]): string;
  /** Most messages in one frame. @default {100} */
  maxMessages?: number;
  /** Most UTF-8 bytes of messages in one frame (a larger message goes alone). @default {65536} */
  maxBytes?: number;
}

/** Bounds of a batch unless its format says otherwise. */
export const DEFAULT_BATCH_LIMITS: Readonly<Required<Omit<BatchFormat, "join">>> = Object.freeze({
  maxMessages: 100,
  maxBytes: 64 * 1024,
});

/** Options for {@linkcode jsonArrayBatches}. */
export type JsonArrayBatchOptions = Omit<BatchFormat, "join">;

/**
 * Batches for a protocol of JSON text messages that takes a JSON array of them as a frame
 * (messages must then never be arrays themselves): `["{…}", "{…}"]` as `[{…},{…}]`.
 *
 * @example
 * ```ts
 * import { defineApp, jsonArrayBatches } from "../mod.ts";
 *
 * export default defineApp({
 *   websocket: {
 *     "/news": {
 *       "news.v1": () => (session) => {
 *         session.batchDeliveries(jsonArrayBatches());
 *         session.subscribe("news");
 *         return session.closed.then(() => {});
 *       },
 *     },
 *   },
 * });
 * ```
 */
export function jsonArrayBatches(options: JsonArrayBatchOptions = {}): BatchFormat {
  return {
    join: (messages) => `[${messages.join(",")}]`,
    maxMessages: options.maxMessages ?? DEFAULT_BATCH_LIMITS.maxMessages,
    maxBytes: options.maxBytes ?? DEFAULT_BATCH_LIMITS.maxBytes,
  };
}
