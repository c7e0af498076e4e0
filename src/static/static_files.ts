/**
 * The static-file handler over one directory: `serveDir`'s rules, shaped for speed.
 *
 * - Small files are served from memory, with their validators computed once; a cached file is
 *   checked on disk (one `stat`) at most once a second, so new files show at once and changed
 *   ones within a second, without a restart.
 *   The cache is bounded in file size and in total.
 * - Compressible cached files also keep `br` and `gzip` variants, made once, sent to clients
 *   that accept them, with `Vary: Accept-Encoding`.
 * - Large files are streamed from disk.
 * - `ETag`/`Last-Modified` with 304 on `If-None-Match`/`If-Modified-Since`; one `Range` → 206
 *   (honouring `If-Range`), an unsatisfiable one → 416; HEAD sends headers only.
 * - Dotfiles, anything outside the root (`..`, encoded slashes, backslashes, NUL, symlinks
 *   pointing out) are never served; malformed percent-encoding → 400; other methods → 405.
 *
 * @example
 * ```ts
 * import { createStaticHandler } from "./static_files.ts";
 *
 * const serveStatic = createStaticHandler("./static");
 * Deno.serve({ port: 0 }, (request) => serveStatic(request));
 * ```
 * @module
 */

import { contentTypeFor, isCompressible } from "./content_type.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { BAD_HOST_MESSAGE, parseRequestUrl } from "../server/request_url.ts";
import { textResponse } from "../server/responses.ts";

/**
 * The platform's path separator. Not `node:path`'s `sep`: loading Deno's Node layer adds over a
 * megabyte to the heap, which every full collection (frequent under large binary messages) marks.
 */
const SEP = Deno.build.os === "windows" ? "\\" : "/";

/** Options for {@linkcode createStaticHandler}. */
export interface StaticFilesOptions {
  /** Files up to this size are kept in memory. Default: 1 MiB. */
  maxCachedFileBytes?: number;
  /** Total bytes of cached files; the oldest are dropped past it. Default: 64 MiB. */
  maxCacheBytes?: number;
  /**
   * Milliseconds a cached file is served without checking the disk again; a change shows
   * after at most this long (new files show at once). `0` checks on every request.
   * Default: 1000.
   */
  revalidateMs?: number;
  /** Counters to update. Default: none. */
  metrics?: Metrics;
  /** Where error lines go. Default: none. */
  logger?: Logger;
}

/**
 * A function from a request to the static file (or refusal) that answers it. `url` is the
 * request's URL when the caller has parsed it already (see `parseRequestUrl`).
 */
export type StaticHandler = (request: Request, url?: URL) => Promise<Response>;

/** Default largest file kept in memory. */
export const DEFAULT_MAX_CACHED_FILE_BYTES: number = 1024 * 1024;
/** Default time a cached file is trusted without a look at the disk. */
export const DEFAULT_REVALIDATE_MS = 1000;
/** Default total size of the in-memory cache. */
export const DEFAULT_MAX_CACHE_BYTES: number = 64 * 1024 * 1024;

/** What a response needs to know of one file version. */
interface FileVersion {
  size: number;
  mtimeMs: number;
  etag: string;
  lastModified: string;
  contentType: string;
}

/** A file whose real path leaves the root, or that is no regular file: answered 404. */
type Refused = { refused: string };

/** A regular file under the root, open. */
interface Opened {
  file: Deno.FsFile;
  info: Deno.FileInfo;
  version: FileVersion;
}

interface CachedFile extends FileVersion {
  body: Uint8Array<ArrayBuffer>;
  /** Precompressed variants (only those smaller than the file), smallest first. */
  variants: EncodedVariant[];
  /** Bytes the entry holds in the cache, variants included. */
  cacheBytes: number;
  /** When the file on disk was last seen unchanged (`performance.now()`). */
  checkedAtMs: number;
}

/** One precompressed form of a cached file. */
interface EncodedVariant extends FileVersion {
  encoding: "br" | "gzip";
  body: Uint8Array<ArrayBuffer>;
}

