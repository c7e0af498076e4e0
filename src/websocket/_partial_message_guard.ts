/**
 * The message-size limit before a message is complete. Deno reassembles a fragmented message
 * whole, with no limit, before JavaScript sees it (400 MiB in 1 MiB fragments took 843 MiB), so
 * `maxMessageBytes` alone is checked too late. Linux counts the bytes each connection has
 * received: what the session has not been handed as messages yet is a message in progress (or
 * messages still queued). Past the limit, with room for read-ahead, the session is terminated.
 *
 * Looking costs FFI calls per connection, so it looks only after the process has grown by a
 * message's worth since its lowest point; otherwise a tick reads the resident size, nothing more.
 * (Not `getrusage`'s peak: it showed the growth late, past 80 MiB instead of 20.)
 * A message arriving at loopback speed (over 1 GB/s) is reassembled by Deno without yielding to
 * the event loop, so the guard sees it only when it is complete; on real links it sees it early.
 *
 * @module
 */

import { bytesReceived, connectionsOn, tcpAvailable } from "./_tcp.ts";

/** What the guard needs of one session. */
export interface GuardedSession {
  /** The peer's TCP port, to find the connection. */
  readonly remotePort: number;
  /** Payload bytes handed to the session so far. */
  readonly bytesReceived: number;
  /** Messages handed to the session so far (each had a frame header). */
  readonly messagesReceived: number;
  /** False once closing: its bytes are no longer read as messages. */
  readonly isConnected: boolean;
}

/** Options for {@linkcode PartialMessageGuard}. */
export interface PartialMessageGuardOptions<S extends GuardedSession> {
  /** The limit: a message in progress past it (plus read-ahead) ends its session. */
  maxMessageBytes: number;
  /** The server's port (each accepted connection's local port). */
  localPort: () => number;
  /** The sessions to watch. */
  sessions: () => Iterable<S>;
  /** Called for a session past the limit, with the bytes in progress. */
  onOversize: (session: S, inProgress: number) => void;
  /** Milliseconds between looks at the resident size. Default: 100. */
  intervalMs?: number;
}

/** Bytes a frame adds to its payload at most (header, extended length, mask). */
const FRAME_OVERHEAD = 14;
/** The upgrade request and control frames, which are no messages. */
const HANDSHAKE_SLACK = 64 * 1024;
/** Complete messages the kernel and Deno may hold before the session sees them. */
const READ_AHEAD_SLACK = 8 * 1024 * 1024;

/** Watches the sessions of one route while any is open; see the module comment. */
export class PartialMessageGuard<S extends GuardedSession> {
  #options: PartialMessageGuardOptions<S>;
  #timer: ReturnType<typeof setInterval> | undefined;
  #floorRss = 0;

  /** Creates a stopped guard; {@linkcode PartialMessageGuard.start} starts it if FFI is allowed. */
  constructor(options: PartialMessageGuardOptions<S>) {
    this.#options = options;
  }

  /** Starts watching (idempotent); without FFI it does nothing. */
  start(): void {
    if (this.#timer !== undefined || !tcpAvailable()) return;
    this.#floorRss = Deno.memoryUsage().rss;
    const timer = setInterval(() => this.#tick(), this.#options.intervalMs ?? 100);
    // The guard alone must not keep the process alive.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Stops watching. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    const rss = Deno.memoryUsage().rss;
    if (rss < this.#floorRss) this.#floorRss = rss;
    if (rss - this.#floorRss < this.#options.maxMessageBytes) return;
    this.#floorRss = rss;
    const { maxMessageBytes, onOversize } = this.#options;
    const connections = connectionsOn(this.#options.localPort());
    for (const session of this.#options.sessions()) {
      if (!session.isConnected) continue;
      const fd = connections.get(session.remotePort);
      if (fd === undefined) continue;
      const wire = bytesReceived(fd);
      if (wire < 0) continue;
      const inProgress = wire - session.bytesReceived -
        FRAME_OVERHEAD * session.messagesReceived - HANDSHAKE_SLACK;
      if (inProgress > maxMessageBytes + READ_AHEAD_SLACK) onOversize(session, inProgress);
    }
  }
}
