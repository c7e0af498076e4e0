/**
 * The precompressed `br` and `gzip` variants of a cached file, made once per version.
 *
 * @example
 * ```ts
 * import { encodeVariants } from "./_compression.ts";
 * import { versionOf } from "./_file_version.ts";
 *
 * const path = "static/app.js";
 * const body = await Deno.readFile(path);
 * const variants = await encodeVariants(versionOf(path, await Deno.stat(path)), body);
 * variants.map((v) => v.encoding); // e.g. ["br", "gzip"]: smallest first, only those that shrink
 * ```
 * @module
 */

import { isCompressible } from "./content_type.ts";
import type { FileVersion } from "./_file_version.ts";

/** One precompressed form of a cached file. */
export interface EncodedVariant extends FileVersion {
  /** Its `Content-Encoding`. */
  encoding: "br" | "gzip";
  /** The compressed bytes. */
  body: Uint8Array<ArrayBuffer>;
}

/** Smaller files are not worth compressing. */
const MIN_COMPRESS_BYTES = 1024;

/**
 * Compresses with the web-standard `CompressionStream`, chunk by chunk, so the event loop
 * keeps turning. (Not `node:zlib`: loading it makes Deno hook every WebSocket and message.)
 */
async function compress(body: Uint8Array<ArrayBuffer>, format: "brotli" | "gzip") {
  const stream = new Blob([body]).stream().pipeThrough(
    new CompressionStream(format as CompressionFormat),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Makes the `br` and `gzip` variants of a compressible file, once per version. */
export async function encodeVariants(
  version: FileVersion,
  body: Uint8Array<ArrayBuffer>,
): Promise<EncodedVariant[]> {
  if (body.length < MIN_COMPRESS_BYTES || !isCompressible(version.contentType)) return [];
  const [br, gz] = await Promise.all([compress(body, "brotli"), compress(body, "gzip")]);
  const variants: EncodedVariant[] = [];
  for (const [encoding, encoded] of [["br", br], ["gzip", gz]] as const) {
    if (encoded.length >= body.length) continue;
    variants.push({
      ...version,
      encoding,
      size: encoded.length,
      // Each representation has its own validator (RFC 9110 §8.8.3).
      etag: `${version.etag.slice(0, -1)}-${encoding}"`,
      body: encoded,
    });
  }
  // A client that accepts both gets the smaller.
  return variants.sort((a, b) => a.size - b.size);
}
