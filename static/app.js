/**
 * Demo page for the WebSocket echo server.
 *
 * Connects to `/echo` on the page's own host (`wss:` when the page came over
 * `https:`, `ws:` otherwise) offering the `echo` subprotocol, sends the
 * textarea's text on "Send" or Ctrl/Cmd+Enter, and logs every sent and received
 * message as plain text (never as HTML) with the round-trip time of each echo.
 * A dropped connection is retried automatically with exponential backoff; the
 * "Reconnect" button retries at once.
 *
 * Stable hooks for tests: `#status[data-state=connecting|connected|disconnected]`,
 * `#message`, `#send`, `#reconnect`, `#clear`, and `#log > li[data-direction]`
 * with `data-direction` one of `sent`, `received` or `event`, the message text in
 * `.text`, and `data-rtt-ms` on received entries.
 *
 * @module
 */

/** Subprotocol the server requires on `/echo`. */
const PROTOCOL = "echo";
/** First automatic retry delay; doubled after each failed attempt. */
const RETRY_MIN_MS = 500;
/** Upper bound of the automatic retry delay. */
const RETRY_MAX_MS = 10_000;
/** Oldest entries are dropped past this many, so a long session stays light. */
const MAX_ENTRIES = 500;

const statusEl = byId("status");
const statusText = byId("status-text");
const statusDetail = byId("status-detail");
const endpointEl = byId("endpoint");
const composer = /** @type {HTMLFormElement} */ (byId("composer"));
const messageEl = /** @type {HTMLTextAreaElement} */ (byId("message"));
const sendButton = /** @type {HTMLButtonElement} */ (byId("send"));
const reconnectButton = /** @type {HTMLButtonElement} */ (byId("reconnect"));
const clearButton = /** @type {HTMLButtonElement} */ (byId("clear"));
const logEl = byId("log");

const url = echoUrl(location);

/** @type {WebSocket | null} */
let socket = null;
/** Send times (performance.now()) of messages whose echo has not arrived yet, oldest first. */
let pending = [];
/** Failed attempts since the last successful connection. */
let failures = 0;
let retryTimer = 0;
let countdownTimer = 0;

/**
 * Looks up an element that the page is known to contain.
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el;
}

/**
 * The echo endpoint on the page's own host, with the scheme matching the page's.
 * @param {Location} loc
 * @returns {string}
 */
function echoUrl(loc) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/echo`;
}

/**
 * Shows the connection state in the status pill and enables the controls that
 * make sense in it.
 * @param {"connecting" | "connected" | "disconnected"} state
 * @param {string} text
 */
function setState(state, text) {
  statusEl.dataset.state = state;
  statusText.textContent = text;
  statusDetail.textContent = "";
  updateSendButton();
}

function updateSendButton() {
  sendButton.disabled = statusEl.dataset.state !== "connected" || messageEl.value === "";
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

function clearTimers() {
  clearTimeout(retryTimer);
  clearInterval(countdownTimer);
  retryTimer = 0;
  countdownTimer = 0;
}

/** Drops the current socket, if any, without triggering an automatic retry. */
function dropSocket() {
  if (!socket) return;
  const old = socket;
  socket = null;
  old.onopen =
    old.onmessage =
    old.onclose =
    old.onerror =
      null;
  if (old.readyState === WebSocket.CONNECTING || old.readyState === WebSocket.OPEN) {
    old.close(1000, "reconnecting");
  }
}

/** Opens a new connection, replacing any current one or pending retry. */
function connect() {
  clearTimers();
  dropSocket();
  pending = [];
  setState("connecting", "Connecting…");

  const ws = new WebSocket(url, PROTOCOL);
  ws.binaryType = "arraybuffer";
  socket = ws;

  ws.onopen = () => {
    failures = 0;
    setState("connected", "Connected");
    addEntry("event", `Connected to ${url} (protocol "${ws.protocol}")`);
  };

  ws.onmessage = (event) => {
    const sentAt = pending.shift();
    const rttMs = sentAt === undefined ? undefined : performance.now() - sentAt;
    addEntry("received", describe(event.data), { rttMs });
  };

  ws.onclose = (event) => {
    if (socket !== ws) return;
    socket = null;
    pending = [];
    const wasOpen = statusEl.dataset.state === "connected";
    if (wasOpen) {
      const reason = event.reason ? `, ${event.reason}` : "";
      addEntry("event", `Disconnected (code ${event.code}${reason})`);
    }
    scheduleRetry();
  };
}

/** Shows the disconnected state and retries after an exponentially growing delay. */
function scheduleRetry() {
  const base = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** failures);
  const delay = Math.round(base * (0.8 + Math.random() * 0.4));
  failures += 1;
  const due = Date.now() + delay;

  const show = () => {
    const seconds = Math.max(1, Math.ceil((due - Date.now()) / 1000));
    statusDetail.textContent = `retry in ${seconds} s`;
  };
  setState("disconnected", "Disconnected");
  show();
  countdownTimer = setInterval(show, 1000);
  retryTimer = setTimeout(connect, delay);
}

/** Sends the textarea's text, if connected and not empty. */
function send() {
  const text = messageEl.value;
  if (!socket || socket.readyState !== WebSocket.OPEN || text === "") return;
  socket.send(text);
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
reconnectButton.addEventListener("click", () => {
  failures = 0;
  connect();
});
clearButton.addEventListener("click", () => logEl.replaceChildren());

// Coming back online is a good moment to stop waiting for the next retry.
globalThis.addEventListener("online", () => {
  if (statusEl.dataset.state === "disconnected") connect();
});

endpointEl.textContent = url;
connect();
