/**
 * File-extension → `Content-Type`, from the `mime-db` database (the one behind `mime-types`
 * and `express.static`), built once at start-up.
 *
 * @example
 * ```ts
 * import { contentTypeFor } from "./content_type.ts";
 *
 * contentTypeFor("index.html"); // "text/html; charset=utf-8"
 * contentTypeFor("app.wasm"); // "application/wasm"
 * ```
 * @module
 */

// The JSON file, not the package's index: a JSON module does not load Deno's Node compatibility
// layer, which would otherwise add a hook to every WebSocket and every message it carries.
import mimeDb from "mime-db/db.json" with { type: "json" };

interface MimeEntry {
  source?: string;
  charset?: string;
  compressible?: boolean;
  extensions?: string[];
}

/** When two types claim an extension, the better-sourced one wins (as `mime-types` ranks). */
const SOURCE_RANK: Record<string, number> = { iana: 3, apache: 2, nginx: 1 };

/** The type for files whose extension is unknown. */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

function buildTable(): Map<string, string> {
  const chosen = new Map<string, { type: string; rank: number }>();
  for (const [type, entry] of Object.entries(mimeDb as Record<string, MimeEntry>)) {
    const rank = SOURCE_RANK[entry.source ?? ""] ?? 0;
    for (const extension of entry.extensions ?? []) {
      const current = chosen.get(extension);
      if (!current || rank > current.rank) chosen.set(extension, { type, rank });
    }
  }
  const table = new Map<string, string>();
  for (const [extension, { type }] of chosen) {
    const charset = (mimeDb as Record<string, MimeEntry>)[type].charset;
    const textual = type.startsWith("text/") || charset?.toUpperCase() === "UTF-8";
    table.set(extension, textual ? `${type}; charset=utf-8` : type);
  }
  return table;
}

const TABLE = buildTable();

/** True when files of this `Content-Type` shrink under gzip or brotli (as mime-db says). */
export function isCompressible(contentType: string): boolean {
  const type = contentType.split(";")[0];
  const entry = (mimeDb as Record<string, MimeEntry>)[type];
  return entry?.compressible ?? type.startsWith("text/");
}

/** The `Content-Type` for a file name, by its extension; `application/octet-stream` if unknown. */
export function contentTypeFor(fileName: string): string {
  const dot = fileName.lastIndexOf(".");
  if (dot === -1) return DEFAULT_CONTENT_TYPE;
  return TABLE.get(fileName.slice(dot + 1).toLowerCase()) ?? DEFAULT_CONTENT_TYPE;
}
