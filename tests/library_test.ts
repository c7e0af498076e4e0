/**
 * The library entry (issue #14, points 2-5 and 11): `serve()` behaves like the command line,
 * a user's own app runs under `--workers 2`, the library probes nothing, and derived settings
 * follow the ones given.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ServerProcess, spawnServer } from "./_process.ts";
import type { WebSocketSession } from "../src/mod.ts";
import {
  appWith,
  closeEvent,
  freePort,
  nextMessage,
  openWebSocket,
  REPO_ROOT,
  startServer,
} from "./_helpers.ts";

/** A library user's program (tests/fixtures/library_user.ts) with only these permissions. */
const LIBRARY_USER = [
  "run",
  "--allow-net",
  "--allow-read",
  "--allow-env",
  "tests/fixtures/library_user.ts",
];

Deno.test("a library user's SIGTERM closes every session with 1001 and exits 0, as the command line does", async () => {
  await using user = new ServerProcess(["127.0.0.1", "0"], { program: LIBRARY_USER });
  const [line] = await user.waitFor(/^listening on \d+$/);
  const port = Number(line.split(" ").pop());
  const sockets = await Promise.all(
    Array.from({ length: 5 }, () => openWebSocket(`ws://127.0.0.1:${port}/shout`, "shout")),
  );
  for (const socket of sockets) {
    socket.send("before");
    assert.match(String(await nextMessage(socket)), /:BEFORE$/);
  }
  user.signal("SIGTERM");
  for (const socket of sockets) {
    const close = await closeEvent(socket);
    assert.equal(close.code, 1001);
    assert.equal(close.reason, "server shutting down");
  }
  assert.equal((await user.status).code, 0, user.output());
});

Deno.test("a library user's program never asks for a permission it was not given", async () => {
  // Under a terminal Deno asks before using a permission not given (prlimit, say); `script`
  // gives the program one, and an empty stdin answers no.
  const program = [Deno.execPath(), ...LIBRARY_USER, "127.0.0.1", "0"].join(" ");
  const script = new Deno.Command("script", {
    args: ["-qec", `timeout -s TERM 20 ${program}`, "/dev/null"],
    cwd: REPO_ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  const decoder = new TextDecoder();
  for await (const chunk of script.stdout) {
    output.push(decoder.decode(chunk));
    if (/listening on \d+/.test(output.join(""))) break;
  }
  Deno.kill(script.pid, "SIGTERM");
  await script.stdout.cancel().catch(() => {});
  await script.stderr.cancel();
  await script.status;
  const text = output.join("");
  assert.doesNotMatch(text, /requests \w+ access/, text);
  assert.match(text, /listening on \d+/, text);
});

Deno.test("a user's own app runs under --workers 2: one listening line, session ids unique across workers", async () => {
  const port = freePort();
  await using server = await spawnServer([
    "--app=tests/fixtures/shout_app.ts",
    "--workers=2",
    `--port=${port}`,
  ]);
  const sockets = await Promise.all(
    Array.from({ length: 24 }, () => openWebSocket(`ws://127.0.0.1:${port}/shout`, "shout")),
  );
  const ids = new Set<string>();
  for (const socket of sockets) {
    socket.send("hey");
    const [id, text] = String(await nextMessage(socket)).split(":");
    assert.equal(text, "HEY");
    ids.add(id);
  }
  assert.equal(ids.size, sockets.length, `ids ${[...ids].join(",")}`);
  const opens = await server.waitFor(/ session\.open /, sockets.length);
  const logged = opens.map((line) => /session=(\d+)/.exec(line)![1]);
  assert.equal(new Set(logged).size, sockets.length, "session= unique in the log");
  // Both workers served (ids 1, 3, 5… are worker 0's; 2, 4, 6… worker 1's).
  assert.ok(logged.some((id) => Number(id) % 2 === 0) && logged.some((id) => Number(id) % 2 === 1));
  for (const socket of sockets) socket.close();
  const listening = server.text().filter((line) => line.includes(" server.listening "));
  assert.equal(listening.length, 1, listening.join("\n"));
  assert.match(listening[0], /workers=2/);
});

Deno.test("maxMessageBytes of 64 MiB raises the read queue with it: a 40 MiB message waits unread", async () => {
  // The handler reads only after the session closed: the message must have waited in the
  // read queue (queued messages stay readable), which the old fixed 32 MiB closed with 1008.
  let report!: (bytes: number | null) => void;
  const read = new Promise<number | null>((resolve) => report = resolve);
  const handler = async (session: WebSocketSession) => {
    await session.closed;
    const message = await session.readMessage();
    report(message === null ? null : message.data.length);
  };
  await using t = startServer({ app: appWith(handler), maxMessageBytes: 64 * 1024 * 1024 });
  const socket = await openWebSocket(`${t.ws}/echo`);
  socket.send(new Uint8Array(40 * 1024 * 1024).fill(7));
  socket.close(1000, "sent");
  assert.equal((await closeEvent(socket)).code, 1000);
  assert.equal(await read, 40 * 1024 * 1024);
});
