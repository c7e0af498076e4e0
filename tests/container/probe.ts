/**
 * Probes a running echo server from outside its container, through the
 * published port: the index page, the health route, and a WebSocket echo of
 * a text and a binary message over the `echo` subprotocol.
 *
 * Prints one `PASS <check>` or `FAIL <check>: <reason>` line per check and
 * exits with the number of failed checks. With `--hold` it instead keeps one
 * echo session open until the server closes it (see `hold`). Used by
 * `tests/container/run.sh`:
 *
 * ```sh
 * deno run --no-config --allow-net=127.0.0.1 tests/container/probe.ts http://127.0.0.1:8181
 * deno run --no-config --allow-net=127.0.0.1 tests/container/probe.ts --hold http://127.0.0.1:8181
 * ```
 *
 * @module
 */

/** How long one check may take before it fails, in milliseconds. */
const CHECK_TIMEOUT_MS = 15_000;

/** One named check: resolves when it passes, rejects with the reason otherwise. */
type Check = [name: string, run: () => Promise<void>];

/**
 * Fetches `url` and returns the status, content type and body text.
 *
 * @param url The address to GET.
 * @returns The response's status, `content-type` header (or "") and body.
 */
async function get(url: string): Promise<{ status: number; type: string; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
  const body = await response.text();
  return { status: response.status, type: response.headers.get("content-type") ?? "", body };
}

/**
 * Opens a WebSocket to `url` offering the `echo` subprotocol, sends each of
 * `messages` in turn and collects the replies, one per message.
 *
 * @param url The `ws://` address of the echo route.
 * @param messages Text or binary messages to send.
 * @returns The negotiated subprotocol and the replies (binary ones as ArrayBuffer).
 */
function echo(
  url: string,
  messages: (string | Uint8Array<ArrayBuffer>)[],
): Promise<{ protocol: string; replies: (string | ArrayBuffer)[] }> {
  const { promise, resolve, reject } = Promise.withResolvers<
    { protocol: string; replies: (string | ArrayBuffer)[] }
  >();
  const socket = new WebSocket(url, "echo");
  socket.binaryType = "arraybuffer";
  const replies: (string | ArrayBuffer)[] = [];
  const timer = setTimeout(() => {
    socket.close();
    reject(new Error(`no echo within ${CHECK_TIMEOUT_MS} ms`));
  }, CHECK_TIMEOUT_MS);
  socket.onopen = () => socket.send(messages[0]);
  socket.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
    replies.push(event.data);
    if (replies.length < messages.length) {
      socket.send(messages[replies.length]);
    } else {
      socket.close(1000, "done");
    }
  };
  socket.onerror = (event) => {
    clearTimeout(timer);
    reject(new Error(event instanceof ErrorEvent ? event.message : "WebSocket error"));
  };
  socket.onclose = (event) => {
    clearTimeout(timer);
    if (replies.length === messages.length) {
      resolve({ protocol: socket.protocol, replies });
    } else {
      reject(new Error(`closed early with code ${event.code} after ${replies.length} replies`));
    }
  };
  return promise;
}

/**
 * Builds the list of checks against the server at `base`.
 *
 * @param base The server's `http://host:port` address.
 * @returns The checks, in the order they run.
 */
function checks(base: string): Check[] {
  const text = "hello from outside the container ✓";
  const binary = new Uint8Array([0, 1, 2, 127, 128, 254, 255]);
  return [
    ["GET / returns the index page", async () => {
      const { status, type, body } = await get(`${base}/`);
      if (status !== 200) throw new Error(`status ${status}`);
      if (!type.startsWith("text/html")) throw new Error(`content-type ${type}`);
      if (!/<html/i.test(body)) throw new Error("body has no <html> element");
    }],
    ["GET /healthz answers ok", async () => {
      const { status, body } = await get(`${base}/healthz`);
      if (status !== 200 || body.trim() !== "ok") throw new Error(`status ${status}, body ${body}`);
    }],
    ["WebSocket echoes text and binary over the published port", async () => {
      const { protocol, replies } = await echo(`${base.replace(/^http/, "ws")}/echo`, [
        text,
        binary,
      ]);
      if (protocol !== "echo") throw new Error(`subprotocol "${protocol}"`);
      if (replies[0] !== text) throw new Error(`text reply ${JSON.stringify(replies[0])}`);
      const reply = replies[1];
      if (!(reply instanceof ArrayBuffer)) throw new Error("binary reply is not binary");
      if (new Uint8Array(reply).join() !== binary.join()) {
        throw new Error(`binary reply ${new Uint8Array(reply).join()}`);
      }
    }],
  ];
}

/**
 * Opens a WebSocket session and holds it until the server closes it: prints
 * `OPEN` once open, then `CLOSED code=<code>` when the server ends it.
 * run.sh stops the container in between.
 *
 * @param base The server's `http://host:port` address.
 * @param waitMs How long to wait for the close, in milliseconds.
 * @returns Whether the session was closed with 1001 (going away).
 */
function hold(base: string, waitMs: number): Promise<boolean> {
  const { promise, resolve } = Promise.withResolvers<boolean>();
  const socket = new WebSocket(`${base.replace(/^http/, "ws")}/echo`, "echo");
  const timer = setTimeout(() => {
    console.log(`NOT CLOSED within ${waitMs} ms`);
    socket.close();
    resolve(false);
  }, waitMs);
  socket.onopen = () => console.log("OPEN");
  socket.onerror = () => {};
  socket.onclose = (event) => {
    clearTimeout(timer);
    console.log(`CLOSED code=${event.code} reason=${JSON.stringify(event.reason)}`);
    resolve(event.code === 1001);
  };
  return promise;
}

if (import.meta.main && Deno.args[0] === "--hold") {
  const base = (Deno.args[1] ?? "http://127.0.0.1:8181").replace(/\/$/, "");
  Deno.exit(await hold(base, 30_000) ? 0 : 1);
} else if (import.meta.main) {
  const base = (Deno.args[0] ?? "http://127.0.0.1:8181").replace(/\/$/, "");
  let failed = 0;
  for (const [name, run] of checks(base)) {
    try {
      await run();
      console.log(`PASS ${name}`);
    } catch (error) {
      failed++;
      console.log(`FAIL ${name}: ${error instanceof Error ? error.message : error}`);
    }
  }
  Deno.exit(failed);
}
