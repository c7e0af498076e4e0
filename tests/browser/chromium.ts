/**
 * Finds and launches the system Chromium for the browser tests, headless and
 * with a throwaway profile directory.
 *
 * @module
 */

import puppeteer, { type Browser } from "puppeteer-core";

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
  const profileDir = await Deno.makeTempDir({ prefix: "echo-browser-test-profile-" });
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath: options.path ?? CHROMIUM_PATH,
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
