/**
 * The `Accept-Encoding` header (RFC 9110 §12.5.3): whether a client takes a content coding.
 *
 * @example
 * ```ts
 * import { acceptsEncoding } from "./accept_encoding.ts";
 *
 * acceptsEncoding("gzip, br;q=0.8", "br"); // true
 * acceptsEncoding("*;q=0.5, gzip;q=0", "gzip"); // false
 * acceptsEncoding(null, "gzip"); // false
 * ```
 * @module
 */

/** True when `Accept-Encoding` accepts `encoding` with a non-zero weight. */
export function acceptsEncoding(header: string | null, encoding: string): boolean {
  if (header === null) return false;
  let wildcard = false;
  for (const item of header.split(",")) {
    const [name, ...params] = item.trim().toLowerCase().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (name.trim() === encoding) return weight > 0;
    if (name.trim() === "*") wildcard = weight > 0;
  }
  return wildcard;
}
