/**
 * Chat page for the `chat.v1` app.
 *
 * Connects to `/chat` on the page's own host (`wss:` when the page came over `https:`, `ws:`
 * otherwise) offering the `chat.v1` subprotocol, joins one room under a name picked in the
 * form, and shows the room's member count, its messages (sender and text as plain text, never
 * as HTML), someone joining or leaving (the count going up or down) and the server's errors. A
 * frame from the server holds one message or a JSON array of them. A dropped connection is
 * retried with exponential backoff (see `reconnect.js`) and the room is joined again under the
 * same name. "Burst" sends 1,000 numbered messages at once and counts how this page's own
 * ones come back: received, missed (sent but not back once the last one is, or after a quiet
 * {@linkcode SETTLE_MS}) and out of order (a seq lower than the one before).
 *
 * Stable hooks for tests:
 * - `#status[data-state=connecting|connected|disconnected]`, `#status-detail`, `#reconnect`
 *   and `#endpoint`, as on the echo page;
 * - `#name`, `#room`, `#join` (submits `#join-form`), `#leave`;
 * - `#room-card[data-joined=true|false]`, `#room-name`, `#members` (the count in digits, `–`
 *   while not in a room);
 * - `#message`, `#send` (submits `#composer`), `#clear`;
 * - `#log > li[data-kind]`, `data-kind` one of `message`, `notice` or `error`, the text in
 *   `.text`; a message also has `data-from`, `data-seq`, `data-mine="true|false"` (whether
 *   this page sent it), `data-node` (the server instance that relayed it, when told) and the
 *   sender in `.from`;
 * - `#burst`, `#burst-card[data-state=idle|running|done]`, and the counters in digits:
 *   `#burst-sent`, `#burst-received`, `#burst-missed` (`–` until done), `#burst-out-of-order`.
 *
 * @module
 */

import { byId, ReconnectingSocket } from "./reconnect.js";

/** Subprotocol the server requires on `/chat`. */
const PROTOCOL = "chat.v1";
/** Room names the server accepts. */
const ROOM = /^[A-Za-z0-9_.-]{1,64}$/;
/** Longest name the server accepts, in characters. */
const MAX_NAME_CHARS = 32;
/** Characters a name may not hold (Unicode category Cc). */
const CONTROL = /\p{Cc}/u;
/** Messages one burst sends. */
const BURST_SIZE = 1000;
/** A burst whose last message has not come back is counted done after this long without any. */
const SETTLE_MS = 5000;
/** Oldest entries are dropped past this many; room for two bursts and some talk. */
const MAX_ENTRIES = 2500;

/**
 * @typedef {{ type: "joined" | "presence", room: string, members: number }
 *   | { type: "message", room: string, from: string, text: string, seq: number, node?: string }
 *   | { type: "error", reason: string }} ServerMessage
 */

/**
 * One burst's tally of this page's own messages.
 * @typedef {object} Burst
 * @property {string} name The name the burst went out under.
 * @property {number} first The seq of its first message.
 * @property {number} sent How many went out (seqs `first` to `first + sent - 1`).
 * @property {number} received How many came back.
 * @property {number} outOfOrder How many came back with a seq lower than the one before.
 * @property {number} lastSeq The seq that came back last (-1: none yet).
 * @property {boolean} done Whether the tally is final.
 */

const endpointEl = byId("endpoint");
const joinForm = /** @type {HTMLFormElement} */ (byId("join-form"));
const nameEl = /** @type {HTMLInputElement} */ (byId("name"));
const roomEl = /** @type {HTMLInputElement} */ (byId("room"));
const joinButton = /** @type {HTMLButtonElement} */ (byId("join"));
const leaveButton = /** @type {HTMLButtonElement} */ (byId("leave"));
const roomCard = byId("room-card");
const roomNameEl = byId("room-name");
const membersEl = byId("members");
const membersLabel = byId("members-label");
const clearButton = /** @type {HTMLButtonElement} */ (byId("clear"));
const logEl = byId("log");
const composer = /** @type {HTMLFormElement} */ (byId("composer"));
const messageEl = /** @type {HTMLInputElement} */ (byId("message"));
const sendButton = /** @type {HTMLButtonElement} */ (byId("send"));
const reconnectButton = /** @type {HTMLButtonElement} */ (byId("reconnect"));
const burstCard = byId("burst-card");
const burstButton = /** @type {HTMLButtonElement} */ (byId("burst"));
const burstStatus = byId("burst-status");
const burstSentEl = byId("burst-sent");
const burstReceivedEl = byId("burst-received");
const burstMissedEl = byId("burst-missed");
const burstOutOfOrderEl = byId("burst-out-of-order");

const url = chatUrl(location);

/** The room and name picked with Join, kept across reconnects; null once left. */
let wanted = /** @type {{ room: string, name: string } | null} */ (null);
/** Whether the server confirmed joining `wanted.room` on the current connection. */
let joined = false;
/** Whether a join is sent and neither confirmed nor refused yet. */
let joinPending = false;
/** The room's member count, as the server last told it. */
let members = /** @type {number | null} */ (null);
/** The seq of this page's next `say`; it never goes back, not even after a reconnect. */
let nextSeq = 0;
/** @type {Burst | null} */
let burst = null;
let settleTimer = 0;
/** Whether the log was scrolled to its end before the latest additions. */
let stick = true;
let scrollQueued = false;

