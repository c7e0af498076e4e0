/**
 * A node's default name on the backplane: `node-PID-RANDOM` from the library; the command
 * line puts the host name first (reading it is a permission the library does not ask for).
 *
 * @example
 * ```ts
 * import { defaultNodeId } from "./node_id.ts";
 *
 * console.log(defaultNodeId("web-1")); // web-1-4242-7f3a
 * ```
 * @module
 */

/** `HOST-PID-RANDOM`, with `node` for the host when none is given. */
export function defaultNodeId(host = "node"): string {
  const random = crypto.getRandomValues(new Uint16Array(1))[0].toString(16).padStart(4, "0");
  const safeHost = host.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 40) || "node";
  return `${safeHost}-${Deno.pid}-${random}`;
}
