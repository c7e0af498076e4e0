/**
 * What `deno task start` serves: the echo app and the chat app side by side, with the demo
 * pages from `static/`.
 *
 * @module
 */

import { defineApp } from "../src/mod.ts";
import chat from "./chat/app.ts";
import echo from "./echo/app.ts";

export default defineApp({
  websocket: { ...echo.websocket, ...chat.websocket },
  static: new URL("../static/", import.meta.url),
  setup: chat.setup,
});
