/**
 * The origin policy of WebSocket upgrades: a browser page may connect from the server's own
 * origin, or from one listed; clients that send no `Origin` (not browsers) always may.
 *
 * @example
 * ```ts
 * import { originPolicy } from "./origin.ts";
 *
 * const allowed = originPolicy(["https://app.example"]);
 * const request = new Request("http://localhost/chat", { headers: { origin: "https://evil.example" } });
 * console.log(allowed(request)); // false
 * ```
 * @module
 */

/**
 * A check that says whether `request` may upgrade: no `Origin`, one of `allowedOrigins`
 * (`*` allows any), or the server's own origin as the request's `Host` names it (so a page
 * works on localhost, 127.0.0.1, or behind a proxy that sets `Host`).
 */
export function originPolicy(allowedOrigins: readonly string[]): (request: Request) => boolean {
  const allowed = new Set(allowedOrigins);
  const any = allowed.has("*");
  return (request) => {
    const origin = request.headers.get("origin");
    if (origin === null || any || allowed.has(origin)) return true;
    return isSameOrigin(origin, request);
  };
}

/** True when `origin` is the origin the request's `Host` names. */
function isSameOrigin(origin: string, request: Request): boolean {
  const host = request.headers.get("host");
  if (host === null) return false;
  try {
    const page = new URL(origin);
    if (page.protocol !== "http:" && page.protocol !== "https:") return false;
    // Parsing the Host with the page's scheme drops a default port the same way.
    return page.host === new URL(`${page.protocol}//${host}`).host;
  } catch {
    return false;
  }
}
