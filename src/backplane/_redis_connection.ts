/**
 * One connection to Redis on `Deno.connect` (or `Deno.connectTls` for `rediss://`): no npm
 * client, so the process never loads Deno's Node layer for it, and a message costs a parse,
 * not a trip through streams and emitters. It connects in the background and again
 * `retryMs` after every failure, logs in and selects the database the URL names, pings
 * every `timeoutMs` and drops a connection whose ping went unanswered for as long, and fails
 * commands at once while down: nothing is queued for later.
 *
 * @module
 */

import { safely } from "../_safely.ts";
import { concat, encodeCommand, RespError, RespReader } from "./_resp.ts";
import type { RespValue } from "./_resp.ts";

/** Options for {@linkcode RedisConnection}. */
export interface RedisConnectionOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` (checked before). */
  url: string;
  /** Connect, log-in and ping timeout in milliseconds. */
  timeoutMs: number;
  /** Wait before connecting again after a failure, in milliseconds. */
  retryMs: number;
  /** Connected and ready (again), or down and why. */
  onState(up: boolean, why?: string): void;
  /** Set for a subscriber: a message published to a channel it subscribed. */
  onMessage?(channel: string, message: string): void;
}

/** Most bytes of commands waiting to be written: beyond it a command fails at once. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/** `promise`, or a rejection naming `what` once `ms` milliseconds have passed. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** One TCP connection's life: its commands waiting for replies, and its writes in order. */
class Link {
  readonly conn: Deno.Conn;
  #waiting: { resolve(value: RespValue): void; reject(error: Error): void }[] = [];
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  #closedWhy: string | undefined;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** Sends a command; its reply settles the promise (a Redis error rejects it). */
  send(args: readonly string[]): Promise<RespValue> {
    if (this.#closedWhy !== undefined) return Promise.reject(new Error(this.#closedWhy));
    const bytes = encodeCommand(args);
    if (this.#queued + bytes.length > MAX_QUEUED_BYTES) {
      return Promise.reject(new Error("Redis is not reading: write buffer full"));
    }
    const { promise, resolve, reject } = Promise.withResolvers<RespValue>();
    this.#waiting.push({ resolve, reject });
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    // Commands of one turn leave in one write, after the turn (a microtask later).
    if (!this.#writing) {
      this.#writing = true;
      queueMicrotask(() => this.#pump());
    }
    return promise;
  }

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0 && this.#closedWhy === undefined) {
        const bytes = concat(this.#queue);
        this.#queue = [];
        for (let at = 0; at < bytes.length;) at += await this.conn.write(bytes.subarray(at));
        this.#queued -= bytes.length; // counted until written: the bound holds in flight too
      }
    } catch (error) {
      this.close(`write failed: ${(error as Error).message}`);
    } finally {
      this.#writing = false;
    }
  }

  /** Reads replies until the connection ends; resolves with why it ended. */
  async read(onMessage?: (channel: string, message: string) => void): Promise<string> {
    const reader = new RespReader();
    const chunk = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.conn.read(chunk);
        if (n === null) return this.close("Redis closed the connection");
        reader.push(chunk.subarray(0, n));
        for (let value = reader.next(); value !== undefined; value = reader.next()) {
          if (onMessage !== undefined && Array.isArray(value) && value[0] === "message") {
            // A callback that throws must not take the connection down.
            safely("backplane", () => onMessage(value[1] as string, value[2] as string));
            continue;
          }
          const waiter = this.#waiting.shift();
          if (waiter === undefined) return this.close("a reply nobody asked for");
          if (value instanceof RespError) waiter.reject(value);
          else waiter.resolve(value);
        }
      }
    } catch (error) {
      return this.close((error as Error).message);
    }
  }

  /** Closes the connection once and fails what waits; returns the first reason given. */
  close(why: string): string {
    if (this.#closedWhy !== undefined) return this.#closedWhy;
    this.#closedWhy = why;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    const error = new Error(why);
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
    this.#queue = [];
    this.#queued = 0;
    return why;
  }
}

/** A connection to Redis that keeps coming back; see the module's comment. */
export class RedisConnection {
  #options: RedisConnectionOptions;
  #url: URL;
  #link: Link | undefined;
  #ready = false;
  #closed = false;
  #pinging: ReturnType<typeof setInterval> | undefined;
  #wake: (() => void) | undefined;
  /** Rejects when closed, so a connect or log-in in progress stops waiting at once. */
  #stopped = Promise.withResolvers<never>();
  #loop: Promise<void>;

  /** Starts connecting; `onState` tells when it is ready. */
  constructor(options: RedisConnectionOptions) {
    this.#options = options;
    this.#url = new URL(options.url);
    this.#stopped.promise.catch(() => {});
    this.#loop = this.#run();
  }

  /** Whether commands can be sent. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Sends a command; fails at once while not ready. */
  command(args: readonly string[]): Promise<RespValue> {
    if (!this.#ready || this.#link === undefined) {
      return Promise.reject(new Error("not connected to Redis"));
    }
    return this.#link.send(args);
  }

  /** Disconnects for good. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopped.reject(new Error("closing"));
    this.#wake?.();
    this.#link?.close("closing");
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      let why: string;
      try {
        const link = this.#link = new Link(await this.#connect());
        const ended = link.read(this.#options.onMessage);
        await this.#timed(this.#logIn(link), "logging in");
        if (this.#closed) break;
        this.#ready = true;
        this.#ping(link);
        safely("backplane", () => this.#options.onState(true));
        why = await ended;
      } catch (error) {
        why = (error as Error).message;
      }
      this.#link?.close(why);
      this.#link = undefined;
      clearInterval(this.#pinging);
      this.#ready = false;
      if (this.#closed) break;
      safely("backplane", () => this.#options.onState(false, why));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#options.retryMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#link?.close("closing");
  }

  async #connect(): Promise<Deno.Conn> {
    const hostname = this.#url.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = Number(this.#url.port || 6379);
    const connecting: Promise<Deno.Conn> = this.#url.protocol === "rediss:"
      ? Deno.connectTls({ hostname, port })
      : Deno.connect({ hostname, port });
    try {
      return await this.#timed(connecting, "connecting");
    } catch (error) {
      connecting.then((conn) => conn.close(), () => {}); // one that connects late is closed
      throw error;
    }
  }

  async #logIn(link: Link): Promise<void> {
    const user = decodeURIComponent(this.#url.username);
    const password = decodeURIComponent(this.#url.password);
    if (password !== "") {
      await link.send(user === "" ? ["AUTH", password] : ["AUTH", user, password]);
    }
    const db = Number(this.#url.pathname.slice(1) || 0);
    if (db !== 0) await link.send(["SELECT", String(db)]);
    // A frozen Redis still accepts connections (the kernel does): only an answer says it is up.
    await link.send(["PING"]);
  }

  /** Pings every `timeoutMs`; a ping still unanswered at the next one drops the connection. */
  #ping(link: Link): void {
    let answered = true;
    this.#pinging = setInterval(() => {
      if (!answered) {
        return void link.close(`no answer to a ping within ${this.#options.timeoutMs} ms`);
      }
      answered = false;
      link.send(["PING"]).then(() => answered = true, () => {});
    }, this.#options.timeoutMs);
  }

  /** `promise` within the timeout, and no longer than until {@linkcode RedisConnection.close}. */
  #timed<T>(promise: Promise<T>, what: string): Promise<T> {
    return Promise.race([
      withTimeout(promise, this.#options.timeoutMs, what),
      this.#stopped.promise,
    ]);
  }
}
