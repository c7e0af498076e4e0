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

/** Work told when the turn it was scheduled in ends. */
export interface TurnTask {
  /** The turn ended; `true` asks for the next turn's end to be marked even if idle. */
  endTurn(): boolean;
}

/** Ends turns for every task of this thread. */
export class TurnClock {
  /** The current turn; tasks compare it with the turns they acted in. */
  turn = 0;
  #channel: MessageChannel | undefined;
  #users = 0;
  #scheduled = false;
  /** Tasks waiting for the end of this turn. */
  #due: TurnTask[] = [];

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
    for (const task of due) busy = task.endTurn() || busy;
    // A busy task acts differently next turn; that turn's end must come even if it brings
    // nothing, or the task would stay busy through a quiet spell.
    if (busy) this.schedule();
  }
}

/** This thread's clock. */
export const turnClock: TurnClock = new TurnClock();

/** Holds work until the end of the turn, then {@linkcode TurnFlusher.flush}es it. */
export abstract class TurnFlusher implements TurnTask {
  #closed = false;

  /** Starts using this thread's clock until {@linkcode TurnFlusher.close}. */
  constructor() {
    turnClock.acquire();
  }

  /** Sends what is held. */
  abstract flush(): void;

  endTurn(): boolean {
    if (!this.#closed) this.flush();
    return false;
  }

  /** Sends what is held and lets the clock go. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    turnClock.release();
  }
}
