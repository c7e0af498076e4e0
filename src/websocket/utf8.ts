/**
 * UTF-8 length of a string without encoding it: message limits and metrics count bytes on
 * the wire, not UTF-16 units.
 *
 * @example
 * ```ts
 * import { utf8ByteLength } from "./utf8.ts";
 *
 * console.log(utf8ByteLength("héllo")); // 6
 * ```
 * @module
 */

/** Any character outside ASCII: where UTF-8 needs more than one byte. */
const NON_ASCII = /[\u0080-\uffff]/;

/** UTF-8 length of a string without encoding it. */
export function utf8ByteLength(text: string): number {
  // Most text is ASCII, and a native scan is far cheaper than counting by hand. The count
  // by hand is a function of its own, keeping this one small for the runtime to inline.
  return NON_ASCII.test(text) ? countUtf8Bytes(text) : text.length;
}

function countUtf8Bytes(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      // A surrogate pair is 2 UTF-16 units and 4 UTF-8 bytes.
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2;
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}
