/**
 * The steps of one upgrade that need no state: the peer's address, the subprotocol chosen
 * from a route's, and the call to `Deno.upgradeWebSocket`.
 *
 * @module
 */

import type { WebSocketRoute } from "../app.ts";

/** Formats an address for logs: IPv6 in brackets. */
export function formatAddress(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** The address of the TCP peer, when the server listens on TCP. */
export function peerOf(info: Deno.ServeHandlerInfo): { hostname: string; port: number } {
  const addr = info.remoteAddr as Deno.Addr;
  return addr.transport === "tcp" || addr.transport === "udp"
    ? { hostname: addr.hostname, port: addr.port }
    : { hostname: "local", port: 0 };
}

/** Upgrades a checked handshake, answering `protocol` (when not `null`) in the 101. */
export function upgrade(
  request: Request,
  protocol: string | null,
  idleTimeout: number,
): Deno.WebSocketUpgrade {
  if (protocol === null) return Deno.upgradeWebSocket(request, { idleTimeout });
  try {
    // Deno's own option is the cheap way, but it finds the name only in a list separated by
    // ", " exactly, and throws (before upgrading anything) on a valid "chat,echo"...
    return Deno.upgradeWebSocket(request, { idleTimeout, protocol });
  } catch {
    // ...so then the header is set on the 101 here.
    const upgraded = Deno.upgradeWebSocket(request, { idleTimeout });
    upgraded.response.headers.set("sec-websocket-protocol", protocol);
    return upgraded;
  }
}

/** The subprotocol a route speaks of those offered (the client's first), or `null`. */
export function chooseProtocol(route: WebSocketRoute, offered: string[]): string | null {
  for (const protocol of offered) if (Object.hasOwn(route, protocol)) return protocol;
  return Object.hasOwn(route, "") ? "" : null;
}
