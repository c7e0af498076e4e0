/**
 * Drives the chat page (`/chat.html`) in headless Chromium against the real server serving
 * `apps/app.ts`: two pages join one room under different names and hear each other, the member
 * count follows joins, leaves and a closed page, HTML in a message (and in a name) stays text,
 * a burst of 1,000 messages comes back whole and in order on both pages, the page fits a
 * 320 px screen, and it joins its room again by itself after the server restarts.
 *
 * Skipped (with a message) when Chromium is not installed, except under `CI=true`, where a
 * missing Chromium fails the run. With `UPDATE_SCREENSHOTS=1` it also writes `docs/chat.png`:
 * the two pages side by side after a short conversation.
 *
 * Run: `deno test -P tests/browser/`
 *
 * @module
 */

/// <reference lib="dom" />

import assert from "node:assert/strict";
import type { Browser, Page } from "puppeteer-core";
import app from "../../apps/app.ts";
import type { Server } from "../../src/server/server.ts";
import {
  HOSTNAME,
  launchChromium,
  type PageProblems,
  pageServer,
  sidewaysOverflow,
  skipBrowserTests,
  stopServer,
  watchPage,
} from "./chromium.ts";

const ROOM = "browser-test";
const ALICE = "alice";
/** Bob's name is markup too: it must show as text. */
const BOB = "<b>bob</b>";
const HOSTILE = "<img src=x onerror=window.__pwned=1>";
const BURST = 1000;
/** The pictures: each page this size, side by side with a margin around. */
const SHOT = { width: 620, height: 800, margin: 16 };

const skip = skipBrowserTests("chat browser test");
const updateScreenshots = Deno.env.get("UPDATE_SCREENSHOTS") === "1";
const docsDir = new URL("../../docs/", import.meta.url);

/** A chat message as the page's log shows it. */
interface Shown {
  from: string;
  text: string;
  seq: number;
  mine: boolean;
}

/** Every message in the page's log, oldest first. */
function messages(page: Page): Promise<Shown[]> {
  return page.$$eval('#log > li[data-kind="message"]', (items) =>
    items.map((item) => ({
      from: item.querySelector(".from")?.textContent ?? "",
      text: item.querySelector(".text")?.textContent ?? "",
      seq: Number((item as HTMLElement).dataset.seq),
      mine: (item as HTMLElement).dataset.mine === "true",
    })));
}

/** Text of the page's notices, oldest first. */
function notices(page: Page): Promise<string[]> {
  return page.$$eval(
    '#log > li[data-kind="notice"] .text',
    (nodes) => nodes.map((node) => node.textContent ?? ""),
  );
}

/** Waits until the log holds a message from `from` saying `text`. */
async function waitForMessage(page: Page, from: string, text: string): Promise<void> {
  await page.waitForFunction(
    (from, text) =>
      [...document.querySelectorAll<HTMLElement>('#log > li[data-kind="message"]')].some((li) =>
        li.dataset.from === from && li.querySelector(".text")?.textContent === text
      ),
    { polling: "mutation" },
    from,
    text,
  );
}

/** Waits until the page shows `count` members. */
async function waitForMembers(page: Page, count: number): Promise<void> {
  await page.waitForFunction(
    (count) => document.getElementById("members")?.textContent === String(count),
    { polling: "mutation" },
    count,
  );
}

/** Waits until the latest notice is `text`. */
async function waitForNotice(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    (text) =>
      [...document.querySelectorAll('#log > li[data-kind="notice"] .text')].at(-1)
        ?.textContent === text,
    { polling: "mutation" },
    text,
  );
}

/** Replaces the text of an input by typing. */
async function fill(page: Page, selector: string, text: string): Promise<void> {
  await page.$eval(selector, (el) => (el as HTMLInputElement).value = "");
  await page.type(selector, text);
}

/** Joins `room` as `name` with the form and waits for the server's confirmation. */
async function join(page: Page, name: string, room: string): Promise<void> {
  await fill(page, "#name", name);
  await fill(page, "#room", room);
  await page.click("#join");
  await page.waitForSelector('#room-card[data-joined="true"]');
  assert.equal(await page.$eval("#room-name", (el) => el.textContent), room);
}

