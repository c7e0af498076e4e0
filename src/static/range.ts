/**
 * The `Range` header (RFC 9110 §14.2): one byte range, or the whole file, or a 416.
 *
 * @example
 * ```ts
 * import { parseRange } from "./range.ts";
 *
 * parseRange("bytes=0-3", 10); // { start: 0, end: 3 }
 * parseRange("bytes=-4", 10); // { start: 6, end: 9 }
 * parseRange("bytes=0-1,4-5", 10); // "full"
 * parseRange("bytes=20-", 10); // "unsatisfiable"
 * ```
 * @module
 */

/** A byte range to send: `start` to `end` inclusive. */
export interface ByteRange {
  /** First byte's offset. */
  start: number;
  /** Last byte's offset (inclusive). */
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
