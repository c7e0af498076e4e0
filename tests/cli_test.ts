/**
 * The command line's start-up errors (issue #14, points 6 and 7): one line naming the setting
 * the user gave and the cause, status 2, no stack trace.
 *
 * @module
 */

import assert from "node:assert/strict";
import { isServerLine, mainCommand } from "./_helpers.ts";

/** Runs `main.ts` with `args` (and environment) to its end: status and stderr's lines. */
async function run(args: string[], env: Record<string, string> = {}) {
  const command = mainCommand(args, { env });
  const { code, stderr } = await command.output();
  return { code, lines: new TextDecoder().decode(stderr).split("\n").filter(isServerLine) };
}

Deno.test("a port already in use stops the server with one line naming --port, status 2", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = taken.addr;
  for (const workers of ["1", "2"]) {
    const { code, lines } = await run([
      `--port=${port}`,
      "--hostname=127.0.0.1",
      `--workers=${workers}`,
    ]);
    assert.equal(code, 2, lines.join("\n"));
    assert.deepEqual(lines, [`error: --port: 127.0.0.1:${port} is already in use`]);
  }
});

Deno.test("a hostname that does not resolve stops the server with one line naming --hostname, status 2", async () => {
  const { code, lines } = await run(["--port=0", "--hostname=no.such.host.invalid"]);
  assert.equal(code, 2);
  assert.deepEqual(lines, ['error: --hostname: cannot resolve "no.such.host.invalid"']);
});

Deno.test("a bad value in the environment is reported under its variable's name", async () => {
  const { code, lines } = await run([], { WS_PORT: "abc" });
  assert.equal(code, 2);
  assert.deepEqual(lines, ['error: WS_PORT: expected a whole number, got "abc"']);
});

Deno.test("an app module that cannot be loaded, or declares no app, stops the server with one line naming --app", async () => {
  const missing = await run(["--port=0", "--app=tests/fixtures/no_such_app.ts"]);
  assert.equal(missing.code, 2);
  assert.equal(missing.lines.length, 1, missing.lines.join("\n"));
  assert.match(missing.lines[0], /^error: --app: cannot load file:\/\/.*no_such_app\.ts: /);
  const notAnApp = await run(["--port=0"], { WS_APP: "tests/fixtures/_helpers_reexport.ts" });
  assert.equal(notAnApp.code, 2);
  assert.match(notAnApp.lines[0], /^error: WS_APP: .* has no default export declaring an app$/);
});
