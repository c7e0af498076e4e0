/**
 * Conditional requests (RFC 9110 §13): `If-None-Match`/`If-Modified-Since` for a 304, and
 * `If-Range` deciding whether a `Range` still applies.
 *
 * @example
 * ```ts
 * import { isNotModified, rangeApplies } from "./_conditional.ts";
 * import { versionOf } from "./_file_version.ts";
 *
 * const version = versionOf("static/index.html", await Deno.stat("static/index.html"));
 * const request = new Request("http://localhost/", { headers: { "if-none-match": version.etag } });
 * isNotModified(request, version); // true
 * rangeApplies(request, version); // true: no If-Range
 * ```
 * @module
 */

import type { FileVersion } from "./_file_version.ts";

/** True when `If-None-Match` lists `etag` (weak comparison) or is `*`. */
function noneMatch(header: string, etag: string): boolean {
  if (header.trim() === "*") return true;
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
}

/** True when the client's copy is current, by `If-None-Match`, else `If-Modified-Since`. */
export function isNotModified(request: Request, file: FileVersion): boolean {
  const ifNoneMatch = request.headers.get("if-none-match");
  if (ifNoneMatch !== null) return noneMatch(ifNoneMatch, file.etag);
  const ifModifiedSince = request.headers.get("if-modified-since");
  if (ifModifiedSince === null) return false;
  const since = Date.parse(ifModifiedSince);
  // HTTP dates have whole seconds.
  return !Number.isNaN(since) && Math.floor(file.mtimeMs / 1000) * 1000 <= since;
}

/** True when `If-Range` is absent or still matches, so `Range` applies. */
export function rangeApplies(request: Request, file: FileVersion): boolean {
  const ifRange = request.headers.get("if-range");
  if (ifRange === null) return true;
  if (ifRange.startsWith('"')) return ifRange === file.etag;
  return ifRange === file.lastModified;
}
