/**
 * The in-memory cache of small files, bounded in total (oldest dropped first), whose loads are
 * single-flight: concurrent misses for one file share one read and one compression.
 *
 * @example
 * ```ts
 * import { FileCache } from "./_file_cache.ts";
 *
 * const realRoot = Deno.realPathSync("static");
 * const cache = new FileCache({ realRoot, maxCacheBytes: 64 * 1024 * 1024 });
 * const loaded = await cache.load(`${realRoot}/index.html`, "/index.html");
 * if (!("refused" in loaded)) cache.get(`${realRoot}/index.html`) === loaded; // true
 * ```
 * @module
 */

import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { EncodedVariant } from "./_compression.ts";
import { encodeVariants } from "./_compression.ts";
import type { FileVersion } from "./_file_version.ts";
import { openInRoot, type Refused } from "./_open_in_root.ts";

/** A file held in memory, with its precompressed variants. */
export interface CachedFile extends FileVersion {
  /** The file's bytes. */
  body: Uint8Array<ArrayBuffer>;
  /** Precompressed variants (only those smaller than the file), smallest first. */
  variants: EncodedVariant[];
  /** Bytes the entry holds in the cache, variants included. */
  cacheBytes: number;
  /** When the file on disk was last seen unchanged (`performance.now()`). */
  checkedAtMs: number;
}

/** Options for {@linkcode FileCache}. */
export interface FileCacheOptions {
  /** The root's real path; files whose real path leaves it are refused. */
  realRoot: string;
  /** Total bytes of cached files; the oldest are dropped past it. */
  maxCacheBytes: number;
  /** Counters to update. @default {undefined} (none) */
  metrics?: Metrics;
  /** Where refusals of paths outside the root are logged. @default {undefined} (none) */
  logger?: Logger;
}

/** Cached files by path, with single-flight loading. */
export class FileCache {
  #options: FileCacheOptions;
  #files = new Map<string, CachedFile>();
  /** Files being read and compressed into the cache, so concurrent misses share the work. */
  #loading = new Map<string, Promise<CachedFile | Refused>>();
  #bytes = 0;

  /** An empty cache under `options.realRoot`. */
  constructor(options: FileCacheOptions) {
    this.#options = options;
  }

  /** The cached file at `path`, if any (the caller checks it is current). */
  get(path: string): CachedFile | undefined {
    return this.#files.get(path);
  }

  /** Drops the file at `path`, if cached. */
  forget(path: string): void {
    const old = this.#files.get(path);
    if (old) {
      this.#files.delete(path);
      this.#bytes -= old.cacheBytes;
    }
  }

  /**
   * Loads the file at `path` into the cache. Compressing takes long (brotli: about a second per
   * MiB), so requests for a file being loaded wait for that load instead of each reading and
   * compressing it again.
   */
  load(path: string, pathname: string): Promise<CachedFile | Refused> {
    let load = this.#loading.get(path);
    if (!load) {
      load = this.#read(path, pathname).finally(() => this.#loading.delete(path));
      this.#loading.set(path, load);
    }
    return load;
  }

  #remember(path: string, file: CachedFile): void {
    this.forget(path);
    this.#files.set(path, file);
    this.#bytes += file.cacheBytes;
    // Maps iterate in insertion order, so the first keys are the oldest.
    for (const [oldPath, old] of this.#files) {
      if (this.#bytes <= this.#options.maxCacheBytes) break;
      this.#files.delete(oldPath);
      this.#bytes -= old.cacheBytes;
    }
  }

  /** Reads a small file and its compressed variants into the cache. */
  async #read(path: string, pathname: string): Promise<CachedFile | Refused> {
    const opened = await openInRoot(this.#options.realRoot, path, pathname, this.#options.logger);
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
    this.#remember(path, cached);
    this.#options.metrics?.countStaticCacheLoad();
    return cached;
  }
}
