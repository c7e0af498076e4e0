/**
 * The `--backplane` URL: `redis://[user:password@]host:port[/db]` or `rediss://` for TLS.
 * Checked at start-up so a typo stops the server with one line, not a reconnect loop.
 *
 * @example
 * ```ts
 * import { backplaneUrlProblem } from "./backplane_url.ts";
 *
 * console.log(backplaneUrlProblem("redis://127.0.0.1:6379/0")); // null
 * console.log(backplaneUrlProblem("http://x:1")); // 'unknown scheme "http:" (use redis:// or rediss://)'
 * ```
 * @module
 */

/** Why `raw` is no backplane URL, or `null` when it is one. */
export function backplaneUrlProblem(raw: string): string | null {
  // Host and port first: the URL parser reports both only as "invalid URL".
  const authority = /^rediss?:\/\/(?:[^@/]*@)?(\[[^\]]*\]|[^:/]*)(?::([^/]*))?/.exec(raw);
  if (authority) {
    if (authority[1] === "") return "no host (redis://host:6379)";
    const port = authority[2];
    if (port !== undefined && !(/^\d+$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
      return `port must be between 1 and 65535, got "${port.slice(0, 20)}"`;
    }
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `"${raw.slice(0, 100)}" is not a URL like redis://host:6379`;
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    return `unknown scheme "${url.protocol}" (use redis:// or rediss://)`;
  }
  if (!/^(\/\d{0,2})?$/.test(url.pathname)) {
    return `database must be a number from 0 to 99, got "${url.pathname.slice(1, 40)}"`;
  }
  if (url.search !== "" || url.hash !== "") return "no query or fragment allowed";
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    return "user or password is not percent-encoded (write % as %25)";
  }
  return null;
}

/** The URL with its password replaced, for logs. */
export function redactedUrl(raw: string): string {
  const url = new URL(raw);
  if (url.password !== "") url.password = "***";
  return url.href;
}
