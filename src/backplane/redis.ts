/**
 * The Redis backplane: one connection to publish, one to subscribe, each a
 * {@link ./_redis_connection.ts} on `Deno.connect`. It runs on the main thread, and no npm
 * module is involved (node-redis on Deno's Node layer cost a node about 0.6 ms of main-thread
 * CPU per cross-node message: bench/README.md).
 *
 * - A turn's first publish goes out at once, the rest of the turn's text to the same topic as
 *   one envelope at its end ({@link ./_outbox.ts}); while Redis is down publishes are counted
 *   lost, never queued, so nothing arrives late when it returns (but for what a frozen Redis
 *   had already been sent: it may run that when it thaws, though the publish was counted lost).
 * - A topic's channel (`PREFIX:t:TOPIC`) is subscribed only while this node has a subscriber.
 * - Presence (`PREFIX:presence`): each change of a count, all counts every 3 s, a goodbye on
 *   close; a node not heard from for 10 s is forgotten.
 *
 * @module
 */

import type { Logger } from "../log.ts";
import type { Backplane, BackplaneEvents, BackplaneStats } from "./backplane.ts";
import { initialStats } from "./backplane.ts";
import { redactedUrl } from "./backplane_url.ts";
import { decodeEnvelope, GapCounter } from "./envelope.ts";
import { Outbox } from "./_outbox.ts";
import { RedisConnection, withTimeout } from "./_redis_connection.ts";
import { PRESENCE_REFRESH_MS, RemotePresence } from "./presence.ts";
import type { PresenceMessage } from "./presence.ts";

/** Options for {@linkcode connectRedisBackplane}. */
export interface RedisBackplaneOptions {
  /** `redis://…` or `rediss://…`. */
  url: string;
  /** This node's name. */
  nodeId: string;
  /** Prefix of the channels. */
  prefix: string;
  /** Connect and ping timeout in milliseconds. */
  timeoutMs: number;
  /** What the hub wants to hear. */
  events: BackplaneEvents;
  /** Where state changes are logged, one line each. */
  logger?: Logger;
}

/** How often changed counters reach the workers' `/metrics`. */
const STATS_EVERY_MS = 250;

/** Retries while Redis is down: every 100 ms, so delivery resumes within a second of its return. */
const RETRY_MS = 100;

