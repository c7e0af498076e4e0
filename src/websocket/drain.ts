/**
 * The shutdown drain of one session: messages the peer sent before the close are still taken
 * on and answered, and the close goes once the peer (and every session draining with it) has
 * been quiet for a moment, or the grace has passed.
 *
 * @module
 */

/** When the last message of any session draining together arrived (`performance.now()`). */
export interface DrainActivity {
  /** `performance.now()` of the last message taken on. */
  lastMessageMs: number;
}

/**
 * How long every draining session must have been quiet before its close is sent: frames the
 * peer wrote before the signal may still be on the wire. Twice the longest whole-server
 * silence measured mid-backlog (bench/README.md, "Runtime limits").
 */
export const SHUTDOWN_QUIET_MS = 300;

/** The longest a drain takes on messages when the caller does not say. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 1000;

/** One session's drain: the close it will send and when. */
export class ShutdownDrain {
  /** The close to send once drained. */
  readonly code: number;
  /** Its reason. */
  readonly reason: string;
  #takeUntilMs: number;
  #activity: DrainActivity;

  /** Starts a drain that takes on messages for up to `graceMs`, sharing `activity`. */
  constructor(code: number, reason: string, graceMs: number, activity: DrainActivity) {
    this.code = code;
    this.reason = reason;
    this.#takeUntilMs = performance.now() + graceMs;
    this.#activity = activity;
  }

  /** Whether a message arriving now is still taken on; notes the activity if so. */
  takes(): boolean {
    const nowMs = performance.now();
    if (nowMs > this.#takeUntilMs) return false;
    this.#activity.lastMessageMs = nowMs;
    return true;
  }

  /**
   * Runs `then` once the peer has been quiet for {@linkcode SHUTDOWN_QUIET_MS}, and the
   * sessions sharing the activity too: while Deno dispatches other sessions' messages, this
   * peer's frames can wait unread in the kernel for hundreds of milliseconds. Up to the grace.
   * `setTimer` is told each timer, so the caller can cancel the wait.
   */
  afterQuiet(setTimer: (timer: ReturnType<typeof setTimeout>) => void, then: () => void): void {
    const waitMs = this.#waitMs();
    const dueMs = performance.now() + waitMs;
    setTimer(setTimeout(() => {
      const nowMs = performance.now();
      // Another session still receiving, or a timer firing late (the loop was stalled, and
      // I/O waits behind the timers): what the peer sent may not have been dispatched yet.
      const busy = nowMs - this.#activity.lastMessageMs < SHUTDOWN_QUIET_MS ||
        nowMs - dueMs > SHUTDOWN_QUIET_MS / 2;
      if (busy && this.#waitMs() > 0) this.afterQuiet(setTimer, then);
      else then();
    }, waitMs));
  }

  /** How long the close still waits for quiet. */
  #waitMs(): number {
    return Math.max(0, Math.min(SHUTDOWN_QUIET_MS, this.#takeUntilMs - performance.now()));
  }
}
