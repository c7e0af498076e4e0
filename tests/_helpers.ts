/**
 * Test helpers: a real server on an ephemeral port, WebSocket clients that await events, and
 * a raw TCP client for handshakes a browser API cannot send.
 *
 * @module
 */

import { createLogger } from "../src/log.ts";
import type { Logger, LogLevel } from "../src/log.ts";
import { createServer } from "../src/server.ts";
import type { Server, ServerOptions } from "../src/server.ts";

/** A logger that keeps its lines in memory, so tests stay quiet and can assert on them. */
export interface CapturedLog {
  logger: Logger;
  lines: string[];
}

/** Creates a {@linkcode CapturedLog} at `level` (default `debug`). */
export function captureLog(level: LogLevel = "debug"): CapturedLog {
  const lines: string[] = [];
  return { logger: createLogger({ level, write: (line) => lines.push(line) }), lines };
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

/** Starts a server on 127.0.0.1 and a free port; dispose it (`await using`) to shut it down. */
export function startServer(options: ServerOptions = {}): TestServer {
  const log = captureLog();
  const server = createServer({ port: 0, hostname: "127.0.0.1", logger: log.logger, ...options });
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
