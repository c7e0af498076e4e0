/**
 * Loads an app from its module, the same way on the main thread and in every worker.
 *
 * @module
 */

import type { App } from "../app.ts";
import { ConfigError } from "../config/settings.ts";

/**
 * The app a module declares as its default export.
 *
 * @throws {ConfigError} naming the module when it cannot be loaded or declares no app.
 */
export async function loadApp(module: URL | string): Promise<App> {
  let loaded: { default?: unknown };
  try {
    loaded = await import(String(module));
  } catch (error) {
    const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new ConfigError("app", `cannot load ${module}: ${why}`);
  }
  const app = loaded.default;
  if (typeof app !== "object" || app === null) {
    throw new ConfigError("app", `${module} has no default export declaring an app`);
  }
  return app as App;
}
