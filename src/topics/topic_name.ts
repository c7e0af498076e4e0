/**
 * What a topic name may be: a non-empty string of at most {@linkcode MAX_TOPIC_BYTES} bytes
 * of UTF-8. Each rule has its own one-line reason.
 *
 * @example
 * ```ts
 * import { topicProblem } from "./topic_name.ts";
 *
 * console.log(topicProblem("room:lobby")); // null
 * console.log(topicProblem("")); // "topic name is empty"
 * ```
 * @module
 */

import { utf8ByteLength } from "../websocket/utf8.ts";

/** The longest topic name, in bytes of UTF-8. */
export const MAX_TOPIC_BYTES = 256;

/** Why `topic` is no topic name, or `null` when it is one. */
export function topicProblem(topic: unknown): string | null {
  if (typeof topic !== "string") return `topic name must be a string, got ${typeof topic}`;
  if (topic === "") return "topic name is empty";
  const bytes = utf8ByteLength(topic);
  if (bytes > MAX_TOPIC_BYTES) {
    return `topic name is ${bytes} bytes, over the limit of ${MAX_TOPIC_BYTES}`;
  }
  return null;
}

/** A topic operation refused: a bad name, or a session at its topic limit. */
export class TopicError extends Error {
  /** Creates it with its one-line reason. */
  constructor(message: string) {
    super(message);
    this.name = "TopicError";
  }
}
