/**
 * The echo app: WebSocket echo on `/echo` (subprotocol `echo`) and the demo page from
 * `static/`. It is what `deno task start` serves, built on the public API only, as any
 * user's app would be.
 *
 * @module
 */

import { defineApp } from "../../src/mod.ts";
import { EchoHandler } from "./echo_handler.ts";

/** Echo keeps no state per session: one handler serves them all. */
const echo = new EchoHandler();

export default defineApp({
  websocket: {
    "/echo": { [EchoHandler.PROTOCOL]: () => echo },
  },
  static: new URL("../../static/", import.meta.url),
});
