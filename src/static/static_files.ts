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
 * The rules live in their own modules (`request_path.ts`, `range.ts`, `accept_encoding.ts`,
 * and the internal `_*.ts`); this one ties them together.
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

import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { BAD_HOST_MESSAGE, parseRequestUrl } from "../server/request_url.ts";
import { rangeStream } from "./_body.ts";
import { FileCache } from "./_file_cache.ts";
import { openInRoot } from "./_open_in_root.ts";
import { answer, respond, respondCached } from "./_respond.ts";
import { shown } from "./_util.ts";
import { resolveRequestPath } from "./request_path.ts";

export { acceptsEncoding } from "./accept_encoding.ts";
export { type ByteRange, parseRange } from "./range.ts";
export { MAX_PATH_BYTES, MAX_SEGMENT_BYTES, resolveRequestPath } from "./request_path.ts";

/** Options for {@linkcode createStaticHandler}. */
export interface StaticFilesOptions {
  /** Files up to this size are kept in memory. @default {1048576} (1 MiB) */
  maxCachedFileBytes?: number;
  /** Total bytes of cached files; the oldest are dropped past it. @default {67108864} (64 MiB) */
  maxCacheBytes?: number;
  /**
   * Milliseconds a cached file is served without checking the disk again; a change shows
   * after at most this long (new files show at once). `0` checks on every request.
   * @default {1000}
   */
  revalidateMs?: number;
  /** Counters to update. @default {undefined} (none) */
  metrics?: Metrics;
  /** Where error lines go. @default {undefined} (none) */
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

/** Creates the handler serving files under `root` (resolved once, symlinks included). */
export function createStaticHandler(root: string, options: StaticFilesOptions = {}): StaticHandler {
  // realPath resolves a relative root against the working directory.
  const realRoot = Deno.realPathSync(root);
  const maxCachedFileBytes = options.maxCachedFileBytes ?? DEFAULT_MAX_CACHED_FILE_BYTES;
  const maxCacheBytes = options.maxCacheBytes ?? DEFAULT_MAX_CACHE_BYTES;
  const revalidateMs = options.revalidateMs ?? DEFAULT_REVALIDATE_MS;
  const { metrics, logger } = options;
  const cache = new FileCache({ realRoot, maxCacheBytes, metrics, logger });

  /** Serves a small file from the cache, loading it first (one load for concurrent misses). */
  async function serveCacheable(request: Request, path: string, pathname: string) {
    const loaded = await cache.load(path, pathname);
    return "refused" in loaded
      ? answer(metrics, 404, loaded.refused, request)
      : respondCached(metrics, request, loaded);
  }

  /** Streams a file too large for the cache from disk. */
  async function streamFromDisk(request: Request, path: string, pathname: string) {
    const opened = await openInRoot(realRoot, path, pathname, logger);
    if ("refused" in opened) return answer(metrics, 404, opened.refused, request);
    const { file, info, version } = opened;
    let handedOff = false;
    try {
      return respond(metrics, request, version, (r) => {
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
      return answer(metrics, 405, `method ${shown(request.method)} not allowed`, request, {
        allow: "GET, HEAD",
      });
    }
    url ??= parseRequestUrl(request) ?? undefined;
    if (url === undefined) return answer(metrics, 400, BAD_HOST_MESSAGE, request);
    const pathname = url.pathname;
    const resolved = resolveRequestPath(realRoot, pathname);
    if ("status" in resolved) return answer(metrics, resolved.status, resolved.message, request);
    const { path } = resolved;
    const cached = cache.get(path);
    // A stat is the costliest step of a cached answer, so a recent check is trusted.
    if (cached && performance.now() - cached.checkedAtMs < revalidateMs) {
      return respondCached(metrics, request, cached);
    }
    try {
      // A changed file has a new size or mtime.
      const info = Deno.statSync(path);
      if (info.isDirectory) {
        if (resolved.trailingSlash) {
          return answer(metrics, 404, `not found: ${shown(pathname)}`, request);
        }
        const location = `${pathname}/${url.search}`;
        metrics?.countStatic(301);
        return new Response(null, { status: 301, headers: { location } });
      }
      if (
        cached && cached.size === info.size && cached.mtimeMs === (info.mtime?.getTime() ?? 0)
      ) {
        cached.checkedAtMs = performance.now();
        return respondCached(metrics, request, cached);
      }
      cache.forget(path);
      return info.size <= maxCachedFileBytes
        ? await serveCacheable(request, path, pathname)
        : await streamFromDisk(request, path, pathname);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        return answer(metrics, 404, `not found: ${shown(pathname)}`, request);
      }
      if (error instanceof Deno.errors.PermissionDenied) {
        return answer(metrics, 403, `forbidden: ${shown(pathname)}`, request);
      }
      // Out of file descriptors: passing, so the client is told to come back.
      const code = (error as { code?: string }).code;
      if (code === "EMFILE" || code === "ENFILE") {
        logger?.warn("static.busy", { path: pathname, error: String(error) });
        return answer(metrics, 503, "server busy: out of file descriptors, retry later", request, {
          "retry-after": "1",
        });
      }
      logger?.error("static.failed", { path: pathname, error: String(error) });
      return answer(metrics, 500, "internal error reading the file", request);
    }
  };
}
