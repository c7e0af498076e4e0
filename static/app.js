/**
 * Demo page for the WebSocket echo server.
 *
 * Connects to `/echo` on the page's own host (`wss:` when the page came over
 * `https:`, `ws:` otherwise) offering the `echo` subprotocol, sends the
 * textarea's text on "Send" or Ctrl/Cmd+Enter, and logs every sent and received
 * message as plain text (never as HTML) with the round-trip time of each echo.
 * A dropped connection is retried automatically with exponential backoff (see
 * `reconnect.js`); the "Reconnect" button retries at once.
 *
 * Stable hooks for tests: `#status[data-state=connecting|connected|disconnected]`,
 * `#message`, `#send`, `#reconnect`, `#clear`, and `#log > li[data-direction]`
 * with `data-direction` one of `sent`, `received` or `event`, the message text in
 * `.text`, and `data-rtt-ms` on received entries.
 *
 * @module
 */

import { byId, ReconnectingSocket } from "./reconnect.js";

/** Subprotocol the server requires on `/echo`. */
const PROTOCOL = "echo";
/** Oldest entries are dropped past this many, so a long session stays light. */
const MAX_ENTRIES = 500;

const endpointEl = byId("endpoint");
const composer = /** @type {HTMLFormElement} */ (byId("composer"));
const messageEl = /** @type {HTMLTextAreaElement} */ (byId("message"));
const sendButton = /** @type {HTMLButtonElement} */ (byId("send"));
const reconnectButton = /** @type {HTMLButtonElement} */ (byId("reconnect"));
const clearButton = /** @type {HTMLButtonElement} */ (byId("clear"));
const logEl = byId("log");

const url = echoUrl(location);

/**
 * Send times (performance.now()) of messages whose echo has not arrived yet, oldest first.
 * @type {number[]}
 */
let pending = [];

/**
 * The echo endpoint on the page's own host, with the scheme matching the page's.
 * @param {Location} loc
 * @returns {string}
 */
function echoUrl(loc) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/echo`;
}

function updateSendButton() {
  sendButton.disabled = connection.state !== "connected" || messageEl.value === "";
}

/**
 * Formats a wall-clock time as HH:MM:SS.mmm.
 * @param {Date} date
 * @returns {string}
 */
function clock(date) {
  const pad = (/** @type {number} */ n, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${
    pad(date.getMilliseconds(), 3)
  }`;
}

/**
 * Formats a duration in milliseconds for humans.
 * @param {number} ms
 * @returns {string}
 */
function duration(ms) {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/**
 * Appends one entry to the log. All text goes in through `textContent`.
 * @param {"sent" | "received" | "event"} direction
 * @param {string} text
 * @param {{ rttMs?: number }} [options] `rttMs`: round-trip time of a received
 *   echo (default: none).
 */
function addEntry(direction, text, options = {}) {
  const stick = logEl.scrollHeight - logEl.scrollTop - logEl.clientHeight < 24;
  const now = new Date();

  const item = document.createElement("li");
  item.className = "entry";
  item.dataset.direction = direction;

  const label = document.createElement("span");
  label.className = "dir";
  label.textContent = { sent: "Sent", received: "Received", event: "Info" }[direction];

  const time = document.createElement("time");
  time.className = "time";
  time.dateTime = now.toISOString();
  time.textContent = clock(now);

  const body = document.createElement("p");
  body.className = "text";
  body.textContent = text;

  item.append(label, time);
  if (options.rttMs !== undefined) {
    item.dataset.rttMs = options.rttMs.toFixed(1);
    const rtt = document.createElement("span");
    rtt.className = "rtt";
    rtt.title = "Round-trip time";
    rtt.textContent = duration(options.rttMs);
    item.append(rtt);
  }
  item.append(body);
  logEl.append(item);

  while (logEl.childElementCount > MAX_ENTRIES) logEl.firstElementChild?.remove();
  if (stick) logEl.scrollTop = logEl.scrollHeight;
}

/**
 * Describes a received message that is not text (the page never sends one).
 * @param {unknown} data
 * @returns {string}
 */
function describe(data) {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return `[binary message, ${data.byteLength} bytes]`;
  return "[message of unknown type]";
}

const connection = new ReconnectingSocket({
  url,
  protocol: PROTOCOL,
  onState: updateSendButton,
  onOpen(ws) {
    pending = [];
    addEntry("event", `Connected to ${url} (protocol "${ws.protocol}")`);
  },
  onMessage(event) {
    const sentAt = pending.shift();
    const rttMs = sentAt === undefined ? undefined : performance.now() - sentAt;
    addEntry("received", describe(event.data), { rttMs });
  },
  onClose(event, wasOpen) {
    pending = [];
    if (wasOpen) {
      const reason = event.reason ? `, ${event.reason}` : "";
      addEntry("event", `Disconnected (code ${event.code}${reason})`);
    }
  },
});

/** Sends the textarea's text, if connected and not empty. */
function send() {
  const text = messageEl.value;
  if (text === "" || !connection.send(text)) return;
  pending.push(performance.now());
  addEntry("sent", text);
  messageEl.value = "";
  updateSendButton();
  messageEl.focus();
}

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});

messageEl.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    send();
  }
});

messageEl.addEventListener("input", updateSendButton);
reconnectButton.addEventListener("click", () => connection.reconnect());
clearButton.addEventListener("click", () => logEl.replaceChildren());

endpointEl.textContent = url;
connection.connect();
