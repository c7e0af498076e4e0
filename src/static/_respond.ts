/**
 * Responses for a file version: validators and caching headers, 304, 206/416 for a `Range`,
 * HEAD without a body, and the choice of a cached file's precompressed variant. Each response
 * is counted in `metrics` by status.
 *
 * @example
 * ```ts
 * import { answer, respond } from "./_respond.ts";
 * import { versionOf } from "./_file_version.ts";
 *
 * const request = new Request("http://localhost/index.html", { headers: { range: "bytes=0-3" } });
 * const bytes = await Deno.readFile("static/index.html");
 * const version = versionOf("static/index.html", await Deno.stat("static/index.html"));
 * const partial = respond(undefined, request, version, (r) => bytes.slice(r.start, r.end + 1));
 * const refused = answer(undefined, 404, "not found: /nope", request);
 * ```
 * @module
 */

import type { Metrics } from "../metrics.ts";
import { textResponse } from "../server/responses.ts";
import { acceptsEncoding } from "./accept_encoding.ts";
import { cachedBody } from "./_body.ts";
import type { EncodedVariant } from "./_compression.ts";
import { isNotModified, rangeApplies } from "./_conditional.ts";
import type { CachedFile } from "./_file_cache.ts";
import type { FileVersion } from "./_file_version.ts";
import { type ByteRange, parseRange } from "./range.ts";

/**
 * Header name-value pairs. `new Response` takes them as they are; a `Headers` object would be
 * checked once when built and again, sorted, when the response copies it (a third of the time
 * of a cached answer in the profile, bench/profile.ts --scenario=static-10k).
 */
type HeaderPairs = [string, string][];

function fileHeaders(
  file: FileVersion,
  options: { vary: boolean; encoding: string | undefined; withContentType: boolean },
): HeaderPairs {
  const headers: HeaderPairs = [
    ["etag", file.etag],
    ["last-modified", file.lastModified],
    ["accept-ranges", "bytes"],
    // Revalidate on every use: a 304 is cheap and an edit shows at once.
    ["cache-control", "no-cache"],
    ["x-content-type-options", "nosniff"],
  ];
  if (options.withContentType) headers.push(["content-type", file.contentType]);
  if (options.vary) headers.push(["vary", "Accept-Encoding"]);
  if (options.encoding) headers.push(["content-encoding", options.encoding]);
  return headers;
}

/** A plain-text response with `status` and `message` (no body for HEAD), counted. */
export function answer(
  metrics: Metrics | undefined,
  status: number,
  message: string,
  request: Request,
  headers?: HeadersInit,
): Response {
  metrics?.countStatic(status);
  return textResponse(status, message, { headers, omitBody: request.method === "HEAD" });
}

/** The response for a known file version, with the body taken from `body(range)`. */
export function respond(
  metrics: Metrics | undefined,
  request: Request,
  file: FileVersion,
  body: (range: ByteRange) => BodyInit | null,
  representation: { vary?: boolean; encoding?: string } = {},
): Response {
  const notModified = isNotModified(request, file);
  const headers = fileHeaders(file, {
    vary: representation.vary ?? false,
    encoding: representation.encoding,
    withContentType: !notModified,
  });
  if (notModified) {
    metrics?.countStatic(304);
    return new Response(null, { status: 304, headers });
  }
  let status = 200;
  let range: ByteRange = { start: 0, end: file.size - 1 };
  if (rangeApplies(request, file)) {
    const parsed = parseRange(request.headers.get("range"), file.size);
    if (parsed === "unsatisfiable") {
      return answer(metrics, 416, "range not satisfiable", request, {
        "content-range": `bytes */${file.size}`,
      });
    }
    if (parsed !== "full") {
      status = 206;
      range = parsed;
      headers.push(["content-range", `bytes ${range.start}-${range.end}/${file.size}`]);
    }
  }
  headers.push(["content-length", String(range.end - range.start + 1)]);
  metrics?.countStatic(status);
  const content = request.method === "HEAD" || file.size === 0 ? null : body(range);
  return new Response(content, { status, headers });
}

/** Answers from a cached file, or from the precompressed variant the client accepts best. */
export function respondCached(
  metrics: Metrics | undefined,
  request: Request,
  cached: CachedFile,
): Response {
  const vary = cached.variants.length > 0;
  // Ranges are served from the file itself: clients that decode as they go cannot decode
  // a slice of a compressed stream.
  let variant: EncodedVariant | undefined;
  if (vary && !request.headers.has("range")) {
    const accepted = request.headers.get("accept-encoding");
    variant = cached.variants.find((v) => acceptsEncoding(accepted, v.encoding));
  }
  const chosen = variant ?? cached;
  return respond(
    metrics,
    request,
    chosen,
    (r) => cachedBody(chosen.body.subarray(r.start, r.end + 1)),
    { vary, encoding: variant?.encoding },
  );
}
