/**
 * Small plain-text responses shared by every route, so that every refusal reads the same:
 * a status, a one-line body ending in a newline, and any extra headers.
 *
 * @example
 * ```ts
 * import { textResponse } from "./responses.ts";
 *
 * const response = textResponse(404, "not found: /missing.txt");
 * ```
 * @module
 */

/** Options for {@linkcode textResponse}. */
export interface TextResponseOptions {
  /** Extra headers. Default: none. */
  headers?: HeadersInit;
  /** Send the headers but no body (for HEAD). Default: `false`. */
  omitBody?: boolean;
}

/** A `text/plain` response whose body is `message` plus a newline. */
export function textResponse(
  status: number,
  message: string,
  options: TextResponseOptions = {},
): Response {
  const body = `${message}\n`;
  const headers = new Headers(options.headers);
  headers.set("content-type", "text/plain; charset=utf-8");
  headers.set("content-length", String(new TextEncoder().encode(body).byteLength));
  return new Response(options.omitBody ? null : body, { status, headers });
}