/** Says `text` with the composer and waits for the room to send it back. */
async function say(page: Page, name: string, text: string): Promise<void> {
  await fill(page, "#message", text);
  await page.click("#send");
  await waitForMessage(page, name, text);
  assert.equal(await page.$eval("#message", (el) => (el as HTMLInputElement).value), "");
}

/** The burst counters as the page shows them. */
function burstCounters(page: Page): Promise<Record<string, string>> {
  return page.evaluate(() =>
    Object.fromEntries(
      ["sent", "received", "missed", "out-of-order"].map((
        key,
      ) => [key, document.getElementById(`burst-${key}`)?.textContent ?? ""]),
    )
  );
}

/**
 * Opens a page on `url` that records its problems, in a browser context of its own: a window
 * of its own, so that neither page is a hidden background tab, and storage of its own.
 */
async function openPage(
  browser: Browser,
  url: string,
): Promise<{ page: Page; problems: PageProblems }> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const problems = await watchPage(page);
  await page.setViewport({ width: SHOT.width, height: SHOT.height });
  const response = await page.goto(url);
  assert.equal(response?.status(), 200);
  return { page, problems };
}

/** Fails on any uncaught error, failed request, CSP violation or injected markup that ran. */
async function assertClean(page: Page, problems: PageProblems): Promise<void> {
  assert.deepEqual(problems.errors, [], "uncaught errors in the page");
  assert.deepEqual(problems.badResponses, [], "the page requested something the server lacks");
  assert.deepEqual(await problems.cspViolations(), [], "CSP violations");
  const found = await page.evaluate(() => ({
    pwned: (globalThis as unknown as { __pwned?: unknown }).__pwned ?? null,
    markup: document.querySelectorAll("#log img, #log b").length,
  }));
  assert.deepEqual(found, { pwned: null, markup: 0 });
}

/** Both pages' screenshots side by side in one PNG, put together in a blank page. */
async function sideBySide(browser: Browser, pages: Page[]): Promise<Uint8Array> {
  const images: string[] = [];
  for (const page of pages) {
    await page.bringToFront();
    await page.setViewport({ width: SHOT.width, height: SHOT.height });
    images.push(await page.screenshot({ type: "png", encoding: "base64" }));
  }
  const canvas = await browser.newPage();
  try {
    const { width, height, margin } = SHOT;
    await canvas.setViewport({
      width: pages.length * (width + margin) + margin,
      height: height + 2 * margin,
    });
    await canvas.setContent(
      `<body style="margin:0;padding:${margin}px;display:flex;gap:${margin}px;` +
        `background:#c9ced6">` +
        images.map((png) =>
          `<img alt="" width="${width}" height="${height}" ` +
          `style="border-radius:8px;box-shadow:0 2px 10px #0003" src="data:image/png;base64,${png}">`
        ).join("") + "</body>",
      { waitUntil: "load" },
    );
    return await canvas.screenshot({ type: "png" });
  } finally {
    await canvas.close();
  }
}

