/**
 * Server counters and their Prometheus text exposition.
 *
 * Counters are plain numbers updated in place on the hot path (no labels are built per
 * message); {@linkcode Metrics.render} turns them into the text format on demand.
 *
 * @example
 * ```ts
 * import { Metrics } from "./metrics.ts";
 *
 * const metrics = new Metrics();
 * metrics.countMessageIn("text", 5);
 * console.log(metrics.render());
 * ```
 * @module
 */

import type { BackplaneStats } from "./backplane/backplane.ts";

/** The two kinds of WebSocket data message. */
export type MessageKind = "text" | "binary";

/** Messages and bytes of one direction, split by kind. */
export interface TrafficCounters {
  /** Text messages. */
  textMessages: number;
  /** UTF-8 bytes of text messages. */
  textBytes: number;
  /** Binary messages. */
  binaryMessages: number;
  /** Bytes of binary messages. */
  binaryBytes: number;
}

function newTraffic(): TrafficCounters {
  return { textMessages: 0, textBytes: 0, binaryMessages: 0, binaryBytes: 0 };
}

function count(traffic: TrafficCounters, kind: MessageKind, bytes: number): void {
  if (kind === "text") {
    traffic.textMessages++;
    traffic.textBytes += bytes;
  } else {
    traffic.binaryMessages++;
    traffic.binaryBytes += bytes;
  }
}

