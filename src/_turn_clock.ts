/**
 * Ends turns of the event loop for whatever gathers work within one (batched deliveries,
 * the backplane's publishes): a turn ends when a message posted on a `MessageChannel`
 * arrives, a macrotask after every message the runtime had ready has been handled.
 * `setTimeout(0)` is no use here: Deno 2.9 fires it 1-3 ms later (bench/README.md), and it
 * would be clamped when nested. The channel exists only while some user holds the clock, so
 * it never keeps a process alive.
 *
 * @module
 */

import { reportFailure } from "./_safely.ts";

/** Work told when the turn it was scheduled in ends. */
export interface TurnTask {
  /** The turn ended; `true` when it held two or more of the task's items (a busy turn). */
  endTurn(): boolean;
}

/**
 * How long after a busy turn the clock stays busy: while it is, a turn's first item waits
 * with the rest (one macrotask, tens of microseconds) instead of going at once. Under load
 * the next burst comes when the peers have read the last one, often more than 10 ms later;
 * at 10 ms each turn's first still went alone and the batched fan-out made half the
 * deliveries per CPU-second it makes at 100 ms (bench/README.md, "Fan-out against peers").
 */
export const BUSY_MS = 100;

/** Ends turns for every task of this thread. */
export class TurnClock {
  /** The current turn; tasks compare it with the turns they acted in. */
  turn = 0;
  #channel: MessageChannel | undefined;
  #users = 0;
  #scheduled = false;
  /** Tasks waiting for the end of this turn. */
  #due: TurnTask[] = [];
  /** When the clock stops being busy (`performance.now()` time), and the turn it was read. */
  #busyUntil = 0;
  #busyTurn = -1;
  #busy = false;

  /** Whether a busy turn ended less than {@linkcode BUSY_MS} ago; read once per turn. */
  get busy(): boolean {
    if (this.#busyTurn !== this.turn) {
      this.#busyTurn = this.turn;
      this.#busy = this.#busyUntil > 0 && performance.now() < this.#busyUntil;
    }
    return this.#busy;
  }

  /** Starts (or joins) using the clock; every call needs a {@linkcode TurnClock.release}. */
  acquire(): void {
    if (this.#users++ > 0) return;
    this.#channel = new MessageChannel();
    this.#channel.port1.onmessage = () => this.#endTurn();
  }

  /** Stops using the clock; the last user closes its channel. */
  release(): void {
    if (--this.#users > 0) return;
    this.#channel!.port1.close();
    this.#channel = undefined;
    this.#scheduled = false;
    this.#due = [];
  }

  /** Makes sure this turn's end is marked, and `task`, if given, told then. */
  schedule(task?: TurnTask): void {
    // Without a user there is no turn to end: a task of a closed user sends at once instead.
    if (this.#channel === undefined) return;
    if (task) this.#due.push(task);
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#channel!.port2.postMessage(null);
  }

  #endTurn(): void {
    this.#scheduled = false;
    this.turn++;
    const due = this.#due;
    this.#due = [];
    let busy = false;
    for (const task of due) {
      try {
        busy = task.endTurn() || busy;
      } catch (error) {
        // One task's failure (an app's batch format, say) must not strand the others' items.
        reportFailure("turn clock", error);
      }
    }
    if (busy) this.#busyUntil = performance.now() + BUSY_MS;
  }
}

/** This thread's clock. */
export const turnClock: TurnClock = new TurnClock();

/**
 * Holds items until the end of the turn, then {@linkcode TurnFlusher.flush}es them: the one
 * rule of batched deliveries, the worker ports and the backplane. On a quiet thread a turn's
 * first item goes at once; the rest, and every item while the clock is busy, wait.
 */
export abstract class TurnFlusher implements TurnTask {
  #closed = false;
  /** The turn of the last item, how many that turn brought, and whether its end will flush. */
  #turn = -1;
  #count = 0;
  #held = false;

  /** Starts using this thread's clock until {@linkcode TurnFlusher.close}. */
  constructor() {
    turnClock.acquire();
  }

  /**
   * Counts an item; `true` when it is to go at once: the first of a turn on a quiet thread,
   * or any once closed (nothing would flush it).
   */
  protected firstOfQuietTurn(): boolean {
    if (this.#closed) return true;
    const turn = turnClock.turn;
    if (this.#turn !== turn) {
      this.#turn = turn;
      this.#count = 0;
      this.#held = false;
    }
    if (++this.#count > 1 || turnClock.busy) return false;
    turnClock.schedule(); // the turn's end must be marked for the next item to see it
    return true;
  }

  /** Asks, once a turn, for a flush at its end: call it when holding an item. */
  protected hold(): void {
    if (this.#held) return;
    this.#held = true;
    turnClock.schedule(this);
  }

  /** Sends what is held. */
  abstract flush(): void;

  /** The turn ended: flush; `true` when that turn brought two or more items (a busy turn). */
  endTurn(): boolean {
    if (this.#closed) return false;
    this.flush();
    return this.#turn === turnClock.turn - 1 && this.#count >= 2;
  }

  /** Sends what is held and lets the clock go. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    turnClock.release();
  }
}
