/**
 * URL path → file path under the static root, with the traversal rules: no dotfiles, no encoded
 * slashes, backslashes or NUL, no over-long paths or segments.
 *
 * @example
 * ```ts
 * import { resolveRequestPath } from "./request_path.ts";
 *
 * resolveRequestPath("/srv/static", "/docs/"); // { path: "/srv/static/docs/index.html", trailingSlash: true }
 * resolveRequestPath("/srv/static", "/.env"); // { status: 404, message: "not found: /.env" }
 * resolveRequestPath("/srv/static", "/a%2Fb"); // { status: 400, message: "path segment contains …" }
 * ```
 * @module
 */

import { SEP, shown } from "./_util.ts";

/** The outcome of mapping a URL path to a file path: the path, or the status refusing it. */
export type PathResult =
  | { path: string; trailingSlash: boolean }
  | { status: 400 | 404 | 414; message: string };

/** Longest URL path served (Linux `PATH_MAX`); longer → 414. */
export const MAX_PATH_BYTES = 4096;
/** Longest decoded path segment (a file name on Linux and most file systems); longer → 404. */
export const MAX_SEGMENT_BYTES = 255;

/**
 * Maps a URL path to a path under `root`, or to a refusal. Every segment is percent-decoded
 * on its own, so an encoded `/` or `\` cannot join segments; `..` is already resolved by the
 * URL parser, and any segment starting with `.` (dotfiles, `..`) is hidden.
 */
export function resolveRequestPath(root: string, pathname: string): PathResult {
  // The file system refuses longer names with an error of its own; refuse them first.
  if (pathname.length > MAX_PATH_BYTES) {
    return { status: 414, message: `path longer than ${MAX_PATH_BYTES} bytes` };
  }
  const segments: string[] = [];
  for (const raw of pathname.split("/")) {
    if (raw === "") continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return { status: 400, message: "malformed percent-encoding in path" };
    }
    if (/[\\/\0]/.test(segment)) {
      return { status: 400, message: "path segment contains a slash, backslash or NUL" };
    }
    if (segment.startsWith(".")) return { status: 404, message: `not found: ${shown(pathname)}` };
    if (segment.length > MAX_SEGMENT_BYTES / 3 && utf8Length(segment) > MAX_SEGMENT_BYTES) {
      return {
        status: 404,
        message: `not found: a path segment is over ${MAX_SEGMENT_BYTES} bytes`,
      };
    }
    segments.push(segment);
  }
  const trailingSlash = pathname.endsWith("/");
  if (trailingSlash) segments.push("index.html");
  return { path: root + SEP + segments.join(SEP), trailingSlash };
}

const encoder = new TextEncoder();

function utf8Length(text: string): number {
  return encoder.encode(text).byteLength;
}
