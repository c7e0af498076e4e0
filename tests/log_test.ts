import assert from "node:assert/strict";
import { createLogger } from "../src/log.ts";

function collect(options: Parameters<typeof createLogger>[0]) {
  const lines: { line: string; level: string }[] = [];
  const logger = createLogger({ ...options, write: (line, level) => lines.push({ line, level }) });
  return { logger, lines };
}

Deno.test("text lines read time, level, event and key=value fields, quoting when needed", () => {
  const { logger, lines } = collect({ level: "info" });
  logger.info("session.open", { session: 7, remote: "127.0.0.1:5000", reason: "going away" });
  assert.match(
    lines[0].line,
    /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO session\.open session=7 remote=127\.0\.0\.1:5000 reason="going away"$/,
  );
});

Deno.test("json lines are one object per event with the same fields", () => {
  const { logger, lines } = collect({ format: "json" });
  logger.warn("session.limit", { session: 3, limit: "max_message_bytes", skipped: undefined });
  const record = JSON.parse(lines[0].line);
  assert.equal(record.level, "warn");
  assert.equal(record.event, "session.limit");
  assert.equal(record.session, 3);
  assert.equal(record.limit, "max_message_bytes");
  assert.equal("skipped" in record, false);
  assert.equal(lines[0].line.includes("\n"), false);
});

Deno.test("lines below the level are dropped", () => {
  const { logger, lines } = collect({ level: "warn" });
  logger.debug("a");
  logger.info("b");
  logger.warn("c");
  logger.error("d");
  assert.deepEqual(lines.map((l) => l.level), ["warn", "error"]);
  assert.equal(logger.enabled("info"), false);
  assert.equal(logger.enabled("error"), true);
});
