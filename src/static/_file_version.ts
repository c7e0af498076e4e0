/**
 * The validators and type of one version of a file (`ETag`, `Last-Modified`, `Content-Type`),
 * computed from its metadata alone.
 *
 * @example
 * ```ts
 * import { versionOf } from "./_file_version.ts";
 *
 * const version = versionOf("static/index.html", await Deno.stat("static/index.html"));
 * version.etag; // e.g. "\"22-18c1f0a2b40\""
 * ```
 * @module
 */

import { contentTypeFor } from "./content_type.ts";

/** What a response needs to know of one file version. */
export interface FileVersion {
  /** Bytes in this representation. */
  size: number;
  /** Modification time, in milliseconds since the epoch (`0` when unknown). */
  mtimeMs: number;
  /** Strong validator, quoted. */
  etag: string;
  /** `mtimeMs` as an HTTP date. */
  lastModified: string;
  /** `Content-Type` value, from the file's extension. */
  contentType: string;
}

/** The version of the file at `path` whose metadata is `info`. */
export function versionOf(path: string, info: Deno.FileInfo): FileVersion {
  const mtimeMs = info.mtime?.getTime() ?? 0;
  return {
    size: info.size,
    mtimeMs,
    // Size and modification time, as nginx does: computed without reading the file.
    etag: `"${info.size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`,
    lastModified: new Date(mtimeMs).toUTCString(),
    contentType: contentTypeFor(path),
  };
}
