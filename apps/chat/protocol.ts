/**
 * The `chat.v1` protocol: text frames of JSON. What a client may send, checked field by field
 * with a one-line reason for anything else, and what the server sends back.
 *
 * | client → server                                   | server → client                                        |
 * | ------------------------------------------------- | ------------------------------------------------------ |
 * | `{"type":"join","room":R,"name":N}`               | `{"type":"joined","room":R,"members":M}` to the joiner |
 * | `{"type":"leave","room":R}`                       | `{"type":"presence","room":R,"members":M}` to the room |
 * | `{"type":"say","room":R,"text":T,"seq":S}`        | `{"type":"message","room":R,"from":N,"text":T,"seq":S,"node":I}` |
 * | anything else                                     | `{"type":"error","reason":…}`                          |
 *
 * A frame from the server carries one message object or a JSON array of them.
 *
 * @module
 */

/** Room names: 1 to 64 of `A-Z a-z 0-9 _ . -`. */
const ROOM = /^[A-Za-z0-9_.-]{1,64}$/;
/** Longest name, in characters. */
export const MAX_NAME_CHARS = 32;
/** Longest text of one message, in characters. */
export const MAX_TEXT_CHARS = 2000;
/** Most rooms one session may be in. */
export const MAX_ROOMS = 10;
/** Control characters (Unicode category Cc), which a name may not hold. */
const CONTROL = /\p{Cc}/u;

/** A command from a client, checked. */
export type ClientCommand =
  | { type: "join"; room: string; name: string }
  | { type: "leave"; room: string }
  | { type: "say"; room: string; text: string; seq: number };

/** A message from the server. */
export type ServerMessage =
  | { type: "joined"; room: string; members: number }
  | { type: "presence"; room: string; members: number }
  | { type: "message"; room: string; from: string; text: string; seq: number; node: string }
  | { type: "error"; reason: string };

/** The command a text frame holds, or the reason it is none. */
export function parseCommand(text: string): ClientCommand | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: "not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { error: "not a JSON object" };
  }
  const { type, room, name, text: said, seq } = value as Record<string, unknown>;
  if (type !== "join" && type !== "leave" && type !== "say") {
    return { error: `unknown type ${JSON.stringify(type)?.slice(0, 40) ?? "undefined"}` };
  }
  if (typeof room !== "string" || !ROOM.test(room)) {
    return { error: "room must be 1 to 64 characters of A-Z a-z 0-9 _ . -" };
  }
  if (type === "leave") return { type, room };
  if (type === "join") {
    if (typeof name !== "string" || name.trim() === "" || CONTROL.test(name)) {
      return { error: "name must be a non-empty string without control characters" };
    }
    if (name.length > MAX_NAME_CHARS) return { error: `name over ${MAX_NAME_CHARS} characters` };
    return { type, room, name: name.trim() };
  }
  if (typeof said !== "string" || said === "") return { error: "text must be a non-empty string" };
  if (said.length > MAX_TEXT_CHARS) return { error: `text over ${MAX_TEXT_CHARS} characters` };
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) {
    return { error: "seq must be a whole number from 0" };
  }
  return { type, room, text: said, seq };
}

/** The topic of a room. */
export function roomTopic(room: string): string {
  return `chat:${room}`;
}

/** The room of a topic, or `null` for a topic that is no room's. */
export function topicRoom(topic: string): string | null {
  return topic.startsWith("chat:") ? topic.slice(5) : null;
}
