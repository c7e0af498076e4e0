/**
 * The chat app: route `/chat`, subprotocol `chat.v1` (see {@link ./protocol.ts}), rooms as
 * topics, and the room's member count sent to its members whenever it changes, counted across
 * every worker thread of the process.
 *
 * @module
 */

import { defineApp } from "../../src/mod.ts";
import { ChatHandler } from "./chat_handler.ts";
import { type ServerMessage, topicRoom } from "./protocol.ts";

export default defineApp({
  websocket: {
    "/chat": { "chat.v1": (_request, { pubsub }) => new ChatHandler(pubsub.nodeId) },
  },
  static: new URL("../../static/", import.meta.url),
  setup(pubsub) {
    // Each listener tells its own members: a change in another worker reaches this one as a
    // new count from the hub, so every member hears every change once.
    pubsub.onSubscriberCount((topic, members) => {
      const room = topicRoom(topic);
      if (room === null) return;
      const presence: ServerMessage = { type: "presence", room, members };
      pubsub.publish(topic, JSON.stringify(presence), { local: true });
    });
  },
});
