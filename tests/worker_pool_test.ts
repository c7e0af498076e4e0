import assert from "node:assert/strict";
import { resolveSettings } from "../src/config/settings.ts";
import { startWorkerPool } from "../src/server/worker_pool.ts";
import { closeWebSocket, freePort, nextMessage, openWebSocket } from "./_helpers.ts";

Deno.test("a pool of two workers shares one port, echoes, and shuts down", async () => {
  const port = freePort();
  const app = new URL("../apps/echo/app.ts", import.meta.url);
  const pool = await startWorkerPool(
    app,
    resolveSettings({ port, hostname: "127.0.0.1", workers: 2, logLevel: "error" }),
  );
  assert.equal(pool.size, 2);
  try {
    const sockets = await Promise.all(
      Array.from({ length: 8 }, () => openWebSocket(`ws://127.0.0.1:${port}/echo`)),
    );
    for (const [i, socket] of sockets.entries()) {
      socket.send(`worker pool ${i}`);
      assert.equal(await nextMessage(socket), `worker pool ${i}`);
    }
    await Promise.all(sockets.map((socket) => closeWebSocket(socket)));
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(await health.text(), "ok\n");
  } finally {
    await pool.shutdown();
  }
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
});
