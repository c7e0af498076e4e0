/**
 * Closing and aborting a server-side Deno WebSocket, around two gaps of Deno 2.9.6 (details and
 * measurements in bench/README.md, "Runtime limits"):
 *
 * - After `close()`, Deno drops the connection when a message arrives before the peer's close
 *   reply, usually before the close frame is written at all (its close op runs lazily, after the
 *   drop). A peer that is still sending therefore never sees the close. {@linkcode closeSocket}
 *   puts the socket's internal state back to OPEN at once, so Deno keeps reading until the peer
 *   answers; the session ignores what still arrives.
 * - `close()` waits behind every byte already queued, and Deno gives no way to abort: a peer that
 *   stops reading holds its connection and buffers for good. {@linkcode abortSocket} shuts the
 *   TCP socket down (`SO_LINGER` 0, `shutdown`) through libc when FFI is allowed, which fails
 *   Deno's stuck writes and frees everything; without FFI it drops Deno's resource, which ends
 *   the session but leaves a stuck connection to the peer.
 *
 * Both use the internal `[[readyState]]` and `[[rid]]` fields of Deno's WebSocket; when they are
 * missing (another Deno), they fall back to the plain API.
 *
 * @module
 */

// deno-lint-ignore no-explicit-any
type Internals = Record<symbol, any>;

let readyStateKey: symbol | undefined | null;
let ridKey: symbol | undefined | null;

function keyOf(socket: WebSocket, description: string): symbol | null {
  return Object.getOwnPropertySymbols(socket).find((s) => s.description === description) ?? null;
}

/**
 * Sends a close frame and keeps reading until the peer answers it. The caller must not send
 * on the socket again (Deno would take it), and must ignore messages that still arrive.
 */
export function closeSocket(socket: WebSocket, code: number, reason: string): void {
  socket.close(code, reason);
  readyStateKey ??= keyOf(socket, "[[readyState]]");
  if (readyStateKey && socket.readyState === WebSocket.CLOSING) {
    (socket as unknown as Internals)[readyStateKey] = WebSocket.OPEN;
  }
}

/** Where a session's TCP connection is, to find its descriptor: both ports. */
export interface TcpPorts {
  local: number;
  remote: number;
}

interface Libc {
  malloc_trim(pad: bigint): number;
  getpeername(fd: number, addr: Uint8Array, len: Uint8Array): number;
  getsockname(fd: number, addr: Uint8Array, len: Uint8Array): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number): number;
  shutdown(fd: number, how: number): number;
}

let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (Deno.build.os !== "linux") return null;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  try {
    return Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32" },
      getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
      getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
      setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
      shutdown: { parameters: ["i32", "i32"], result: "i32" },
    }).symbols as unknown as Libc;
  } catch {
    return null;
  }
}

/** Descriptors looked at for a session's socket; past Linux's usual hard limit of open files. */
const MAX_FD_SCAN = 1 << 20;
const SOL_SOCKET = 1;
const SO_LINGER = 13;
const SHUT_RDWR = 2;

/** The port of a socket's own (`getsockname`) or peer (`getpeername`) address, or -1. */
function portOf(c: Libc, which: "getsockname" | "getpeername", fd: number): number {
  const addr = new Uint8Array(128);
  const len = new Uint8Array(new Uint32Array([128]).buffer);
  if (c[which](fd, addr, len) !== 0) return -1;
  const family = addr[0] | (addr[1] << 8);
  // AF_INET and AF_INET6 keep the port, big-endian, at the same offset.
  return family === 2 || family === 10 ? (addr[2] << 8) | addr[3] : -1;
}

let trimTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * Hands freed heap back to the system a moment after the last reset, once Deno's failed writes
 * have let go of their buffers: glibc keeps freed memory in the process otherwise.
 */
function trimSoon(c: Libc): void {
  if (trimTimer !== undefined) clearTimeout(trimTimer);
  trimTimer = setTimeout(() => {
    trimTimer = undefined;
    c.malloc_trim(0n);
  }, 500);
}

/** Resets the TCP connection between `ports`; false when FFI is not allowed or none matched. */
function resetTcp(ports: TcpPorts): boolean {
  libc ??= loadLibc();
  if (!libc) return false;
  // Descriptors are handed out lowest first, so the open ones sit at the bottom. (Not a listing
  // of /proc/self/fd: Deno's permissions allow that only to --allow-all.)
  for (let fd = 3; fd < MAX_FD_SCAN; fd++) {
    if (portOf(libc, "getpeername", fd) !== ports.remote) continue;
    if (portOf(libc, "getsockname", fd) !== ports.local) continue;
    // Linger 0: the kernel drops its buffers and sends a reset. The descriptor stays Deno's.
    libc.setsockopt(fd, SOL_SOCKET, SO_LINGER, new Uint8Array(new Int32Array([1, 0]).buffer), 8);
    libc.shutdown(fd, SHUT_RDWR);
    trimSoon(libc);
    return true;
  }
  return false;
}

/**
 * Ends a socket whose close did not complete: resets its TCP connection when FFI is allowed
 * (Deno's stuck writes fail and free their buffers), else drops Deno's resource. Either way a
 * close event follows. Returns how: `"reset"` or `"dropped"`.
 */
export function abortSocket(socket: WebSocket, ports: TcpPorts | null): "reset" | "dropped" {
  readyStateKey ??= keyOf(socket, "[[readyState]]");
  // CLOSING first: Deno panics on a send or bufferedAmount of an OPEN socket whose resource is gone.
  if (readyStateKey) (socket as unknown as Internals)[readyStateKey] = WebSocket.CLOSING;
  if (ports && resetTcp(ports)) return "reset";
  ridKey ??= keyOf(socket, "[[rid]]");
  if (ridKey) {
    const internal = (Deno as unknown as Internals)[
      (Deno as unknown as { internal: symbol }).internal
    ];
    internal?.core?.tryClose((socket as unknown as Internals)[ridKey]);
  }
  return "dropped";
}