Deno.test({
  name: "chat page: two pages talk in a room, presence, text stays text, a burst of 1,000 " +
    "in order, phone width, re-join after a restart",
  ignore: skip,
  async fn(t) {
    await using chromium = await launchChromium();
    let server: Server | undefined = pageServer(app);
    const port = server.addr.port;
    const origin = `http://${HOSTNAME}:${port}`;
    try {
      const { browser } = chromium;
      const a = await openPage(browser, `${origin}/`);
      const b = await openPage(browser, `${origin}/chat.html`);
      const alice = a.page;
      const bob = b.page;

      await t.step("the echo page links to the chat page, which connects to /chat", async () => {
        await Promise.all([alice.waitForNavigation(), alice.click('a[href="chat.html"]')]);
        assert.equal(new URL(alice.url()).pathname, "/chat.html");
        for (const page of [alice, bob]) {
          await page.waitForSelector('#status[data-state="connected"]');
          assert.equal(
            await page.$eval("#endpoint", (el) => el.textContent),
            `ws://${HOSTNAME}:${port}/chat`,
          );
          assert.match((await notices(page)).at(-1) ?? "", /\(protocol "chat\.v1"\)$/);
          assert.ok(await page.$('a[href="index.html"]'), "no link back to the echo page");
          // Not in a room yet: defaults filled in, nothing to send.
          assert.match(
            await page.$eval("#name", (el) => (el as HTMLInputElement).value),
            /^guest-\d{4}$/,
          );
          assert.equal(await page.$eval("#room", (el) => (el as HTMLInputElement).value), "lobby");
          assert.equal(await page.$eval("#members", (el) => el.textContent), "–");
          assert.equal(await page.$eval("#send", (el) => (el as HTMLButtonElement).disabled), true);
          assert.equal(
            await page.$eval("#burst", (el) => (el as HTMLButtonElement).disabled),
            true,
          );
        }
      });

      await t.step("both join one room; the member count moves to 2 on both", async () => {
        await join(alice, ALICE, ROOM);
        await waitForMembers(alice, 1);
        assert.equal((await notices(alice)).at(-1), `You joined ${ROOM} as ${ALICE}: 1 member`);
        await join(bob, BOB, ROOM);
        await waitForMembers(bob, 2);
        await waitForMembers(alice, 2);
        await waitForNotice(alice, "someone joined: 2 members");
        assert.equal((await notices(bob)).at(-1), `You joined ${ROOM} as ${BOB}: 2 members`);
      });

      await t.step("each page sees the other's message, with the sender's name", async () => {
        await say(alice, ALICE, "Hi Bob, alice here");
        await waitForMessage(bob, ALICE, "Hi Bob, alice here");
        await say(bob, BOB, "Hello alice! 你好 🎉");
        await waitForMessage(alice, BOB, "Hello alice! 你好 🎉");
        for (const [page, me] of [[alice, ALICE], [bob, BOB]] as const) {
          const shown = await messages(page);
          assert.deepEqual(shown.map(({ from, text, mine }) => ({ from, text, mine })), [
            { from: ALICE, text: "Hi Bob, alice here", mine: me === ALICE },
            { from: BOB, text: "Hello alice! 你好 🎉", mine: me === BOB },
          ]);
        }
      });

      await t.step("HTML in a message or a name shows as text and never runs", async () => {
        await say(alice, ALICE, HOSTILE);
        await waitForMessage(bob, ALICE, HOSTILE);
        assert.equal((await messages(bob)).at(-1)?.text, HOSTILE);
        assert.equal((await messages(alice)).at(-2)?.from, BOB);
        await assertClean(alice, a.problems);
        await assertClean(bob, b.problems);
      });

      await t.step("a burst of 1,000 comes back whole and in order on both pages", async () => {
        const before = (await messages(bob)).length;
        await alice.click("#burst");
        await alice.waitForSelector('#burst-card[data-state="done"]', { timeout: 60_000 });
        assert.deepEqual(await burstCounters(alice), {
          sent: String(BURST),
          received: String(BURST),
          missed: "0",
          "out-of-order": "0",
        });
        assert.equal(
          (await notices(alice)).at(-1),
          `Burst done: ${BURST} of ${BURST} back, 0 missed, 0 out of order`,
        );
        await bob.waitForFunction(
          (n) => document.querySelectorAll('#log > li[data-kind="message"]').length >= n,
          { polling: "mutation", timeout: 60_000 },
          before + BURST,
        );
        for (const page of [alice, bob]) {
          const burst = (await messages(page)).filter((m) => m.text.startsWith("burst "));
          assert.equal(burst.length, BURST);
          assert.deepEqual(
            burst.map((m) => m.text),
            Array.from({ length: BURST }, (_, i) => `burst ${i + 1}/${BURST}`),
          );
          assert.ok(burst.every((m) => m.from === ALICE && m.mine === (page === alice)));
          const seqs = burst.map((m) => m.seq);
          assert.ok(
            seqs.every((seq, i) => i === 0 || seq === seqs[i - 1] + 1),
            `seqs not consecutive: ${seqs.slice(0, 5)}…`,
          );
        }
        // Bob sent nothing in a burst; his counters never started.
        assert.equal(
          await bob.$eval("#burst-card", (el) => (el as HTMLElement).dataset.state),
          "idle",
        );
      });

      await t.step("no sideways scroll at 320 px", async () => {
        for (const page of [alice, bob]) {
          await page.setViewport({ width: 320, height: 640 });
          assert.equal(await sidewaysOverflow(page), 0, "scrolls sideways at 320px");
          await page.setViewport({ width: SHOT.width, height: SHOT.height });
        }
      });

      await t.step("screenshot: the two pages side by side after a conversation", async () => {
        for (const page of [alice, bob]) await page.click("#clear");
        // Latin script only: the pictures may be taken where no emoji or CJK font is installed.
        const lines: [Page, string, string][] = [
          [alice, ALICE, "Hi Bob! My burst came back whole: see the counters below."],
          [bob, BOB, "Same here: 1,000 of 1,000, in order. Héllo from the other window."],
          [alice, ALICE, HOSTILE],
          [bob, BOB, "…and that <img> stayed text, like my name."],
        ];
        for (const [page, name, text] of lines) await say(page, name, text);
        await waitForMessage(alice, BOB, lines[3][2]);
        await fill(bob, "#message", "Type here, then Enter");
        const png = await sideBySide(browser, [alice, bob]);
        assert.ok(png.byteLength > 0);
        if (updateScreenshots) {
          await Deno.mkdir(docsDir, { recursive: true });
          await Deno.writeFile(new URL("chat.png", docsDir), png);
        }
        await fill(bob, "#message", "");
      });

      await t.step("the member count drops on Leave and on a closed page", async () => {
        await bob.click("#leave");
        await waitForMembers(alice, 1);
        await waitForNotice(alice, "someone left: 1 member");
        assert.equal((await notices(bob)).at(-1), `You left ${ROOM}`);
        assert.equal(await bob.$eval("#members", (el) => el.textContent), "–");
        assert.equal(
          await bob.$eval("#room-card", (el) => (el as HTMLElement).dataset.joined),
          "false",
        );

        await join(bob, BOB, ROOM);
        await waitForMembers(alice, 2);
        await waitForNotice(alice, "someone joined: 2 members");
        await assertClean(bob, b.problems);
        await bob.close();
        await waitForMembers(alice, 1);
        await waitForNotice(alice, "someone left: 1 member");
      });

      await t.step("after a server restart the page reconnects and joins again", async () => {
        const stopping = server;
        server = undefined;
        await stopServer(stopping);
        await alice.waitForSelector('#status[data-state="disconnected"]');
        assert.equal(
          await alice.$eval("#room-card", (el) => (el as HTMLElement).dataset.joined),
          "false",
        );
        // The retry countdown fits a phone too.
        await alice.setViewport({ width: 320, height: 640 });
        await alice.waitForFunction(
          () => document.getElementById("status-detail")?.textContent?.startsWith("retry in"),
          { polling: "mutation" },
        );
        assert.equal(await sidewaysOverflow(alice), 0, "scrolls sideways at 320px when offline");
        await alice.setViewport({ width: SHOT.width, height: SHOT.height });

        server = pageServer(app, port);
        assert.equal(server.addr.port, port);
        // Automatic retries back off up to 10 s; allow a few of them.
        await alice.waitForSelector('#room-card[data-joined="true"]', { timeout: 60_000 });
        await waitForNotice(alice, `You joined ${ROOM} as ${ALICE}: 1 member`);
        await waitForMembers(alice, 1);
        await say(alice, ALICE, "back again");
      });

      await t.step("Reconnect opens a fresh connection and joins again", async () => {
        const before = (await notices(alice)).length;
        await alice.click("#reconnect");
        await alice.waitForFunction(
          (n) => document.querySelectorAll('#log > li[data-kind="notice"]').length >= n,
          { polling: "mutation" },
          before + 2,
        );
        await waitForNotice(alice, `You joined ${ROOM} as ${ALICE}: 1 member`);
        await say(alice, ALICE, "after Reconnect");
        // The page's own seq never goes back, not even across connections.
        const seqs = (await messages(alice)).filter((m) => m.mine).map((m) => m.seq);
        assert.ok(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]), `seq went back: ${seqs}`);
      });

      await assertClean(alice, a.problems);
      await alice.close();
    } finally {
      await chromium.close();
      await stopServer(server);
    }
  },
});
