/**
 * One chat session: joins and leaves rooms (topics), and says things in them. Bad input gets
 * an `error` message with its reason, and the session stays open.
 *
 * @module
 */

import { jsonArrayBatches, TopicError, type WebSocketSession } from "../../src/mod.ts";
import { MAX_ROOMS, parseCommand, roomTopic, type ServerMessage } from "./protocol.ts";

/** Sends one server message. */
function send(session: WebSocketSession, message: ServerMessage): void {
  void session.send(JSON.stringify(message));
}

/** Runs one chat session; it keeps the session's name in each room it joined. */
export class ChatHandler {
  /** Room → the name this session uses there. */
  #names = new Map<string, string>();
  /** The node that relays this session's messages (its instance), shown with each. */
  readonly node: string;

  /** Creates the handler of one session on instance `node`. */
  constructor(node: string) {
    this.node = node;
  }

  /** Answers frames until the session ends. */
  handleSession(session: WebSocketSession): Promise<void> {
    // chat.v1 frames may carry a JSON array of messages: a busy room costs a frame per turn.
    session.batchDeliveries(jsonArrayBatches());
    return session.listen((data) => {
      if (typeof data !== "string") {
        return send(session, { type: "error", reason: "binary frames are not part of chat.v1" });
      }
      const command = parseCommand(data);
      if ("error" in command) return send(session, { type: "error", reason: command.error });
      const topic = roomTopic(command.room);
      const joined = this.#names.get(command.room);
      if (command.type === "join") {
        if (joined !== undefined) {
          return send(session, { type: "error", reason: `already in room ${command.room}` });
        }
        if (this.#names.size >= MAX_ROOMS) {
          return send(session, { type: "error", reason: `at most ${MAX_ROOMS} rooms per session` });
        }
        this.#names.set(command.room, command.name);
        try {
          // Subscribing makes the app's count listener tell the room (joiner included).
          const members = session.subscriberCount(topic) + 1;
          send(session, { type: "joined", room: command.room, members });
          session.subscribe(topic);
        } catch (error) {
          this.#names.delete(command.room);
          if (!(error instanceof TopicError)) throw error;
          send(session, { type: "error", reason: error.message });
        }
        return;
      }
      if (joined === undefined) {
        return send(session, { type: "error", reason: `not in room ${command.room}` });
      }
      if (command.type === "leave") {
        this.#names.delete(command.room);
        session.unsubscribe(topic);
        return;
      }
      const message: ServerMessage = {
        type: "message",
        room: command.room,
        from: joined,
        text: command.text,
        seq: command.seq,
        node: this.node,
      };
      session.publish(topic, JSON.stringify(message), { includeSelf: true });
    });
  }
}
