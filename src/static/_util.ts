/**
 * Helpers the static-file modules share: the platform's path separator and a bounded echo of a
 * client's path for response lines.
 *
 * @example
 * ```ts
 * import { SEP, shown } from "./_util.ts";
 *
 * const path = ["static", "index.html"].join(SEP);
 * const message = `not found: ${shown("/" + "a".repeat(300))}`; // 200 characters, then "…"
 * ```
 * @module
 */

/**
 * The platform's path separator. Not `node:path`'s `sep`: loading Deno's Node layer adds over a
 * megabyte to the heap, which every full collection (frequent under large binary messages) marks.
 */
export const SEP = Deno.build.os === "windows" ? "\\" : "/";

/** At most 200 characters of a client's path, for a response line. */
export function shown(pathname: string): string {
  return pathname.length > 200 ? `${pathname.slice(0, 200)}…` : pathname;
}
