/**
 * The README's app (issue #14, point 9): the TypeScript block under "Build your app" is run as
 * written, in the repository root where its imports resolve, on one listener and on two
 * worker threads. (CI type-checks every block with `deno check --doc-only README.md`.)
 *
 * @module
 */

import assert from "node:assert/strict";
import type { App } from "../src/app.ts";
import { spawnServer } from "./_process.ts";
import {
  encodeClientFrame,
  freePort,
  handshakeRequest,
  nextMessage,
  Opcode,
  openWebSocket,
  rawExchange,
  rawWebSocket,
  REPO_ROOT,
  startServer,
} from "./_helpers.ts";

/** The README's first TypeScript block after `heading`. */
async function readmeBlock(heading: string): Promise<string> {
  const readme = await Deno.readTextFile(`${REPO_ROOT}/README.md`);
  const section = readme.slice(readme.indexOf(heading));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  assert.ok(match, `no ts block under ${heading}`);
  return match[1];
}

/** The block written as a module beside README.md (so `./src/mod.ts` resolves); removed on dispose. */
async function readmeModule(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempFile({ dir: REPO_ROOT, prefix: ".readme_app_", suffix: ".ts" });
  await Deno.writeTextFile(path, await readmeBlock("## Build your app"));
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path) };
}

Deno.test("the README's app serves echo, an authenticated shout route, an HTTP route and static files", async () => {
  await using module = await readmeModule();
  const { default: app } = await import(`file://${module.path}`) as { default: App };
  await using t = startServer({ app });
  const { port } = t.server.addr;

  const echo = await openWebSocket(`${t.ws}/echo`, "echo");
  echo.send("as written");
  assert.equal(await nextMessage(echo), "as written");
  echo.close();

  const anonymous = await rawExchange(
    port,
    handshakeRequest("/shout", { "Sec-WebSocket-Protocol": "shout.v1" }),
  );
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.body, "who are you?\n");
  const { conn, frames } = await rawWebSocket(port, {
    path: "/shout",
    headers: { "Sec-WebSocket-Protocol": "shout.v1", "X-User": "ann" },
  });
  await conn.write(encodeClientFrame(Opcode.Text, new TextEncoder().encode("hello")));
  const frame = await frames.next();
  assert.equal(new TextDecoder().decode(frame!.payload), "ann: HELLO");
  conn.close();

  const hello = await fetch(`${t.http}/hello/bob`);
  assert.equal(await hello.text(), "hi bob\n");
  const page = await fetch(`${t.http}/`);
  assert.equal(page.status, 200);
  await page.body?.cancel();
});

Deno.test("the README's app runs from the command line on two worker threads", async () => {
  await using module = await readmeModule();
  const port = freePort();
  await using server = await spawnServer([`--app=${module.path}`, "--workers=2", `--port=${port}`]);
  const echo = await openWebSocket(`ws://127.0.0.1:${server.port}/echo`, "echo");
  echo.send("from main.ts");
  assert.equal(await nextMessage(echo), "from main.ts");
  echo.close();
});
