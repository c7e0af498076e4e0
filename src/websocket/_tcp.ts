/**
 * What Linux knows of a session's TCP connection and Deno does not show: its descriptor (found
 * by the connection's two ports), the bytes it has received, and a reset. Through libc with FFI,
 * only when `--allow-ffi` is granted; every function answers "unavailable" otherwise.
 *
 * @module
 */

interface Libc {
  malloc_trim(pad: bigint): number;
  getpeername(fd: number, addr: Uint8Array, len: Uint8Array): number;
  getsockname(fd: number, addr: Uint8Array, len: Uint8Array): number;
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, len: Uint8Array): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number): number;
  shutdown(fd: number, how: number): number;
}

let libc: Libc | null | undefined;

/** libc, loaded on first use; `null` off Linux or without the FFI permission. */
function c(): Libc | null {
  return libc ??= loadLibc();
}

function loadLibc(): Libc | null {
  if (Deno.build.os !== "linux") return null;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  try {
    return Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32" },
      getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
      getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
      getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
      setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
      shutdown: { parameters: ["i32", "i32"], result: "i32" },
    }).symbols as unknown as Libc;
  } catch {
    return null;
  }
}

/** True when this process can look at and reset its TCP connections. */
export function tcpAvailable(): boolean {
  return c() !== null;
}

/** A scan stops after this many descriptors in a row that are no connected socket. */
const SCAN_GAP = 4096;
const SOL_SOCKET = 1;
const SO_LINGER = 13;
const IPPROTO_TCP = 6;
const TCP_INFO = 11;
const SHUT_RDWR = 2;
/** `struct tcp_info`: where `tcpi_bytes_received` (u64) sits, and a size that holds it. */
const BYTES_RECEIVED_OFFSET = 128;
const TCP_INFO_BYTES = 232;

// Buffers for the calls, made once: a scan calls for every descriptor of the process, and
// garbage per call (thousands of small buffers) showed in the resident size.
const addr = new Uint8Array(128);
const addrLength = new Uint32Array(1);
const addrLengthBytes = new Uint8Array(addrLength.buffer);
const info = new Uint8Array(TCP_INFO_BYTES);
const infoLength = new Uint32Array(1);
const infoLengthBytes = new Uint8Array(infoLength.buffer);
const infoView = new DataView(info.buffer);

/** The port of a socket's own (`getsockname`) or peer (`getpeername`) address, or -1. */
function portOf(libc: Libc, which: "getsockname" | "getpeername", fd: number): number {
  addrLength[0] = addr.length;
  if (libc[which](fd, addr, addrLengthBytes) !== 0) return -1;
  const family = addr[0] | (addr[1] << 8);
  // AF_INET and AF_INET6 keep the port, big-endian, at the same offset.
  return family === 2 || family === 10 ? (addr[2] << 8) | addr[3] : -1;
}

/**
 * Calls `visit(remotePort, fd)` for each connection accepted on `localPort` until it returns
 * true. Descriptors are handed out lowest first, so the scan stops after a long run of others.
 * (Not a listing of /proc/self/fd: Deno's permissions allow that only to --allow-all.)
 */
function scanConnections(localPort: number, visit: (remote: number, fd: number) => boolean) {
  const libc = c();
  if (!libc) return;
  for (let fd = 3, gap = 0; gap < SCAN_GAP; fd++) {
    const remote = portOf(libc, "getpeername", fd);
    if (remote === -1) {
      gap++;
      continue;
    }
    gap = 0;
    if (portOf(libc, "getsockname", fd) === localPort && visit(remote, fd)) return;
  }
}

/** The descriptors of the connections accepted on `localPort`, by the peer's port. */
export function connectionsOn(localPort: number): Map<number, number> {
  const found = new Map<number, number>();
  scanConnections(localPort, (remote, fd) => (found.set(remote, fd), false));
  return found;
}

/** The descriptor of the connection between `localPort` and the peer's `remotePort`, or -1. */
export function descriptorOf(localPort: number, remotePort: number): number {
  let found = -1;
  scanConnections(localPort, (remote, fd) => remote === remotePort && (found = fd, true));
  return found;
}

/** Bytes the kernel has received on `fd` (headers and all), or -1. */
export function bytesReceived(fd: number): number {
  const libc = c();
  if (!libc) return -1;
  infoLength[0] = TCP_INFO_BYTES;
  if (libc.getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, infoLengthBytes) !== 0) return -1;
  return Number(infoView.getBigUint64(BYTES_RECEIVED_OFFSET, true));
}

let trimTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * Resets the connection on `fd`: linger 0, so the kernel drops its buffers and sends a reset,
 * then `shutdown`, which fails Deno's pending reads and writes so they free theirs. The
 * descriptor stays Deno's to close. A moment later freed heap goes back to the system (glibc
 * keeps it otherwise). False when FFI is unavailable.
 */
export function resetConnection(fd: number): boolean {
  const libc = c();
  if (!libc || fd < 0) return false;
  libc.setsockopt(fd, SOL_SOCKET, SO_LINGER, new Uint8Array(new Int32Array([1, 0]).buffer), 8);
  libc.shutdown(fd, SHUT_RDWR);
  if (trimTimer !== undefined) clearTimeout(trimTimer);
  trimTimer = setTimeout(() => {
    trimTimer = undefined;
    libc.malloc_trim(0n);
  }, 500);
  return true;
}