/**
 * The chat endpoint on the page's own host, with the scheme matching the page's.
 * @param {Location} loc
 * @returns {string}
 */
function chatUrl(loc) {
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/chat`;
}

/** Enables the controls that make sense now and shows the room. */
function render() {
  const connected = connection.state === "connected";
  joinButton.disabled = !connected;
  leaveButton.disabled = wanted === null;
  sendButton.disabled = !connected || !joined || messageEl.value.trim() === "";
  burstButton.disabled = !connected || !joined || (burst !== null && !burst.done);
  roomCard.dataset.joined = String(joined);
  roomNameEl.textContent = wanted?.room ?? "–";
  membersEl.textContent = members === null ? "–" : String(members);
  membersLabel.textContent = members === 1 ? "member" : "members";
}

/**
 * "1 member", "2 members".
 * @param {number} count
 * @returns {string}
 */
function memberCount(count) {
  return `${count} ${count === 1 ? "member" : "members"}`;
}

/**
 * Appends one entry to the log. All text goes in through `textContent`.
 * @param {"message" | "notice" | "error"} kind
 * @param {string} text
 * @param {{ from: string, seq: number, mine: boolean, node?: string }} [message] Sender, seq
 *   and relaying server instance (when the server tells it) of a message.
 */
function addEntry(kind, text, message) {
  const item = document.createElement("li");
  item.className = "entry chat-entry";
  item.dataset.kind = kind;

  const head = document.createElement("span");
  head.className = "from";
  if (message) {
    item.dataset.from = message.from;
    item.dataset.seq = String(message.seq);
    item.dataset.mine = String(message.mine);
    if (message.node !== undefined) item.dataset.node = String(message.node);
    head.textContent = message.from;
  } else {
    head.textContent = kind === "error" ? "Error" : "Info";
  }

  const now = new Date();
  const time = document.createElement("time");
  time.className = "time";
  time.dateTime = now.toISOString();
  time.textContent = now.toTimeString().slice(0, 8);
  if (item.dataset.node) time.title = `relayed by server ${item.dataset.node}`;

  const body = document.createElement("p");
  body.className = "text";
  body.textContent = text;

  item.append(head, time, body);
  logEl.append(item);
  while (logEl.childElementCount > MAX_ENTRIES) logEl.firstElementChild?.remove();
  if (stick) scrollToEnd();
}

/** Scrolls the log to its end once the current burst of additions is in. */
function scrollToEnd() {
  if (scrollQueued) return;
  scrollQueued = true;
  setTimeout(() => {
    scrollQueued = false;
    logEl.scrollTop = logEl.scrollHeight;
  });
}

/**
 * Sends one command.
 * @param {object} command
 * @returns {boolean} false when there is no open connection.
 */
function sendCommand(command) {
  return connection.send(JSON.stringify(command));
}

/** Sends the join for `wanted`. */
function sendJoin() {
  if (!wanted) return;
  joinPending = sendCommand({ type: "join", room: wanted.room, name: wanted.name });
}

/**
 * Joins `room` as `name`, leaving the room the page is in first.
 * @param {string} room
 * @param {string} name
 */
function join(room, name) {
  if (wanted?.room === room && wanted.name === name && (joined || joinPending)) return;
  leave();
  wanted = { room, name };
  sendJoin();
  render();
}

/** Leaves the room the page is in (or is joining). */
function leave() {
  if (!wanted) return;
  // The server answers in order, so a leave right after a join undoes it.
  if (joined || joinPending) sendCommand({ type: "leave", room: wanted.room });
  if (joined) addEntry("notice", `You left ${wanted.room}`);
  wanted = null;
  joined = false;
  joinPending = false;
  members = null;
  render();
}

/**
 * Applies one message from the server.
 * @param {ServerMessage} message
 */
function handle(message) {
  switch (message.type) {
    case "joined":
      // A join that Leave already undid.
      if (wanted?.room !== message.room) return;
      joined = true;
      joinPending = false;
      members = message.members;
      addEntry("notice", `You joined ${message.room} as ${wanted.name}: ${memberCount(members)}`);
      return render();
    case "presence":
      if (!joined || wanted?.room !== message.room || members === message.members) return;
      if (members !== null) {
        const change = message.members > members ? "someone joined" : "someone left";
        addEntry("notice", `${change}: ${memberCount(message.members)}`);
      }
      members = message.members;
      return render();
    case "message":
      if (wanted?.room !== message.room) return;
      addEntry("message", message.text, {
        from: message.from,
        seq: message.seq,
        mine: message.from === wanted.name,
        node: message.node,
      });
      return countBurst(message);
    case "error":
      addEntry("error", message.reason);
      if (joinPending) {
        // The server refused the join (commands are answered in order).
        joinPending = false;
        wanted = null;
        render();
      }
      return;
    default: {
      const { type } = /** @type {{ type: unknown }} */ (message);
      addEntry("error", `message of unknown type ${JSON.stringify(type)} ignored`);
    }
  }
}

/**
 * Parses one frame: one message object or an array of them.
 * @param {MessageEvent} event
 */
function onFrame(event) {
  if (typeof event.data !== "string") {
    addEntry("error", "binary frame ignored: chat.v1 uses text frames");
    return;
  }
  let value;
  try {
    value = JSON.parse(event.data);
  } catch {
    addEntry("error", "frame ignored: not JSON");
    return;
  }
  for (const message of Array.isArray(value) ? value : [value]) {
    if (typeof message === "object" && message !== null) handle(message);
    else addEntry("error", "frame ignored: not a message object");
  }
}

/** Sends 1,000 numbered messages at once and starts counting them back. */
function startBurst() {
  if (!wanted || !joined || (burst && !burst.done)) return;
  const { room, name } = wanted;
  burst = { name, first: nextSeq, sent: 0, received: 0, outOfOrder: 0, lastSeq: -1, done: false };
  for (let i = 1; i <= BURST_SIZE; i++) {
    if (!sendCommand({ type: "say", room, text: `burst ${i}/${BURST_SIZE}`, seq: nextSeq })) break;
    nextSeq += 1;
    burst.sent += 1;
  }
  armSettle();
  renderBurst();
  render();
}

/**
 * Counts a message if it is one of this page's burst.
 * @param {{ from: string, seq: number }} message
 */
function countBurst(message) {
  const b = burst;
  if (!b || b.done || message.from !== b.name) return;
  const last = b.first + b.sent - 1;
  if (message.seq < b.first || message.seq > last) return;
  b.received += 1;
  if (message.seq < b.lastSeq) b.outOfOrder += 1;
  b.lastSeq = message.seq;
  if (message.seq === last) finishBurst();
  else armSettle();
  renderBurst();
}

/** (Re)starts the quiet time after which a burst counts as done. */
function armSettle() {
  clearTimeout(settleTimer);
  settleTimer = setTimeout(finishBurst, SETTLE_MS);
}

function finishBurst() {
  clearTimeout(settleTimer);
  if (!burst || burst.done) return;
  burst.done = true;
  const { sent, received, outOfOrder } = burst;
  addEntry(
    "notice",
    `Burst done: ${received} of ${sent} back, ${sent - received} missed, ` +
      `${outOfOrder} out of order`,
  );
  renderBurst();
  render();
}

function renderBurst() {
  if (!burst) return;
  const { sent, received, outOfOrder, done } = burst;
  burstCard.dataset.state = done ? "done" : "running";
  burstStatus.textContent = done ? "Done." : "Running…";
  burstSentEl.textContent = String(sent);
  burstReceivedEl.textContent = String(received);
  burstMissedEl.textContent = done ? String(sent - received) : "–";
  burstOutOfOrderEl.textContent = String(outOfOrder);
}

const connection = new ReconnectingSocket({
  url,
  protocol: PROTOCOL,
  onState(state) {
    // A new connection is a new session: in no room until the join is confirmed.
    if (state !== "connected") {
      joined = false;
      joinPending = false;
      members = null;
    }
    render();
  },
  onOpen(ws) {
    addEntry("notice", `Connected to ${url} (protocol "${ws.protocol}")`);
    sendJoin();
  },
  onMessage: onFrame,
  onClose(event, wasOpen) {
    if (wasOpen) {
      const reason = event.reason ? `, ${event.reason}` : "";
      addEntry("notice", `Disconnected (code ${event.code}${reason})`);
    }
  },
});

joinForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = nameEl.value.trim();
  const room = roomEl.value.trim();
  if (name === "" || name.length > MAX_NAME_CHARS || CONTROL.test(name)) {
    addEntry("error", `name must be 1 to ${MAX_NAME_CHARS} characters, no control characters`);
    nameEl.focus();
  } else if (!ROOM.test(room)) {
    addEntry("error", "room must be 1 to 64 of A-Z a-z 0-9 _ . -");
    roomEl.focus();
  } else {
    join(room, name);
  }
});

leaveButton.addEventListener("click", leave);

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = messageEl.value;
  if (!wanted || !joined || text.trim() === "") return;
  if (!sendCommand({ type: "say", room: wanted.room, text, seq: nextSeq })) return;
  nextSeq += 1;
  messageEl.value = "";
  render();
  messageEl.focus();
});

messageEl.addEventListener("input", render);
burstButton.addEventListener("click", startBurst);
reconnectButton.addEventListener("click", () => connection.reconnect());
clearButton.addEventListener("click", () => {
  logEl.replaceChildren();
  stick = true;
});
logEl.addEventListener("scroll", () => {
  stick = logEl.scrollHeight - logEl.scrollTop - logEl.clientHeight < 24;
}, { passive: true });

nameEl.value = `guest-${String(Math.floor(Math.random() * 10_000)).padStart(4, "0")}`;
roomEl.value = "lobby";
endpointEl.textContent = url;
connection.connect();
