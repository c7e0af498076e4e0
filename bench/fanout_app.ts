/**
 * The project's side of the benchmark's fan-out row: every session subscribes to one topic
 * when it opens, and a message from any session is published to all the others, in every
 * worker thread (the public topics API; bench/baseline_fanout.ts is the raw Deno
 * equivalent). The route speaks subprotocol "fanout" on `/fanout`.
 *
 * Usage: `deno run -P main.ts --app=bench/fanout_app.ts --port=PORT [--workers=2]`
 *
 * @module
 */

import { defineApp } from "../src/mod.ts";

export default defineApp({
  websocket: {
    "/fanout": {
      fanout: () => (session) => {
        session.subscribe("f");
        return session.listen((data) => {
          session.publish("f", data);
        });
      },
    },
  },
});
