/**
 * Test helpers: a real server on an ephemeral port, WebSocket clients that await events, and
 * a raw TCP client for handshakes a browser API cannot send.
 *
 * @module
 */

import { createLogger } from "../src/log.ts";
import type { Logger, LogLevel } from "../src/log.ts";
import echoApp from "../apps/echo/app.ts";
import type { App, SessionHandler } from "../src/app.ts";
import { createServer } from "../src/server/server.ts";
import type { Server, ServerOptions } from "../src/server/server.ts";

/** A logger that keeps its lines in memory, so tests stay quiet and can assert on them. */
export interface CapturedLog {
  logger: Logger;
  lines: string[];
  /**
   * Resolves with the first line matching `pattern` written from now on: a test awaits a
   * server-side event (a session closed and counted) instead of sleeping.
   */
  waitFor(pattern: RegExp): Promise<string>;
}

/** Creates a {@linkcode CapturedLog} at `level` (default `info`, the server's). */
export function captureLog(level: LogLevel = "info"): CapturedLog {
  const lines: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const write = (line: string) => {
    lines.push(line);
    for (const waiter of waiters) {
      if (waiter.pattern.test(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  };
  return {
    logger: createLogger({ level, write }),
    lines,
    waitFor: (pattern) => new Promise((resolve) => waiters.add({ pattern, resolve })),
  };
}

/** A server for one test, with its captured log and base URLs. */
export interface TestServer extends AsyncDisposable {
  server: Server;
  log: CapturedLog;
  /** `http://127.0.0.1:PORT` */
  http: string;
  /** `ws://127.0.0.1:PORT` */
  ws: string;
}

/** Options of {@linkcode startServer}: the server's own, plus the app. */
export interface TestServerOptions extends ServerOptions {
  /** The app to serve. Default: the echo app (`apps/echo/app.ts`). */
  app?: App;
}

/** An app with one WebSocket route, `path` speaking `protocol`, whose sessions `handler` runs. */
export function appWith(handler: SessionHandler, protocol = "echo", path = "/echo"): App {
  return { websocket: { [path]: { [protocol]: () => handler } } };
}

/** Options of the test's log. */
export interface TestLogOptions {
  /** Level of the captured log. Default: `info`, the server's own, so tests run its path. */
  logLevel?: LogLevel;
}

/** Starts a server on 127.0.0.1 and a free port; dispose it (`await using`) to shut it down. */
export function startServer(
  { app = echoApp, ...options }: TestServerOptions = {},
  { logLevel = "info" }: TestLogOptions = {},
): TestServer {
  const log = captureLog(logLevel);
  const server = createServer(app, {
    port: 0,
    hostname: "127.0.0.1",
    logger: log.logger,
    ...options,
  });
  const { port } = server.addr;
  return {
    server,
    log,
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/**
 * What a test client has received so far. Listeners are attached before the socket opens:
 * a message or close that comes right after the open event is never missed.
 */
interface Inbox {
  messages: (string | ArrayBuffer)[];
  closed: CloseEvent | null;
  /** Waits to re-check on every message and on close. */
  waiters: Set<() => void>;
}

const inboxes = new WeakMap<WebSocket, Inbox>();

function inboxOf(socket: WebSocket): Inbox {
  const inbox = inboxes.get(socket);
  if (!inbox) throw new Error("socket was not opened with openWebSocket");
  return inbox;
}

/** Waits until `ready()` holds, re-checking on every message and on close. */
function until<T>(inbox: Inbox, ready: () => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      try {
        const value = ready();
        if (value === undefined) return;
        resolve(value);
      } catch (error) {
        reject(error);
      }
      inbox.waiters.delete(check);
    };
    inbox.waiters.add(check);
    check();
  });
}

/** Opens a WebSocket (binaryType `arraybuffer`) and resolves once it is open. */
export async function openWebSocket(
  url: string,
  protocols: string | string[] = "echo",
): Promise<WebSocket> {
  const socket = new WebSocket(url, protocols);
  socket.binaryType = "arraybuffer";
  const inbox: Inbox = { messages: [], closed: null, waiters: new Set() };
  const wake = () => {
    for (const check of [...inbox.waiters]) check();
  };
  inboxes.set(socket, inbox);
  socket.addEventListener("message", (event) => {
    inbox.messages.push(event.data);
    wake();
  });
  socket.addEventListener("close", (event) => {
    inbox.closed = event;
    wake();
  });
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener("error", () => reject(new Error(`could not open ${url}`)), {
      once: true,
    });
  });
  return socket;
}

/** Resolves with the next `count` messages' data, in order (rejects if the socket closes first). */
export function nextMessages(socket: WebSocket, count: number): Promise<(string | ArrayBuffer)[]> {
  const inbox = inboxOf(socket);
  return until(inbox, () => {
    if (inbox.messages.length >= count) return inbox.messages.splice(0, count);
    if (inbox.closed) {
      throw new Error(
        `closed with ${inbox.closed.code} after ${inbox.messages.length}/${count} messages`,
      );
    }
    return undefined;
  });
}

