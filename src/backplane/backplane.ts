/**
 * The backplane: what carries topics and presence between server instances, as the main
 * thread's topic hub sees it. Redis implements it ({@link ./redis.ts}); another engine (NATS,
 * Redis Cluster's sharded pub/sub) can implement the same interface.
 *
 * @module
 */

/** Counters and state of a backplane, as `/metrics` shows them. */
export interface BackplaneStats {
  /** Whether it is connected. */
  up: boolean;
  /** Times it came back after being down. */
  reconnects: number;
  /** Publishes from other nodes taken in, and their payload bytes. */
  messagesIn: number;
  /** Payload bytes taken in. */
  bytesIn: number;
  /** Publishes sent to other nodes, and their payload bytes. */
  messagesOut: number;
  /** Payload bytes sent. */
  bytesOut: number;
  /**
   * Publishes that could not be sent (the backplane was down): lost, never queued. (Those a
   * frozen Redis had already been sent may still go out when it thaws.)
   */
  publishErrors: number;
  /** Publishes of other nodes that never arrived (gaps in their numbers). */
  gaps: number;
  /** Other nodes known through presence. */
  nodes: number;
}

/** What a backplane tells the hub. */
export interface BackplaneEvents {
  /** A publish from another node, for a topic this node follows. */
  message(topic: string, data: string | Uint8Array): void;
  /** The other nodes' subscriber count of `topic` changed. */
  remoteCount(topic: string, total: number): void;
  /** The state or a counter changed. */
  stats(stats: BackplaneStats): void;
}

/** A connection of this node to the others. */
export interface Backplane {
  /** This node's name. */
  readonly nodeId: string;
  /** The other nodes' subscribers of `topic`, as last shared. */
  remoteCount(topic: string): number;
  /** Sends a publish to the other nodes at once, or counts it lost when down. */
  publish(topic: string, data: string | Uint8Array | ArrayBuffer): void;
  /** This node's subscribers of `topic` (all workers): follows the topic while above 0. */
  localCount(topic: string, count: number): void;
  /** Says goodbye to the other nodes and disconnects. */
  close(): Promise<void>;
}

/** Stats of a backplane that has not connected yet. */
export function initialStats(): BackplaneStats {
  return {
    up: false,
    reconnects: 0,
    messagesIn: 0,
    bytesIn: 0,
    messagesOut: 0,
    bytesOut: 0,
    publishErrors: 0,
    gaps: 0,
    nodes: 0,
  };
}