/** Bodies from this size on are sent as a stream of views of the cached bytes. */
const STREAM_FROM_BYTES = 256 * 1024;
const STREAM_CHUNK_BYTES = 64 * 1024;

/**
 * The body for cached `bytes`. A `Uint8Array` body is copied whole per response (the Fetch
 * rules), which for a 1 MiB file cost 2-4 ms when the copy lands on fresh pages (the profile of
 * static-1m: 87 % in `extractBody`, at 267 requests/s); a stream of views copies nothing here.
 */
function cachedBody(bytes: Uint8Array<ArrayBuffer>): BodyInit {
  if (bytes.length < STREAM_FROM_BYTES) return bytes;
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const end = Math.min(offset + STREAM_CHUNK_BYTES, bytes.length);
      controller.enqueue(bytes.subarray(offset, end));
      offset = end;
      if (offset === bytes.length) controller.close();
    },
  });
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
async function encodeVariants(
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

/** The outcome of mapping a URL path to a file path. */
type PathResult =
  | { path: string; trailingSlash: boolean }
  | { status: 400 | 404 | 414; message: string };

/** Longest URL path served (Linux `PATH_MAX`); longer → 414. */
export const MAX_PATH_BYTES = 4096;
/** Longest decoded path segment (a file name on Linux and most file systems); longer → 404. */
export const MAX_SEGMENT_BYTES = 255;

/** At most 200 characters of a client's path, for a response line. */
function shown(pathname: string): string {
  return pathname.length > 200 ? `${pathname.slice(0, 200)}…` : pathname;
}

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

function versionOf(path: string, info: Deno.FileInfo): FileVersion {
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

/** True when `If-None-Match` lists `etag` (weak comparison) or is `*`. */
function noneMatch(header: string, etag: string): boolean {
  if (header.trim() === "*") return true;
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
}

/** True when the client's copy is current, by `If-None-Match`, else `If-Modified-Since`. */
function isNotModified(request: Request, file: FileVersion): boolean {
  const ifNoneMatch = request.headers.get("if-none-match");
  if (ifNoneMatch !== null) return noneMatch(ifNoneMatch, file.etag);
  const ifModifiedSince = request.headers.get("if-modified-since");
  if (ifModifiedSince === null) return false;
  const since = Date.parse(ifModifiedSince);
  // HTTP dates have whole seconds.
  return !Number.isNaN(since) && Math.floor(file.mtimeMs / 1000) * 1000 <= since;
}

/** A byte range to send: `start` to `end` inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a `Range` header for a file of `size` bytes.
 *
 * @returns the range; `"full"` when the whole file should be sent (no header, another unit,
 * or several ranges, which this server answers whole); `"unsatisfiable"` for a malformed or
 * unsatisfiable byte range (answered 416).
 */
export function parseRange(
  header: string | null,
  size: number,
): ByteRange | "full" | "unsatisfiable" {
  if (header === null) return "full";
  const match = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!match) return "full";
  if (match[1].includes(",")) return "full";
  const range = /^(\d*)\s*-\s*(\d*)\s*$/.exec(match[1]);
  if (!range || (range[1] === "" && range[2] === "")) return "unsatisfiable";
  let start: number;
  let end: number;
  if (range[1] === "") {
    const suffix = Number(range[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(range[1]);
    end = range[2] === "" ? size - 1 : Math.min(Number(range[2]), size - 1);
  }
  if (start >= size || start > end) return "unsatisfiable";
  return { start, end };
}

/** True when `If-Range` is absent or still matches, so `Range` applies. */
function rangeApplies(request: Request, file: FileVersion): boolean {
  const ifRange = request.headers.get("if-range");
  if (ifRange === null) return true;
  if (ifRange.startsWith('"')) return ifRange === file.etag;
  return ifRange === file.lastModified;
}

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

/** A stream of `length` bytes of `file` from `start`; closes the file when done or cancelled. */
function rangeStream(file: Deno.FsFile, start: number, length: number): ReadableStream<Uint8Array> {
  let left = length;
  let positioned = false;
  return new ReadableStream({
    type: "bytes",
    async pull(controller) {
      try {
        if (!positioned) {
          await file.seek(start, Deno.SeekMode.Start);
          positioned = true;
        }
        const chunk = new Uint8Array(Math.min(left, 64 * 1024));
        const read = await file.read(chunk);
        if (read === null || read === 0) throw new Error("file shrank while being sent");
        controller.enqueue(read === chunk.length ? chunk : chunk.subarray(0, read));
        left -= read;
        if (left === 0) {
          file.close();
          controller.close();
        }
      } catch (error) {
        file.close();
        controller.error(error);
      }
    },
    cancel() {
      file.close();
    },
  });
}

/** Creates the handler serving files under `root` (resolved once, symlinks included). */
export function createStaticHandler(root: string, options: StaticFilesOptions = {}): StaticHandler {
  // realPath resolves a relative root against the working directory.
  const realRoot = Deno.realPathSync(root);
  const maxCachedFileBytes = options.maxCachedFileBytes ?? DEFAULT_MAX_CACHED_FILE_BYTES;
  const maxCacheBytes = options.maxCacheBytes ?? DEFAULT_MAX_CACHE_BYTES;
  const revalidateMs = options.revalidateMs ?? DEFAULT_REVALIDATE_MS;
  const { metrics, logger } = options;
  const cache = new Map<string, CachedFile>();
  /** Files being read and compressed into the cache, so concurrent misses share the work. */
  const loading = new Map<string, Promise<CachedFile | Refused>>();
  let cacheBytes = 0;

  function forget(path: string): void {
    const old = cache.get(path);
    if (old) {
      cache.delete(path);
      cacheBytes -= old.cacheBytes;
    }
  }

  function remember(path: string, file: CachedFile): void {
    forget(path);
    cache.set(path, file);
    cacheBytes += file.cacheBytes;
    // Maps iterate in insertion order, so the first keys are the oldest.
    for (const [oldPath, old] of cache) {
      if (cacheBytes <= maxCacheBytes) break;
      cache.delete(oldPath);
      cacheBytes -= old.cacheBytes;
    }
  }

  /** Answers from a cached file, or from the precompressed variant the client accepts best. */
  function respondCached(request: Request, cached: CachedFile): Response {
    const vary = cached.variants.length > 0;
    // Ranges are served from the file itself: clients that decode as they go cannot decode
    // a slice of a compressed stream.
    if (vary && !request.headers.has("range")) {
      const accepted = request.headers.get("accept-encoding");
      const variant = cached.variants.find((v) => acceptsEncoding(accepted, v.encoding));
      if (variant) {
        return respond(
          request,
          variant,
          (r) => cachedBody(variant.body.subarray(r.start, r.end + 1)),
          { vary, encoding: variant.encoding },
        );
      }
    }
    return respond(request, cached, (r) => cachedBody(cached.body.subarray(r.start, r.end + 1)), {
      vary,
    });
  }

  function answer(status: number, message: string, request: Request, headers?: HeadersInit) {
    metrics?.countStatic(status);
    return textResponse(status, message, { headers, omitBody: request.method === "HEAD" });
  }

  /** The response for a known file version, with the body taken from `body(start, end)`. */
  function respond(
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
        return answer(416, "range not satisfiable", request, {
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

  /** Opens `path` if its real path stays under the root and it is a regular file. */
  async function openInRoot(path: string, pathname: string): Promise<Opened | Refused> {
    const realPath = await Deno.realPath(path);
    if (!realPath.startsWith(realRoot + SEP)) {
      logger?.warn("static.outside_root", { path: pathname });
      return { refused: `not found: ${shown(pathname)}` };
    }
    const file = await Deno.open(realPath);
    const info = await file.stat();
    if (!info.isFile) {
      file.close();
      return { refused: `not found: ${shown(pathname)}` };
    }
    return { file, info, version: versionOf(realPath, info) };
  }

  /** Reads a small file and its compressed variants into the cache. */
  async function loadIntoCache(path: string, pathname: string): Promise<CachedFile | Refused> {
    const opened = await openInRoot(path, pathname);
    if ("refused" in opened) return opened;
    const { file, info, version } = opened;
    let filled = 0;
    const body = new Uint8Array(info.size);
    try {
      while (filled < info.size) {
        const read = await file.read(body.subarray(filled));
        if (read === null) break;
        filled += read;
      }
    } finally {
      file.close();
    }
    const content = body.subarray(0, filled);
    const variants = await encodeVariants(version, content);
    const cached: CachedFile = {
      ...version,
      body: content,
      size: filled,
      variants,
      cacheBytes: variants.reduce((sum, v) => sum + v.size, filled),
      checkedAtMs: performance.now(),
    };
    remember(path, cached);
    metrics?.countStaticCacheLoad();
    return cached;
  }

  /**
   * Serves a small file from the cache, loading it first. Compressing takes long (brotli:
   * about a second per MiB), so requests for a file being loaded wait for that load instead of
   * each reading and compressing it again.
   */
  async function serveCacheable(request: Request, path: string, pathname: string) {
    let load = loading.get(path);
    if (!load) {
      load = loadIntoCache(path, pathname).finally(() => loading.delete(path));
      loading.set(path, load);
    }
    const loaded = await load;
    return "refused" in loaded
      ? answer(404, loaded.refused, request)
      : respondCached(request, loaded);
  }

  /** Streams a file too large for the cache from disk. */
  async function streamFromDisk(request: Request, path: string, pathname: string) {
    const opened = await openInRoot(path, pathname);
    if ("refused" in opened) return answer(404, opened.refused, request);
    const { file, info, version } = opened;
    let handedOff = false;
    try {
      return respond(request, version, (r) => {
        handedOff = true;
        return r.start === 0 && r.end === info.size - 1
          ? file.readable
          : rangeStream(file, r.start, r.end - r.start + 1);
      });
    } finally {
      if (!handedOff) file.close();
    }
  }

  return async function serveStatic(request: Request, url?: URL): Promise<Response> {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return answer(405, `method ${shown(request.method)} not allowed`, request, {
        allow: "GET, HEAD",
      });
    }
    url ??= parseRequestUrl(request) ?? undefined;
    if (url === undefined) return answer(400, BAD_HOST_MESSAGE, request);
    const pathname = url.pathname;
    const resolved = resolveRequestPath(realRoot, pathname);
    if ("status" in resolved) return answer(resolved.status, resolved.message, request);
    const { path } = resolved;
    const cached = cache.get(path);
    // A stat is the costliest step of a cached answer, so a recent check is trusted.
    if (cached && performance.now() - cached.checkedAtMs < revalidateMs) {
      return respondCached(request, cached);
    }
    try {
      // A changed file has a new size or mtime.
      const info = Deno.statSync(path);
      if (info.isDirectory) {
        if (resolved.trailingSlash) return answer(404, `not found: ${shown(pathname)}`, request);
        const location = `${pathname}/${url.search}`;
        metrics?.countStatic(301);
        return new Response(null, { status: 301, headers: { location } });
      }
      if (
        cached && cached.size === info.size && cached.mtimeMs === (info.mtime?.getTime() ?? 0)
      ) {
        cached.checkedAtMs = performance.now();
        return respondCached(request, cached);
      }
      forget(path);
      return info.size <= maxCachedFileBytes
        ? await serveCacheable(request, path, pathname)
        : await streamFromDisk(request, path, pathname);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        return answer(404, `not found: ${shown(pathname)}`, request);
      }
      if (error instanceof Deno.errors.PermissionDenied) {
        return answer(403, `forbidden: ${shown(pathname)}`, request);
      }
      // Out of file descriptors: passing, so the client is told to come back.
      const code = (error as { code?: string }).code;
      if (code === "EMFILE" || code === "ENFILE") {
        logger?.warn("static.busy", { path: pathname, error: String(error) });
        return answer(503, "server busy: out of file descriptors, retry later", request, {
          "retry-after": "1",
        });
      }
      logger?.error("static.failed", { path: pathname, error: String(error) });
      return answer(500, "internal error reading the file", request);
    }
  };
}