/** Resolves with the next message's data. */
export async function nextMessage(socket: WebSocket): Promise<string | ArrayBuffer> {
  return (await nextMessages(socket, 1))[0];
}

/** Resolves with the close event of `socket`, even if it has already closed. */
export function closeEvent(socket: WebSocket): Promise<CloseEvent> {
  const inbox = inboxOf(socket);
  return until(inbox, () => inbox.closed ?? undefined);
}

/** Closes `socket` from the client side and waits for the closing handshake to finish. */
export function closeWebSocket(
  socket: WebSocket,
  code?: number,
  reason?: string,
): Promise<CloseEvent> {
  const closed = closeEvent(socket);
  if (socket.readyState !== WebSocket.CLOSED) socket.close(code, reason);
  return closed;
}

/** A well-formed opening handshake for `path`, with extra or replaced header lines. */
export function handshakeRequest(
  path: string,
  headers: Record<string, string | null> = {},
): string {
  const base: Record<string, string | null> = {
    Host: "127.0.0.1",
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Protocol": "echo",
  };
  const lines = [`GET ${path} HTTP/1.1`];
  for (const [name, value] of Object.entries({ ...base, ...headers })) {
    if (value !== null) lines.push(`${name}: ${value}`);
  }
  return lines.join("\r\n") + "\r\n\r\n";
}

/** What a raw exchange got back: the status, the headers and whatever body bytes came. */
export interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * Sends `request` bytes over a fresh TCP connection and reads the response head (and the body
 * up to `Content-Length`), then closes the connection. For handshakes a `WebSocket` cannot
 * send (bad keys, versions, raw protocol headers).
 */
export async function rawExchange(
  port: number,
  request: string | Uint8Array,
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(typeof request === "string" ? new TextEncoder().encode(request) : request);
    return await readResponse(conn);
  } finally {
    conn.close();
  }
}

/** Reads one HTTP/1.1 response head (and a `Content-Length` body) from `conn`. */
export async function readResponse(conn: Deno.Conn): Promise<RawResponse> {
  let buffer: Uint8Array = new Uint8Array(0);
  const decoder = new TextDecoder();
  const chunk = new Uint8Array(64 * 1024);
  let headEnd = -1;
  while (headEnd === -1) {
    const n = await conn.read(chunk);
    if (n === null) throw new Error(`connection closed after ${buffer.length} bytes`);
    buffer = concat(buffer, chunk.subarray(0, n));
    headEnd = decoder.decode(buffer).indexOf("\r\n\r\n");
  }
  const text = decoder.decode(buffer);
  const [statusLine, ...headerLines] = text.slice(0, headEnd).split("\r\n");
  const headers = new Headers();
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const status = Number(statusLine.split(" ")[1]);
  const length = Number(headers.get("content-length") ?? 0);
  let bodyBytes: Uint8Array = buffer.subarray(
    new TextEncoder().encode(text.slice(0, headEnd + 4)).length,
  );
  while (status !== 101 && bodyBytes.length < length) {
    const n = await conn.read(chunk);
    if (n === null) break;
    bodyBytes = concat(bodyBytes, chunk.subarray(0, n));
  }
  return { status, headers, body: decoder.decode(bodyBytes) };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Bytes `0, 1, 2, …` of length `size`, wrapping at 251 so no period aligns with a power of 2. */
export function patternBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = i % 251;
  return bytes;
}

