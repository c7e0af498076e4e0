/**
 * Drives the demo page in headless Chromium against the real server: it
 * connects to `/echo`, echoes ASCII, multi-byte UTF-8 and HTML-looking text
 * back as text, shows when the server goes away, and reconnects by itself and
 * on the Reconnect button once the server is back on the same port.
 *
 * Skipped (with a message) when Chromium is not installed, except under
 * `CI=true`, where a missing Chromium fails the run. With `UPDATE_SCREENSHOTS=1`
 * it also writes `docs/screenshot.png` (desktop) and `docs/screenshot-phone.png`.
 *
 * Run: `deno test -P tests/browser/`
 *
 * @module
 */

/// <reference lib="dom" />

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import echoApp from "../../apps/echo/app.ts";
import type { Server } from "../../src/server/server.ts";
import {
  HOSTNAME,
  launchChromium,
  pageServer,
  skipBrowserTests,
  stopServer,
  watchPage,
} from "./chromium.ts";

type Direction = "sent" | "received" | "event";

const skip = skipBrowserTests("browser test");
const updateScreenshots = Deno.env.get("UPDATE_SCREENSHOTS") === "1";
const docsDir = new URL("../../docs/", import.meta.url);

/** Text of every log entry going in one direction, oldest first. */
function entryTexts(page: Page, direction: Direction): Promise<string[]> {
  return page.$$eval(
    `#log > li[data-direction="${direction}"] .text`,
    (nodes) => nodes.map((node) => node.textContent ?? ""),
  );
}

/** Number of log entries going in one direction. */
function entryCount(page: Page, direction: Direction): Promise<number> {
  return page.$$eval(`#log > li[data-direction="${direction}"]`, (nodes) => nodes.length);
}

/** Waits until the status pill shows `state`. */
async function waitForState(page: Page, state: string): Promise<void> {
  await page.waitForSelector(`#status[data-state="${state}"]`);
}

/** Waits until the log holds at least `count` entries going in `direction`. */
async function waitForEntries(page: Page, direction: Direction, count: number): Promise<void> {
  await page.waitForFunction(
    (selector, n) => document.querySelectorAll(selector).length >= n,
    {},
    `#log > li[data-direction="${direction}"]`,
    count,
  );
}

/**
 * Types `text` into the message box, sends it with the Send button or with
 * Ctrl+Enter, waits for its echo and returns the echo's log text and round-trip
 * time.
 */
async function sendAndAwaitEcho(
  page: Page,
  text: string,
  options: { via: "button" | "keyboard" },
): Promise<{ text: string; rttMs: number }> {
  const before = await entryCount(page, "received");
  await page.type("#message", text);
  if (options.via === "button") {
    await page.click("#send");
  } else {
    await page.keyboard.down("Control");
    await page.keyboard.press("Enter");
    await page.keyboard.up("Control");
  }
  await waitForEntries(page, "received", before + 1);
  return await page.evaluate(() => {
    const entries = document.querySelectorAll<HTMLElement>('#log > li[data-direction="received"]');
    const last = entries[entries.length - 1];
    return {
      text: last.querySelector(".text")?.textContent ?? "",
      rttMs: Number(last.dataset.rttMs),
    };
  });
}

/** How many CSS pixels the page is wider than its viewport (0 when it fits). */
function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(() =>
    document.documentElement.scrollWidth - document.documentElement.clientWidth
  );
}

