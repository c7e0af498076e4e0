/**
 * The project's side of the benchmark's fan-out row: every session subscribes to one topic
 * when it opens, and a message from any session is published to all the others, in every
 * worker thread (the public topics API; bench/baseline_fanout.ts is the raw Deno
 * equivalent). On `/fanout`, subprotocol "fanout" delivers one frame per message;
 * "fanout.batch" takes JSON text messages and batches deliveries as JSON arrays
 * (`jsonArrayBatches()`, as the chat app does).
 *
 * Usage: `deno run -P main.ts --app=bench/fanout_app.ts --port=PORT [--workers=2]`
 *
 * @module
 */

import { defineApp, jsonArrayBatches, type WebSocketSession } from "../src/mod.ts";

function relay(session: WebSocketSession): Promise<void> {
  session.subscribe("f");
  return session.listen((data) => {
    session.publish("f", data);
  });
}

export default defineApp({
  websocket: {
    "/fanout": {
      fanout: () => relay,
      "fanout.batch": () => (session) => {
        session.batchDeliveries(jsonArrayBatches());
        return relay(session);
      },
    },
  },
});