/** A backplane on Redis; connecting goes on in the background (local delivery never waits). */
export function connectRedisBackplane(options: RedisBackplaneOptions): Backplane {
  const { nodeId, prefix, events, logger } = options;
  const stats: BackplaneStats = initialStats();
  const topicChannel = (topic: string) => `${prefix}:t:${topic}`;
  const presenceChannel = `${prefix}:presence`;
  const gaps = new GapCounter();
  const presence = new RemotePresence((topic, total) => events.remoteCount(topic, total));
  /** Topics with a local subscriber: their channels are wanted. */
  const followed = new Set<string>();
  /** Channels the subscriber connection has (none after it reconnects). */
  const subscribed = new Set<string>();
  const localCounts = new Map<string, number>();
  let changed: Record<string, number> | undefined;
  const outbox = new Outbox(nodeId, (topic, wire, count) => {
    pub.command(["PUBLISH", topicChannel(topic), wire]).catch(() => {
      stats.publishErrors += count;
      report();
    });
  });
  let everUp = false;
  let closing = false;
  /** The next report of the counters, while one is due. */
  let statsTimer: ReturnType<typeof setTimeout> | undefined;
  /** The state last reported: a change of it is reported at once. */
  let reportedUp: boolean | undefined;

  const sendStats = () => {
    statsTimer = undefined;
    reportedUp = stats.up;
    events.stats({ ...stats });
  };
  // The hub passes the stats to every worker: a change of state goes at once (readiness
  // follows it), counters at most every 250 ms, not once per message.
  const report = () => {
    stats.nodes = presence.nodeCount;
    if (stats.up !== reportedUp) {
      clearTimeout(statsTimer);
      statsTimer = setTimeout(sendStats, 0);
    } else statsTimer ??= setTimeout(sendStats, STATS_EVERY_MS);
  };

  /** The state last logged: none at first, so a Redis that refuses from the start is logged. */
  let logged: boolean | undefined;
  // Going down always has a reason; one connection up while the other is not yet changes nothing.
  const setUp = (up: boolean, why?: string) => {
    if (up === logged || (!up && why === undefined)) return;
    logged = stats.up = up;
    if (up) {
      if (everUp) stats.reconnects++;
      everUp = true;
      logger?.info("backplane.up", { url: redactedUrl(options.url), node: nodeId });
      sharePresence(true);
    } else if (!closing) {
      logger?.warn("backplane.down", { url: redactedUrl(options.url), why });
    }
    report();
  };
  const connection = (
    onState: (up: boolean) => void,
    onMessage?: (channel: string, message: string) => void,
  ) =>
    new RedisConnection({
      url: options.url,
      timeoutMs: options.timeoutMs,
      retryMs: RETRY_MS,
      onState: (up, why) => {
        onState(up);
        setUp(pub.ready && sub.ready, why);
      },
      onMessage,
    });
  const pub = connection(() => {});
  // A new subscriber connection has no channels: presence and the followed topics again.
  const sub = connection((up) => {
    if (!up) return;
    subscribed.clear();
    sub.command(["SUBSCRIBE", presenceChannel]).catch(() => {});
    for (const topic of followed) follow(topic);
  }, (channel, message) => {
    if (channel === presenceChannel) return onPresence(message);
    const topic = channel.slice(prefix.length + 3);
    // A message that was on its way when the topic was dropped is not counted.
    if (followed.has(topic)) onTopicMessage(topic, message);
  });

  const onTopicMessage = (topic: string, message: string) => {
    const envelope = decodeEnvelope(message);
    if (envelope === null || envelope.origin === nodeId) return;
    stats.gaps += gaps.missing(topic, envelope);
    for (const data of envelope.messages) {
      stats.messagesIn++;
      stats.bytesIn += typeof data === "string" ? data.length : data.byteLength;
      events.message(topic, data);
    }
    report();
  };

  const onPresence = (message: string) => {
    let value: PresenceMessage;
    try {
      value = JSON.parse(message);
    } catch {
      return;
    }
    if (typeof value?.n !== "string" || value.n === nodeId) return;
    if (value.bye) {
      presence.drop(value.n);
      gaps.forgetOrigin(value.n);
    } else presence.apply(value.n, value.c ?? {}, value.f === true, performance.now());
    report();
  };

  const follow = (topic: string) => {
    const channel = topicChannel(topic);
    if (subscribed.has(channel) || !sub.ready) return;
    subscribed.add(channel);
    sub.command(["SUBSCRIBE", channel]).catch(() => subscribed.delete(channel));
  };

  const unfollow = (topic: string) => {
    const channel = topicChannel(topic);
    gaps.forget(topic);
    if (!subscribed.delete(channel)) return;
    sub.command(["UNSUBSCRIBE", channel]).catch(() => {});
  };

  const sharePresence = (full: boolean) => {
    const counts = full ? Object.fromEntries(localCounts) : changed;
    changed = undefined;
    if (counts === undefined || !pub.ready) return;
    const message: PresenceMessage = full
      ? { n: nodeId, c: counts, f: true }
      : { n: nodeId, c: counts };
    pub.command(["PUBLISH", presenceChannel, JSON.stringify(message)]).catch(() => {});
  };

  const refresh = setInterval(() => sharePresence(true), PRESENCE_REFRESH_MS);
  // Once a second, so a node that went quiet is forgotten within a second of the expiry.
  const sweep = setInterval(() => {
    const gone = presence.sweep(performance.now());
    for (const node of gone) gaps.forgetOrigin(node);
    if (gone.length > 0) report();
  }, 1000);

  return {
    nodeId,
    remoteCount: (topic) => presence.total(topic),
    publish(topic, data) {
      if (!stats.up) {
        outbox.skip(topic);
        stats.publishErrors++;
        return report();
      }
      stats.messagesOut++;
      stats.bytesOut += typeof data === "string" ? data.length : data.byteLength;
      outbox.publish(topic, data);
      report();
    },
    localCount(topic, count) {
      if (count > 0) localCounts.set(topic, count);
      else localCounts.delete(topic);
      if (count > 0 && !followed.has(topic)) {
        followed.add(topic);
        follow(topic);
      } else if (count === 0 && followed.delete(topic)) unfollow(topic);
      const first = changed === undefined;
      (changed ??= {})[topic] = count;
      // Changes made in one turn go out together.
      if (first) queueMicrotask(() => sharePresence(false));
    },
    async close() {
      closing = true;
      outbox.close();
      clearInterval(refresh);
      clearInterval(sweep);
      clearTimeout(statsTimer);
      if (pub.ready) {
        const bye: PresenceMessage = { n: nodeId, bye: true };
        // A Redis that froze does not hold the shutdown up for longer than the timeout.
        const goodbye = pub.command(["PUBLISH", presenceChannel, JSON.stringify(bye)]);
        await withTimeout(goodbye, options.timeoutMs, "goodbye").catch(() => {});
      }
      await Promise.all([pub.close(), sub.close()]);
    },
  };
}