Deno.test({
  name: "demo page echoes text as text, shows disconnects and reconnects to a restarted server",
  ignore: skip,
  async fn(t) {
    await using chromium = await launchChromium();
    let server: Server | undefined = pageServer(echoApp);
    const port = server.addr.port;
    const origin = `http://${HOSTNAME}:${port}`;
    try {
      const page = await chromium.browser.newPage();
      // Uncaught errors, failed requests and CSP violations, checked at the end.
      const problems = await watchPage(page);
      await page.setViewport({ width: 1280, height: 800 });

      await t.step("page connects to /echo on its own host offering protocol echo", async () => {
        const response = await page.goto(`${origin}/`);
        assert.equal(response?.status(), 200);
        await waitForState(page, "connected");
        assert.equal(
          await page.$eval("#endpoint", (el) => el.textContent),
          `ws://${HOSTNAME}:${port}/echo`,
        );
        const events = await entryTexts(page, "event");
        assert.match(events.at(-1) ?? "", /^Connected to ws:\/\/.+\/echo \(protocol "echo"\)$/);
        assert.equal(await page.$eval("#send", (el) => (el as HTMLButtonElement).disabled), true);
      });

      await t.step("Send button echoes ASCII text with a round-trip time", async () => {
        const echo = await sendAndAwaitEcho(page, "Hello, echo server!", { via: "button" });
        assert.equal(echo.text, "Hello, echo server!");
        assert.ok(Number.isFinite(echo.rttMs) && echo.rttMs >= 0, `rtt ${echo.rttMs}`);
        assert.equal(await page.$eval("#message", (el) => (el as HTMLTextAreaElement).value), "");
      });

      await t.step("Ctrl+Enter echoes multi-byte UTF-8; plain Enter adds a line", async () => {
        const utf8 = "héllo — 你好 🎉";
        assert.equal((await sendAndAwaitEcho(page, utf8, { via: "keyboard" })).text, utf8);
        const lines = "first line\nsecond line";
        assert.equal((await sendAndAwaitEcho(page, lines, { via: "keyboard" })).text, lines);
      });

      await t.step("HTML in a message is shown as text and never runs", async () => {
        const payload = `<img src=x onerror="globalThis.xssRan = true"><b>bold?</b>`;
        const echo = await sendAndAwaitEcho(page, payload, { via: "button" });
        assert.equal(echo.text, payload);
        const sent = await entryTexts(page, "sent");
        assert.equal(sent.at(-1), payload);
        const found = await page.evaluate(() => ({
          xssRan: (globalThis as unknown as { xssRan?: boolean }).xssRan ?? false,
          images: document.querySelectorAll("#log img").length,
          bold: document.querySelectorAll("#log b").length,
          cspViolations: (globalThis as unknown as { cspViolations: string[] }).cspViolations,
        }));
        assert.deepEqual(found, { xssRan: false, images: 0, bold: 0, cspViolations: [] });
      });

      await t.step("every sent message got exactly one echo, in order", async () => {
        assert.deepEqual(await entryTexts(page, "received"), await entryTexts(page, "sent"));
      });

      await t.step("page shows the disconnect when the server shuts down", async () => {
        const stopping = server;
        server = undefined;
        await stopServer(stopping);
        await waitForState(page, "disconnected");
        assert.match((await entryTexts(page, "event")).at(-1) ?? "", /^Disconnected \(code 1001/);
        assert.equal(await page.$eval("#send", (el) => (el as HTMLButtonElement).disabled), true);
        // The retry countdown must not push the header wider than a small phone. Automatic
        // retries flip the state to "connecting" and back, so wait for a "disconnected" phase.
        await page.setViewport({ width: 320, height: 640 });
        await page.waitForFunction(() =>
          document.getElementById("status")?.dataset.state === "disconnected" &&
          document.getElementById("status-detail")?.textContent?.startsWith("retry in")
        );
        assert.equal(
          await sidewaysOverflow(page),
          0,
          "scrolls sideways at 320px when disconnected",
        );
        await page.setViewport({ width: 1280, height: 800 });
      });

      await t.step("page reconnects by itself to a server restarted on the same port", async () => {
        const connectedBefore = await entryCount(page, "event");
        server = pageServer(echoApp, port);
        assert.equal(server.addr.port, port);
        // Automatic retries back off up to 10 s; allow a few of them.
        await page.waitForSelector('#status[data-state="connected"]', { timeout: 60_000 });
        assert.ok((await entryCount(page, "event")) > connectedBefore);
        const echo = await sendAndAwaitEcho(page, "back again", { via: "button" });
        assert.equal(echo.text, "back again");
      });

      await t.step("Reconnect button opens a fresh connection that echoes", async () => {
        const eventsBefore = await entryCount(page, "event");
        await page.click("#reconnect");
        await waitForEntries(page, "event", eventsBefore + 1);
        await waitForState(page, "connected");
        const echo = await sendAndAwaitEcho(page, "after Reconnect", { via: "keyboard" });
        assert.equal(echo.text, "after Reconnect");
      });

      await t.step("page fits a phone-sized screen and a desktop one", async () => {
        // Fill the log with a short, representative session for the pictures.
        await page.click("#clear");
        assert.equal(await entryCount(page, "sent"), 0);
        for (
          const text of [
            "Hello from the browser 👋",
            "héllo — 你好 🎉",
            '<img src=x onerror="alert(1)"> stays text',
            '{"type":"ping","id":42}',
          ]
        ) {
          await sendAndAwaitEcho(page, text, { via: "button" });
        }
        await page.type("#message", "Type here, then Send or Ctrl+Enter");

        for (
          const view of [
            { name: "screenshot-phone.png", width: 390, height: 844, deviceScaleFactor: 2 },
            {
              name: "screenshot.png",
              width: 1280,
              height: 800,
              deviceScaleFactor: 1,
              fullPage: true,
            },
          ]
        ) {
          const { name, fullPage = false, ...viewport } = view;
          await page.setViewport(viewport);
          assert.equal(await sidewaysOverflow(page), 0, `scrolls sideways at ${viewport.width}px`);
          const png = await page.screenshot({ type: "png", fullPage });
          assert.ok(png.byteLength > 0);
          if (updateScreenshots) {
            await Deno.mkdir(docsDir, { recursive: true });
            await Deno.writeFile(new URL(name, docsDir), png);
          }
        }
      });

      assert.deepEqual(problems.errors, [], "uncaught errors in the page");
      assert.deepEqual(problems.badResponses, [], "the page requested something the server lacks");
      await page.close();
    } finally {
      await chromium.close();
      await stopServer(server);
    }
  },
});
