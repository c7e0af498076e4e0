/**
 * Finds and launches the system Chromium for the browser tests, headless and
 * with a throwaway profile directory.
 *
 * @module
 */

/// <reference lib="dom" />

import type { App } from "../../src/app.ts";
import { createServer, type Server } from "../../src/server/server.ts";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

/** Where the test looks for Chromium: `$CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export const CHROMIUM_PATH: string = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/** Command-line flags for a quiet, offline, headless Chromium. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Whether an executable file exists at `path`.
 *
 * @param path File to check (default: {@linkcode CHROMIUM_PATH}).
 */
export function chromiumAvailable(path: string = CHROMIUM_PATH): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** A running Chromium; `await using` (or `close()`) ends it and deletes its profile. */
export interface LaunchedChromium extends AsyncDisposable {
  /** The puppeteer handle on the browser. */
  readonly browser: Browser;
  /** Closes the browser, then removes its profile directory. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Launches Chromium headless with {@linkcode CHROMIUM_ARGS} and a fresh profile
 * directory made with `Deno.makeTempDir`.
 *
 * @param options.path Chromium executable (default: {@linkcode CHROMIUM_PATH}).
 */
export async function launchChromium(
  options: { path?: string } = {},
): Promise<LaunchedChromium> {
  const path = options.path ?? CHROMIUM_PATH;
  // Under CI the tests run even without Chromium (see skipBrowserTests): say what is missing.
  if (!chromiumAvailable(path)) {
    throw new Error(`CI is set but there is no Chromium at ${path}: install it with apt-get`);
  }
  const profileDir = await Deno.makeTempDir({ prefix: "echo-browser-test-profile-" });
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath: path,
      headless: true,
      userDataDir: profileDir,
      args: [...CHROMIUM_ARGS],
    });
  } catch (error) {
    await Deno.remove(profileDir, { recursive: true });
    throw error;
  }

  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      try {
        await browser.close();
      } finally {
        await Deno.remove(profileDir, { recursive: true });
      }
    })();
  return { browser, close, [Symbol.asyncDispose]: close };
}

/** What went wrong in a page that {@linkcode watchPage} watches. */
export interface PageProblems {
  /** Uncaught errors in the page. */
  readonly errors: string[];
  /** Responses with a status of 400 or more, as `status url`. */
  readonly badResponses: string[];
  /** Content-Security-Policy violations so far, as `directive blockedURI`. */
  cspViolations(): Promise<string[]>;
}

/**
 * Starts recording a page's uncaught errors, failed responses and CSP violations; call it
 * before the page's first `goto`.
 */
export async function watchPage(page: Page): Promise<PageProblems> {
  const errors: string[] = [];
  const badResponses: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("response", (response) => {
    if (response.status() >= 400) badResponses.push(`${response.status()} ${response.url()}`);
  });
  await page.evaluateOnNewDocument(() => {
    const w = globalThis as unknown as { cspViolations: string[] };
    w.cspViolations = [];
    document.addEventListener("securitypolicyviolation", (event) => {
      w.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  return {
    errors,
    badResponses,
    cspViolations: () =>
      page.evaluate(() => (globalThis as unknown as { cspViolations: string[] }).cspViolations),
  };
}

/** How many CSS pixels the page is wider than its viewport (0 when it fits). */
export function sidewaysOverflow(page: Page): Promise<number> {
  return page.evaluate(() =>
    document.documentElement.scrollWidth - document.documentElement.clientWidth
  );
}

/** Where the pages' servers listen. */
export const HOSTNAME = "127.0.0.1";

/** Whether this is CI, where a missing Chromium fails the browser tests instead of skipping them. */
export const inCI: boolean = ["true", "1"].includes(Deno.env.get("CI")?.toLowerCase() ?? "");

/** Whether the browser tests are skipped here (no Chromium, not CI); says why once. */
export function skipBrowserTests(what: string): boolean {
  if (chromiumAvailable() || inCI) return false;
  console.log(
    `Skipping the ${what}: no Chromium at ${CHROMIUM_PATH} ` +
      "(install it with `apt-get install chromium`, or set CHROMIUM_PATH).",
  );
  return true;
}

/** Serves `app` for a page on `port` (0: a free one), logging only errors. */
export function pageServer(app: App, port = 0): Server {
  return createServer(app, { port, hostname: HOSTNAME, logLevel: "error" });
}

/** Shuts a server down unless that already happened. */
export async function stopServer(server: Server | undefined): Promise<void> {
  if (server) await server.shutdown();
}
