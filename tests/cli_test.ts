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
