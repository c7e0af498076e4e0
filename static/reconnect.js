/**
 * What the demo pages share: a WebSocket that reopens itself with exponential backoff and
 * shows its state in the page's status pill.
 *
 * The pill is `#status` (its `data-state` is `connecting`, `connected` or `disconnected`),
 * with the state's name in `#status-text` and the retry countdown in `#status-detail`. A
 * dropped connection is retried after 0.5 s, then twice as long each time up to 10 s (±20 %);
 * `reconnect()` retries at once, and so does the browser coming back online.
 *
 * @module
 */

/** First automatic retry delay; doubled after each failed attempt. */
const RETRY_MIN_MS = 500;
/** Upper bound of the automatic retry delay. */
const RETRY_MAX_MS = 10_000;

/** @typedef {"connecting" | "connected" | "disconnected"} ConnectionState */

/**
 * @typedef {object} ReconnectingSocketOptions
 * @property {string} url Endpoint to open.
 * @property {string} protocol Subprotocol to offer.
 * @property {(state: ConnectionState) => void} [onState] After every change of state.
 * @property {(ws: WebSocket) => void} [onOpen] Once a socket is open (after `onState`).
 * @property {(event: MessageEvent) => void} [onMessage] For every message of the open socket.
 * @property {(event: CloseEvent, wasOpen: boolean) => void} [onClose] When the socket closes
 *   by itself (not when replaced), before the retry is scheduled; `wasOpen` tells whether it
 *   had opened.
 */

/**
 * Looks up an element that the page is known to contain.
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from the page`);
  return el;
}

/** One endpoint kept open: at most one socket at a time, reopened after every close. */
export class ReconnectingSocket {
  /** @type {ReconnectingSocketOptions} */
  #options;
  /** @type {WebSocket | null} */
  #socket = null;
  /** Failed attempts since the last successful connection. */
  #failures = 0;
  #retryTimer = 0;
  #countdownTimer = 0;
  #statusEl = byId("status");
  #statusText = byId("status-text");
  #statusDetail = byId("status-detail");

  /** @param {ReconnectingSocketOptions} options */
  constructor(options) {
    this.#options = options;
    // Coming back online is a good moment to stop waiting for the next retry.
    globalThis.addEventListener("online", () => {
      if (this.state === "disconnected") this.connect();
    });
  }

  /** The state the status pill shows. */
  get state() {
    return /** @type {ConnectionState} */ (this.#statusEl.dataset.state);
  }

  /**
   * Sends on the open socket.
   * @param {string | ArrayBuffer} data
   * @returns {boolean} false (and nothing sent) when there is no open socket.
   */
  send(data) {
    const ws = this.#socket;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(data);
    return true;
  }

  /** Retries at once, as after a success: the next automatic retry waits the shortest time. */
  reconnect() {
    this.#failures = 0;
    this.connect();
  }

  /** Opens a new connection, replacing any current one or pending retry. */
  connect() {
    this.#clearTimers();
    this.#dropSocket();
    this.#setState("connecting", "Connecting…");

    const ws = new WebSocket(this.#options.url, this.#options.protocol);
    ws.binaryType = "arraybuffer";
    this.#socket = ws;

    ws.onopen = () => {
      this.#failures = 0;
      this.#setState("connected", "Connected");
      this.#options.onOpen?.(ws);
    };

    ws.onmessage = (event) => this.#options.onMessage?.(event);

    ws.onclose = (event) => {
      if (this.#socket !== ws) return;
      this.#socket = null;
      this.#options.onClose?.(event, this.state === "connected");
      this.#scheduleRetry();
    };
  }

  /**
   * Shows the connection state in the status pill.
   * @param {ConnectionState} state
   * @param {string} text
   */
  #setState(state, text) {
    this.#statusEl.dataset.state = state;
    this.#statusText.textContent = text;
    this.#statusDetail.textContent = "";
    this.#options.onState?.(state);
  }

  #clearTimers() {
    clearTimeout(this.#retryTimer);
    clearInterval(this.#countdownTimer);
    this.#retryTimer = 0;
    this.#countdownTimer = 0;
  }

  /** Drops the current socket, if any, without triggering an automatic retry. */
  #dropSocket() {
    const old = this.#socket;
    if (!old) return;
    this.#socket = null;
    old.onopen =
      old.onmessage =
      old.onclose =
      old.onerror =
        null;
    if (old.readyState === WebSocket.CONNECTING || old.readyState === WebSocket.OPEN) {
      old.close(1000, "reconnecting");
    }
  }

  /** Shows the disconnected state and retries after an exponentially growing delay. */
  #scheduleRetry() {
    const base = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.#failures);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.#failures += 1;
    const due = Date.now() + delay;

    const show = () => {
      const seconds = Math.max(1, Math.ceil((due - Date.now()) / 1000));
      this.#statusDetail.textContent = `retry in ${seconds} s`;
    };
    this.#setState("disconnected", "Disconnected");
    show();
    this.#countdownTimer = setInterval(show, 1000);
    this.#retryTimer = setTimeout(() => this.connect(), delay);
  }
}
