/**
 * The request's URL, parsed once and only when its `Host` is a valid authority.
 *
 * Deno builds `request.url` from the client's `Host` header as sent, so `Host: a b` gives a URL
 * that `new URL` rejects, and `Host: x/y` moves `/y` into the path. Every route reads the URL
 * through {@linkcode parseRequestUrl}, so no client header reaches a parser unguarded.
 *
 * @example
 * ```ts
 * import { parseRequestUrl } from "./request_url.ts";
 *
 * const request = new Request("http://localhost:8181/echo", { headers: { host: "a b" } });
 * console.log(parseRequestUrl(request)?.pathname ?? "400 bad Host"); // "/echo"
 * ```
 * @module
 */

/**
 * RFC 9110 §7.2 `Host = uri-host [ ":" port ]`: a bracketed IPv6 literal or a reg-name /
 * IPv4 (unreserved, sub-delims, percent-encoding), then an optional port.
 */
const HOST_PATTERN = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::\d{0,5})?$/;

/** The one-line answer (400) to a request whose `Host` is no valid authority. */
export const BAD_HOST_MESSAGE = "bad Host header: not a valid host[:port]";

/** True when `host` (a `Host` header value) is a syntactically valid authority. */
export function isValidHost(host: string): boolean {
  return HOST_PATTERN.test(host);
}

/**
 * The parsed URL of `request`, or `null` when its `Host` header is not a valid authority (the
 * caller answers 400). Requests without `Host` (HTTP/1.0) carry the server's own address.
 */
export function parseRequestUrl(request: Request): URL | null {
  const host = request.headers.get("host");
  if (host !== null && !isValidHost(host)) return null;
  // The pattern lets through what the URL parser may still refuse (`127..0.1`, port 99999).
  try {
    return new URL(request.url);
  } catch {
    return null;
  }
}
