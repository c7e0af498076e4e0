/**
 * The real server process under test: `deno run -P main.ts` spawned on a free port, its output
 * collected line by line, killed by process id when the test disposes it.
 *
 * @module
 */

import { isServerLine, mainCommand } from "./_helpers.ts";
import type { FrameReader, ServerFrame, SpawnOptions } from "./_helpers.ts";
import { closePayload, encodeClientFrame, Opcode, parseClose, sameBytes } from "./_helpers.ts";

/** Safety net only: a child process still alive after this long is killed (never a timing check). */
const GUARD_MS = 30_000;

/** One line the server process wrote. */
interface OutputLine {
  stream: "stdout" | "stderr";
  text: string;
}

/**
 * The real server process, its output collected line by line (both pipes are drained until
 * they end, so the child never blocks on a full pipe). Dispose it to kill it if still running.
 */
export class ServerProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly status: Promise<Deno.CommandStatus>;
  readonly lines: OutputLine[] = [];
  /** The port from the `server.listening` line. */
  port = 0;
  exited = false;
  #waiters = new Set<() => void>();
  #outputEnded = false;
  #drained: Promise<void>;
  #guard: ReturnType<typeof setTimeout>;

  constructor(args: string[], options: SpawnOptions = {}) {
    this.child = mainCommand(args, options).spawn();
    this.#guard = setTimeout(() => this.#kill("SIGKILL"), GUARD_MS);
    this.status = this.child.status.then((status) => {
      this.exited = true;
      clearTimeout(this.#guard);
      return status;
    });
    this.#drained = Promise.all([
      this.#collect(this.child.stdout, "stdout"),
      this.#collect(this.child.stderr, "stderr"),
    ]).then(() => {
      this.#outputEnded = true;
      this.#wake();
    });
  }

  async #collect(stream: ReadableStream<Uint8Array>, name: OutputLine["stream"]) {
    let rest = "";
    // A plain TextDecoder: TextDecoderStream's types clash with the DOM lib the browser test loads.
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      let newline;
      while ((newline = rest.indexOf("\n")) !== -1) {
        this.lines.push({ stream: name, text: rest.slice(0, newline) });
        rest = rest.slice(newline + 1);
      }
      this.#wake();
    }
    if (rest !== "") this.lines.push({ stream: name, text: rest });
  }

  #wake() {
    for (const check of [...this.#waiters]) check();
  }

  #kill(signal: Deno.Signal) {
    try {
      if (!this.exited) this.child.kill(signal);
    } catch {
      // It exited in the meantime.
    }
  }

  /** Sends `signal` to the process. */
  signal(signal: Deno.Signal): void {
    this.child.kill(signal);
  }

  /**
   * Resolves with the first `count` lines (either stream) matching `pattern`, as they arrive;
   * rejects with the whole output if the process ends its output first.
   */
  waitFor(pattern: RegExp, count = 1): Promise<string[]> {
    const found: string[] = [];
    let cursor = 0;
    return new Promise((resolve, reject) => {
      const check = () => {
        for (; cursor < this.lines.length && found.length < count; cursor++) {
          if (pattern.test(this.lines[cursor].text)) found.push(this.lines[cursor].text);
        }
        if (found.length < count && !this.#outputEnded) return;
        this.#waiters.delete(check);
        if (found.length === count) resolve(found);
        else {
          reject(
            new Error(
              `output ended with ${found.length}/${count} lines matching ${pattern}:\n${this.output()}`,
            ),
          );
        }
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Lines of one stream, or both, without Deno's warning about permissions in deno.json. */
  text(stream?: OutputLine["stream"]): string[] {
    return this.lines
      .filter((line) => stream === undefined || line.stream === stream)
      .map((line) => line.text)
      .filter(isServerLine);
  }

  /** Everything it wrote, for failure messages. */
  output(): string {
    return this.lines.map((line) => `[${line.stream}] ${line.text}`).join("\n");
  }

  async [Symbol.asyncDispose]() {
    this.#kill("SIGKILL");
    await this.status;
    await this.#drained;
  }
}

/** Starts `deno run -P main.ts` on 127.0.0.1 and a free port; resolves once it listens. */
export async function spawnServer(
  args: string[] = [],
  options: SpawnOptions = {},
): Promise<ServerProcess> {
  const server = new ServerProcess(["--port=0", "--hostname=127.0.0.1", ...args], options);
  try {
    const [line] = await server.waitFor(/ server\.listening url=http:\/\/127\.0\.0\.1:\d+\//);
    server.port = Number(/:(\d+)\/ /.exec(`${line} `)![1]);
    return server;
  } catch (error) {
    await server[Symbol.asyncDispose]();
    throw error;
  }
}

/** Closes `conn` unless it is closed already. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/** Writes all of `bytes` (a write may take only part). */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/** A raw WebSocket session over TCP. */
export interface RawSession {
  conn: Deno.Conn;
  frames: FrameReader;
}

/**
 * The next frame other than ping or pong (a ping is answered with a pong, as a client must),
 * or `null` when the connection ends.
 */
export async function nextFrame(session: RawSession): Promise<ServerFrame | null> {
  while (true) {
    const frame = await session.frames.next();
    if (frame?.opcode === Opcode.Ping) {
      await writeAll(session.conn, encodeClientFrame(Opcode.Pong, frame.payload));
    } else if (frame?.opcode !== Opcode.Pong) return frame;
  }
}

/** One message a client sends. */
export interface Message {
  opcode: number;
  payload: Uint8Array;
}

/** How a client's session ended. */
export interface SessionEnd {
  /** Echoes received before the close frame, each matching what was sent. */
  echoed: number;
  /** The first echo that did not match, if any. */
  mismatch: string | null;
  /** The server's close frame, or `null` if none came. */
  close: { code: number; reason: string } | null;
  /** `"eof"` for a clean end of the connection after the close handshake, else what happened. */
  end: string;
}

/**
 * Reads a session to its end: every data frame must be the echo of the next message
 * (`expected(i)`), then the close frame comes, is answered (masked, same code), and the
 * server ends the connection. Closes `conn`.
 */
export async function readToEnd(
  session: RawSession,
  expected: (index: number) => Message,
): Promise<SessionEnd> {
  const result: SessionEnd = { echoed: 0, mismatch: null, close: null, end: "eof" };
  try {
    while (true) {
      const frame = await nextFrame(session);
      if (frame === null) {
        if (result.close === null) result.end = "connection ended without a close frame";
        break;
      }
      if (frame.opcode === Opcode.Close) {
        result.close = parseClose(frame.payload);
        await writeAll(
          session.conn,
          encodeClientFrame(Opcode.Close, closePayload(result.close.code)),
        );
        continue;
      }
      if (result.close !== null) {
        result.mismatch ??= "a data frame came after the close frame";
        continue;
      }
      const want = expected(result.echoed);
      if (
        result.mismatch === null &&
        (frame.opcode !== want.opcode || !sameBytes(frame.payload, want.payload))
      ) {
        result.mismatch = `echo ${result.echoed} is not message ${result.echoed} ` +
          `(opcode ${frame.opcode}, ${frame.payload.length} bytes)`;
      }
      result.echoed++;
    }
  } catch (error) {
    result.end = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } finally {
    closeQuietly(session.conn);
  }
  return result;
}