function increment<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Escapes a label value for the Prometheus text format. */
function label(value: string | number): string {
  return String(value).replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** The backplane's families (see {@linkcode BackplaneStats}). */
function renderBackplane(
  b: BackplaneStats,
  family: (name: string, type: string, help: string, samples: string[]) => void,
): void {
  const one = (name: string, type: string, help: string, value: number) =>
    family(`websocket_backplane_${name}`, type, help, [`websocket_backplane_${name} ${value}`]);
  one("up", "gauge", "Whether the backplane is connected (1) or not (0).", b.up ? 1 : 0);
  one("reconnects_total", "counter", "Times the backplane came back.", b.reconnects);
  family("websocket_backplane_messages_total", "counter", "Publishes between nodes.", [
    `websocket_backplane_messages_total{direction="in"} ${b.messagesIn}`,
    `websocket_backplane_messages_total{direction="out"} ${b.messagesOut}`,
  ]);
  family("websocket_backplane_bytes_total", "counter", "Payload bytes between nodes.", [
    `websocket_backplane_bytes_total{direction="in"} ${b.bytesIn}`,
    `websocket_backplane_bytes_total{direction="out"} ${b.bytesOut}`,
  ]);
  one(
    "publish_errors_total",
    "counter",
    "Publishes lost: the backplane was down.",
    b.publishErrors,
  );
  one("gaps_total", "counter", "Publishes of other nodes that never arrived.", b.gaps);
  one("nodes", "gauge", "Other nodes known through presence.", b.nodes);
}

/** Every counter of one server. One instance per server: there is no global state. */
export class Metrics {
  /** Sessions open now. */
  sessionsOpen = 0;
  /** Sessions opened since start. */
  sessionsTotal = 0;
  /** Messages and bytes received from clients. */
  readonly received: TrafficCounters = newTraffic();
  /** Messages and bytes sent to clients. */
  readonly sent: TrafficCounters = newTraffic();
  /** Refused WebSocket handshakes by reason (see `RefusalReason`). */
  readonly handshakeRefusals: Map<string, number> = new Map();
  /** Closed sessions by close code. */
  readonly closes: Map<number, number> = new Map();
  /** Static-file responses by status. */
  readonly staticResponses: Map<number, number> = new Map();
  /** Files read (and compressed) into the static-file cache. */
  staticCacheLoads = 0;
  /** Requests refused before routing (an unparsable `Host`), by reason. */
  readonly badRequests: Map<string, number> = new Map();
  /** Topics with a subscriber now. */
  topics = 0;
  /** Subscriptions now. */
  subscriptions = 0;
  /** Messages published (by sessions, the app or the server). */
  publishes = 0;
  /** Published messages handed to a subscriber. */
  deliveries = 0;
  /** The backplane's state and counters, as the main thread last told; none without one. */
  backplane: BackplaneStats | undefined;
  /** Published messages not handed to a subscriber, by reason (`closing`: its close had begun). */
  readonly deliveriesDropped: Map<string, number> = new Map();

  /** Counts one message received from a client. */
  countMessageIn(kind: MessageKind, bytes: number): void {
    count(this.received, kind, bytes);
  }

  /** Counts one message sent to a client. */
  countMessageOut(kind: MessageKind, bytes: number): void {
    count(this.sent, kind, bytes);
  }

  /** Counts a refused handshake. */
  countRefusal(reason: string): void {
    increment(this.handshakeRefusals, reason);
  }

  /** Counts a session that opened. */
  countSessionOpen(): void {
    this.sessionsOpen++;
    this.sessionsTotal++;
  }

  /** Counts a session that closed, by its close code. */
  countSessionClose(code: number): void {
    this.sessionsOpen--;
    increment(this.closes, code);
  }

  /** Counts a static-file response. */
  countStatic(status: number): void {
    increment(this.staticResponses, status);
  }

  /** Counts a file read into the static-file cache. */
  countStaticCacheLoad(): void {
    this.staticCacheLoads++;
  }

  /** Counts one publish. */
  countPublish(): void {
    this.publishes++;
  }

  /** Counts the deliveries of one publish, and those dropped because the subscriber was closing. */
  countDeliveries(delivered: number, dropped: number): void {
    this.deliveries += delivered;
    if (dropped > 0) {
      this.deliveriesDropped.set("closing", (this.deliveriesDropped.get("closing") ?? 0) + dropped);
    }
  }

  /** Counts a request refused before routing. */
  countBadRequest(reason: string): void {
    increment(this.badRequests, reason);
  }

  /** The Prometheus text exposition (version 0.0.4) of every counter. */
  render(): string {
    const lines: string[] = [];
    const family = (name: string, type: string, help: string, samples: string[]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
    };
    family("websocket_sessions_open", "gauge", "WebSocket sessions open now.", [
      `websocket_sessions_open ${this.sessionsOpen}`,
    ]);
    family("websocket_sessions_total", "counter", "WebSocket sessions opened.", [
      `websocket_sessions_total ${this.sessionsTotal}`,
    ]);
    for (
      const [direction, traffic] of [["received", this.received], ["sent", this.sent]] as const
    ) {
      family(`websocket_messages_${direction}_total`, "counter", `Messages ${direction}.`, [
        `websocket_messages_${direction}_total{kind="text"} ${traffic.textMessages}`,
        `websocket_messages_${direction}_total{kind="binary"} ${traffic.binaryMessages}`,
      ]);
      family(`websocket_bytes_${direction}_total`, "counter", `Payload bytes ${direction}.`, [
        `websocket_bytes_${direction}_total{kind="text"} ${traffic.textBytes}`,
        `websocket_bytes_${direction}_total{kind="binary"} ${traffic.binaryBytes}`,
      ]);
    }
    const labelled = (name: string, key: string, map: Map<string | number, number>) =>
      [...map].map(([value, n]) => `${name}{${key}="${label(value)}"} ${n}`);
    family(
      "websocket_handshake_refusals_total",
      "counter",
      "WebSocket handshakes refused, by reason.",
      labelled("websocket_handshake_refusals_total", "reason", this.handshakeRefusals),
    );
    family(
      "websocket_closes_total",
      "counter",
      "WebSocket sessions closed, by close code.",
      labelled("websocket_closes_total", "code", this.closes),
    );
    family(
      "http_static_responses_total",
      "counter",
      "Static-file responses, by status.",
      labelled("http_static_responses_total", "status", this.staticResponses),
    );
    family("http_static_cache_loads_total", "counter", "Files read into the static cache.", [
      `http_static_cache_loads_total ${this.staticCacheLoads}`,
    ]);
    family(
      "http_bad_requests_total",
      "counter",
      "Requests refused before routing, by reason.",
      labelled("http_bad_requests_total", "reason", this.badRequests),
    );
    family("websocket_topics", "gauge", "Topics with a subscriber.", [
      `websocket_topics ${this.topics}`,
    ]);
    family("websocket_subscriptions", "gauge", "Topic subscriptions.", [
      `websocket_subscriptions ${this.subscriptions}`,
    ]);
    family("websocket_publishes_total", "counter", "Messages published to topics.", [
      `websocket_publishes_total ${this.publishes}`,
    ]);
    family("websocket_deliveries_total", "counter", "Published messages handed to subscribers.", [
      `websocket_deliveries_total ${this.deliveries}`,
    ]);
    family(
      "websocket_deliveries_dropped_total",
      "counter",
      "Published messages not handed to a subscriber, by reason.",
      labelled("websocket_deliveries_dropped_total", "reason", this.deliveriesDropped),
    );
    if (this.backplane) renderBackplane(this.backplane, family);
    return lines.join("\n") + "\n";
  }
}