/** True when two byte sequences are equal. */
export function sameBytes(a: ArrayBuffer | Uint8Array, b: ArrayBuffer | Uint8Array): boolean {
  const x = a instanceof Uint8Array ? a : new Uint8Array(a);
  const y = b instanceof Uint8Array ? b : new Uint8Array(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** WebSocket frame opcodes (RFC 6455 §5.2). */
export const Opcode = { Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;

/** Encodes one final client frame, masked as RFC 6455 requires of clients. */
export function encodeClientFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const length = payload.length;
  const extended = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const frame = new Uint8Array(2 + extended + 4 + length);
  frame[0] = 0x80 | opcode;
  const view = new DataView(frame.buffer);
  if (extended === 0) frame[1] = 0x80 | length;
  else if (extended === 2) {
    frame[1] = 0x80 | 126;
    view.setUint16(2, length);
  } else {
    frame[1] = 0x80 | 127;
    view.setBigUint64(2, BigInt(length));
  }
  const maskAt = 2 + extended;
  const mask = crypto.getRandomValues(new Uint8Array(4));
  frame.set(mask, maskAt);
  for (let i = 0; i < length; i++) frame[maskAt + 4 + i] = payload[i] ^ mask[i & 3];
  return frame;
}

/** A close frame's payload: the code and UTF-8 reason. */
export function closePayload(code: number, reason = ""): Uint8Array {
  const text = new TextEncoder().encode(reason);
  const payload = new Uint8Array(2 + text.length);
  new DataView(payload.buffer).setUint16(0, code);
  payload.set(text, 2);
  return payload;
}

/** One frame as the server sent it. */
export interface ServerFrame {
  opcode: number;
  payload: Uint8Array;
}

/** Reads server frames from a connection, buffering partial reads. */
export class FrameReader {
  #conn: Deno.Conn;
  #buffer: Uint8Array = new Uint8Array(0);
  #chunk: Uint8Array | undefined;

  /** Reads from `conn`, starting with bytes already read past the handshake, if any. */
  constructor(conn: Deno.Conn, leftover: Uint8Array = new Uint8Array(0)) {
    this.#conn = conn;
    this.#buffer = leftover;
  }

  async #fill(size: number): Promise<boolean> {
    while (this.#buffer.length < size) {
      // One read buffer per reader: a fresh 256 KiB per call made every frame cost that much.
      const chunk = this.#chunk ??= new Uint8Array(256 * 1024);
      const n = await this.#conn.read(chunk);
      if (n === null) return false;
      this.#buffer = concat(this.#buffer, chunk.subarray(0, n));
    }
    return true;
  }

  /** The next frame, or `null` when the connection ends first. */
  async next(): Promise<ServerFrame | null> {
    if (!await this.#fill(2)) return null;
    const length7 = this.#buffer[1] & 0x7f;
    const extended = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
    if (!await this.#fill(2 + extended)) return null;
    const view = new DataView(this.#buffer.buffer, this.#buffer.byteOffset);
    const length = extended === 0
      ? length7
      : extended === 2
      ? view.getUint16(2)
      : Number(view.getBigUint64(2));
    const start = 2 + extended;
    if (!await this.#fill(start + length)) return null;
    const frame = {
      opcode: this.#buffer[0] & 0x0f,
      payload: this.#buffer.slice(start, start + length),
    };
    // A view, not a copy: copying the rest after every frame is quadratic in a long backlog.
    this.#buffer = this.#buffer.subarray(start + length);
    return frame;
  }
}

/** Decodes a close frame's payload into its code and reason. */
export function parseClose(payload: Uint8Array): { code: number; reason: string } {
  if (payload.length < 2) return { code: 1005, reason: "" };
  const code = new DataView(payload.buffer, payload.byteOffset).getUint16(0);
  return { code, reason: new TextDecoder().decode(payload.subarray(2)) };
}

/**
 * Opens a raw WebSocket over TCP (or over `conn` if given, e.g. a TLS connection): sends the
 * handshake, checks the 101, and returns the connection with a frame reader.
 */
export async function rawWebSocket(
  port: number,
  options: { conn?: Deno.Conn; path?: string; headers?: Record<string, string | null> } = {},
): Promise<{ conn: Deno.Conn; frames: FrameReader }> {
  const conn = options.conn ?? await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(handshakeRequest(options.path ?? "/echo", options.headers)),
  );
  // Read byte by byte up to the end of the head, so no frame bytes are swallowed.
  const head: number[] = [];
  const one = new Uint8Array(1);
  while (!(head.length >= 4 && head.slice(-4).join() === "13,10,13,10")) {
    if (await conn.read(one) === null) throw new Error("connection closed during handshake");
    head.push(one[0]);
  }
  const status = new TextDecoder().decode(new Uint8Array(head)).split(" ")[1];
  if (status !== "101") {
    conn.close();
    throw new Error(`handshake answered ${status}`);
  }
  return { conn, frames: new FrameReader(conn) };
}

/** The repository root, where `main.ts` and `deno.json` are. */
export const REPO_ROOT: string = new URL("..", import.meta.url).pathname;

/** How {@linkcode mainCommand} starts the process. */
export interface SpawnOptions {
  /** Open-files limit (soft and hard: Deno raises the soft one to the hard one). Default: inherited. */
  nofile?: number;
  /** Environment variables beside the ones every run gets. Default: none. */
  env?: Record<string, string>;
  /** Deno's arguments before `args`: another program than the server's. Default: `run -P main.ts`. */
  program?: string[];
}

/** The real server process: `deno run -P main.ts ARGS` from the repository root, piped. */
export function mainCommand(
  args: string[],
  { nofile, env, program = ["run", "-P", "main.ts"] }: SpawnOptions = {},
): Deno.Command {
  const deno = [Deno.execPath(), ...program, ...args];
  const command = nofile === undefined
    ? deno
    : ["prlimit", `--nofile=${nofile}:${nofile}`, ...deno];
  return new Deno.Command(command[0], {
    args: command.slice(1),
    cwd: REPO_ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Deno's warning that permissions in deno.json are experimental, printed by every `-P` run. */
const PERMISSION_WARNING = /Permissions in the config file is an experimental feature/;

/** True for a process output line worth asserting on: not empty, not Deno's `-P` warning. */
export function isServerLine(line: string): boolean {
  return line !== "" && !PERMISSION_WARNING.test(line);
}

/** A port that was free a moment ago: several workers need one fixed port to share. */
export function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}
