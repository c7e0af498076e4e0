/**
 * RFC 6455 opening-handshake checks and the `Sec-WebSocket-Protocol` parser, as pure
 * functions over a web `Request`: no runtime APIs, so they are tested without a server.
 *
 * Deno's `Deno.upgradeWebSocket` checks less than this and throws where it disagrees; running
 * these checks first turns every bad handshake into a specific 4xx instead of a 500.
 *
 * @example
 * ```ts
 * import { checkHandshake, parseProtocols, refusalResponse } from "./handshake.ts";
 *
 * const request = new Request("http://localhost/echo");
 * const refusal = checkHandshake(request);
 * if (refusal) console.log(refusalResponse(refusal).status); // 426
 * console.log(parseProtocols(request.headers)); // []
 * ```
 * @module
 */

import { textResponse } from "../server/responses.ts";

/**
 * Why a handshake was refused. The same strings label the log lines and the
 * `websocket_handshake_refusals_total` metric.
 */
export const RefusalReason = {
  /** The request method is not GET. */
  MethodNotAllowed: "method_not_allowed",
  /** A plain HTTP request reached a WebSocket-only route. */
  UpgradeRequired: "upgrade_required",
  /** `Sec-WebSocket-Key` is missing or not base64 of 16 bytes. */
  BadKey: "bad_key",
  /** `Sec-WebSocket-Version` is missing or not 13. */
  UnsupportedVersion: "unsupported_version",
  /** `Sec-WebSocket-Protocol` holds something that is not a token. */
  BadProtocolHeader: "bad_protocol_header",
  /** The route speaks none of the offered subprotocols. */
  NoSupportedProtocol: "no_supported_protocol",
  /** The route's session factory refused the request (returned `null` or a response). */
  Refused: "refused",
  /** A browser page from another origin tried to connect. */
  OriginNotAllowed: "origin_not_allowed",
  /** The server or this client address is at its connection limit. */
  TooManyConnections: "too_many_connections",
  /** The server is shutting down. */
  ShuttingDown: "shutting_down",
  /** The `Host` header is not a valid authority, so the request's URL means nothing. */
  BadHost: "bad_host",
} as const;

/** One of the {@linkcode RefusalReason} values. */
export type RefusalReason = typeof RefusalReason[keyof typeof RefusalReason];

/** A refused handshake: what to answer and why. */
export interface HandshakeRefusal {
  /** HTTP status of the answer (4xx or 503). */
  status: number;
  /** Machine-readable reason. */
  reason: RefusalReason;
  /** One line for the response body and the log. */
  message: string;
  /** Headers the status requires (`Allow`, `Upgrade`, `Retry-After`, …). Default: none. */
  headers?: Record<string, string>;
}

/** The only WebSocket protocol version (RFC 6455). */
export const WEBSOCKET_VERSION = "13";

/** Base64 of exactly 16 bytes: 22 characters, the last carrying 2 zero bits, then `==`. */
const KEY_PATTERN = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/** An RFC 7230 token: what a subprotocol name must be. */
const TOKEN_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** True when a comma-separated header value lists `token` (ASCII case-insensitive). */
function headerHasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  // Nearly every client sends the bare token: answer that without splitting the list.
  const lower = value.toLowerCase();
  if (lower === token) return true;
  return lower.includes(token) && lower.split(",").some((item) => item.trim() === token);
}

/**
 * Checks a request against the RFC 6455 opening-handshake rules, in this order:
 * not GET → 405 with `Allow: GET`; no `Upgrade: websocket` with `Connection: Upgrade` → 426
 * with `Upgrade: websocket`; missing or malformed `Sec-WebSocket-Key` → 400;
 * `Sec-WebSocket-Version` not 13 → 426 with `Sec-WebSocket-Version: 13`; a
 * `Sec-WebSocket-Protocol` element that is not a token → 400.
 *
 * @returns the refusal, or `null` when the request is a valid WebSocket handshake.
 */
export function checkHandshake(request: Request): HandshakeRefusal | null {
  const result = readHandshake(request);
  return Array.isArray(result) ? null : result;
}

/**
 * {@linkcode checkHandshake}, returning the offered subprotocols (as
 * {@linkcode parseProtocols} reads them) when the handshake is valid, so a server reads the
 * header once.
 *
 * @returns the refusal, or the offered subprotocols in order (`[]` when none).
 */
export function readHandshake(request: Request): HandshakeRefusal | string[] {
  const { headers } = request;
  if (request.method !== "GET") {
    return {
      status: 405,
      reason: RefusalReason.MethodNotAllowed,
      message: `method ${request.method} not allowed: a WebSocket handshake is a GET`,
      headers: { allow: "GET" },
    };
  }
  if (
    !headerHasToken(headers.get("upgrade"), "websocket") ||
    !headerHasToken(headers.get("connection"), "upgrade")
  ) {
    return {
      status: 426,
      reason: RefusalReason.UpgradeRequired,
      message: "this endpoint speaks WebSocket only: send Upgrade: websocket, Connection: Upgrade",
      headers: { upgrade: "websocket", connection: "Upgrade" },
    };
  }
  const key = headers.get("sec-websocket-key");
  if (key === null || !KEY_PATTERN.test(key)) {
    return {
      status: 400,
      reason: RefusalReason.BadKey,
      message: key === null
        ? "missing Sec-WebSocket-Key header"
        : "malformed Sec-WebSocket-Key: must be base64 of 16 bytes",
    };
  }
  if (headers.get("sec-websocket-version") !== WEBSOCKET_VERSION) {
    return {
      status: 426,
      reason: RefusalReason.UnsupportedVersion,
      message: "unsupported Sec-WebSocket-Version: only 13 is spoken",
      headers: { "sec-websocket-version": WEBSOCKET_VERSION },
    };
  }
  return parseProtocols(headers) ?? {
    status: 400,
    reason: RefusalReason.BadProtocolHeader,
    message: "malformed Sec-WebSocket-Protocol: expected comma-separated tokens",
  };
}

/**
 * Parses `Sec-WebSocket-Protocol`: comma-separated tokens with optional spaces or tabs,
 * possibly over several header lines (which `Headers` joins with `", "`). Empty elements are
 * skipped; names keep their case, since subprotocol names compare case-sensitively.
 *
 * @returns the offered names in order (`[]` when there is no header), or `null` when an
 * element is not a token.
 */
export function parseProtocols(headers: Headers): string[] | null {
  const value = headers.get("sec-websocket-protocol");
  if (value === null) return [];
  if (!value.includes(",")) {
    // One name, as most clients offer: no list to split.
    const name = value.trim();
    if (name === "") return [];
    return TOKEN_PATTERN.test(name) ? [name] : null;
  }
  const protocols: string[] = [];
  for (const item of value.split(",")) {
    const name = item.trim();
    if (name === "") continue;
    if (!TOKEN_PATTERN.test(name)) return null;
    protocols.push(name);
  }
  return protocols;
}

/** The plain-text HTTP answer for a refusal: its status, headers and one-line message. */
export function refusalResponse(refusal: HandshakeRefusal): Response {
  return textResponse(refusal.status, refusal.message, { headers: refusal.headers });
}
