/**
 * RESP2, the Redis protocol, as far as the backplane needs it: commands out as arrays of bulk
 * strings, and replies in from a stream of chunks (simple strings, errors, integers, bulk
 * strings as text, arrays). Bulk strings are read as UTF-8 text: the backplane sends JSON only.
 *
 * @example
 * ```ts
 * import { encodeCommand, RespReader } from "./_resp.ts";
 *
 * const bytes = encodeCommand(["PUBLISH", "news", "héllo"]);
 * const reader = new RespReader();
 * reader.push(new TextEncoder().encode("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"));
 * console.log(bytes.length, reader.next()); // 39 ["message", "news", "hi"]
 * ```
 * @module
 */

/** A reply Redis sent as an error (`-ERR …`). */
export class RespError extends Error {
  override name = "RespError";
}

/** A reply: `null` for RESP2's null bulk string and null array. */
export type RespValue = string | number | null | RespError | RespValue[];

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CR = 13;

/** One command as RESP bytes. */
export function encodeCommand(args: readonly string[]): Uint8Array {
  const parts = args.map((arg) => encoder.encode(arg));
  let head = `*${parts.length}\r\n`;
  const pieces: Uint8Array[] = [];
  for (const part of parts) {
    head += `$${part.length}\r\n`;
    pieces.push(encoder.encode(head), part);
    head = "\r\n";
  }
  pieces.push(encoder.encode(head));
  return concat(pieces);
}

/** The chunks as one array. */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Redis's own bound on a bulk string; a longer length is no reply of Redis. */
const MAX_LENGTH = 512 * 1024 * 1024;
/** The reader's buffer at rest; one grown for a large reply shrinks back once it is read. */
const BUFFER_BYTES = 64 * 1024;

/** A length from a `$` or `*` line. */
function count(line: string): number {
  const n = Number(line);
  if (!Number.isSafeInteger(n) || line === "" || n > MAX_LENGTH) {
    throw new Error(`not RESP: length "${line.slice(0, 20)}"`);
  }
  return n;
}

/** Marks a reply that has not fully arrived yet. */
const PARTIAL = Symbol("partial");

/** Takes a connection's bytes as they come and gives back whole replies, in order. */
export class RespReader {
  #buffer = new Uint8Array(BUFFER_BYTES);
  #start = 0;
  #end = 0;

  /** Bytes waiting for the rest of their reply. */
  get pending(): number {
    return this.#end - this.#start;
  }

  /** Appends bytes read from the connection. */
  push(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buffer.length) {
      const kept = this.#end - this.#start;
      const size = Math.max(this.#buffer.length, (kept + chunk.length) * 2);
      if (size > this.#buffer.length) {
        const buffer = new Uint8Array(size);
        buffer.set(this.#buffer.subarray(this.#start, this.#end));
        this.#buffer = buffer;
      } else this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#start = 0;
      this.#end = kept;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** The next whole reply, or `undefined` until more bytes arrive. Throws on a broken stream. */
  next(): RespValue | undefined {
    const at = { offset: this.#start };
    const value = this.#value(at);
    if (value === PARTIAL) return undefined;
    this.#start = at.offset;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      if (this.#buffer.length > 16 * BUFFER_BYTES) this.#buffer = new Uint8Array(BUFFER_BYTES);
    }
    return value;
  }

  #line(at: { offset: number }): string | typeof PARTIAL {
    const cr = this.#buffer.subarray(0, this.#end).indexOf(CR, at.offset);
    if (cr < 0 || cr + 1 >= this.#end) return PARTIAL;
    const line = decoder.decode(this.#buffer.subarray(at.offset, cr));
    at.offset = cr + 2;
    return line;
  }

  #value(at: { offset: number }): RespValue | typeof PARTIAL {
    if (at.offset >= this.#end) return PARTIAL;
    const type = this.#buffer[at.offset++];
    const line = this.#line(at);
    if (line === PARTIAL) return PARTIAL;
    switch (type) {
      case 0x2b: // +
        return line;
      case 0x2d: // -
        return new RespError(line);
      case 0x3a: // :
        return Number(line);
      case 0x24: { // $
        const length = count(line);
        if (length < 0) return null;
        if (at.offset + length + 2 > this.#end) return PARTIAL;
        const text = decoder.decode(this.#buffer.subarray(at.offset, at.offset + length));
        at.offset += length + 2;
        return text;
      }
      case 0x2a: { // *
        const length = count(line);
        if (length < 0) return null;
        const items: RespValue[] = [];
        for (let i = 0; i < length; i++) {
          const item = this.#value(at);
          if (item === PARTIAL) return PARTIAL;
          items.push(item);
        }
        return items;
      }
      default:
        throw new Error(`not RESP: byte ${type} where a reply starts`);
    }
  }
}
