import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { sessionKeys } from './records.js';

/**
 * The ending side's fence (SECURITY.md, "The web process's session cache keeps these rules"): after a
 * write that ends a session or takes authority from it, the process that wrote it answers only once
 * every process caching sessions has dropped its copy, so a request sent after that answer, to any
 * process, is never served the old copy. Reads pay nothing for it.
 *
 * How: every process's tracking connection (cache.ts) also subscribes to one fence channel and to an
 * ack channel of its own. The ender, once its write is answered, PUBLISHes a nonce and its ack channel
 * on the fence channel, counting the connections SUBSCRIBEd to that channel that received it (N:
 * `publishToSubscribers`, not PUBLISH's own count, which includes pattern subscribers that never ack).
 * A process handling the message has already handled the write's invalidation, because both went to
 * that same connection in order (below); it acks by PUBLISHing the nonce on the ender's ack channel.
 * The ender returns at N acks, or at the timeout with a warning: a process that has not acked by then
 * either lost its tracking connection (which empties its cache) or is stalled. An outside connection
 * SUBSCRIBEd to the exact fence channel is counted and never acks (an operator error, SECURITY.md).
 *
 * The facts relied on (Redis 6/7):
 * - With `CLIENT TRACKING on REDIRECT <id> BCAST`, invalidations are Pub/Sub messages on
 *   `__redis__:invalidate` sent to the redirect connection (CLIENT TRACKING, client-side caching docs).
 * - What Redis sends one connection (replies, Pub/Sub messages) goes out in the order it was produced:
 *   one output buffer per client, one TCP stream.
 * - A BCAST invalidation is put in the redirect client's output buffer in `beforeSleep` of the event
 *   loop turn that ran the write (server.c: `trackingBroadcastInvalidationMessages()`, before the
 *   turn's replies are written by `handleClientsWithPendingWritesUsingThreads()`), so before Redis
 *   reads any further command; PUBLISH puts its message in each subscriber's buffer while it runs.
 *   The fence is published on the writer's own connection once the write's reply was read, so it runs
 *   in a later turn and its message queues behind the invalidation on every tracking connection. Never
 *   in one script, MULTI or pipeline with the write: it would run in the same turn, before the broadcast.
 *   (The fence's own MULTI, PUBLISH + PUBSUB NUMSUB, is a later command on that connection: unaffected.)
 * - PUBSUB NUMSUB counts a channel's exact subscribers (patterns not); in one MULTI with the PUBLISH no
 *   subscription changes in between, so it counts exactly the channel's subscribers that received it.
 */
export interface EndingFence {
  /** Channels the tracking connection subscribes to, with `__redis__:invalidate`. */
  readonly channels: readonly string[];
  /** A message on the tracking connection, in the order Redis sent it; false if not a fence channel's. */
  handle(channel: string, message: string): boolean;
  /** Publish a fence and wait for every receiver's ack (or the timeout). Never throws. */
  wait(): Promise<void>;
}

export interface EndingFenceOptions {
  /** The channel every process's tracking connection subscribes to. */
  channel: string;
  /** This process's own ack channel (unique per process). */
  ackChannel: string;
  /**
   * PUBLISH a fence message on `channel`, on a connection that is not a subscriber (the process's data
   * connection): how many exact subscribers of the channel received it (`publishToSubscribers`).
   */
  publishFence(message: string): Promise<number>;
  /** PUBLISH an ack on an ender's ack channel (nothing counted). */
  publishAck(ackChannel: string, nonce: string): Promise<unknown>;
  /** Bound on one wait, publish included (default 1 s). */
  timeoutMs?: number;
  /** Not every receiver acked in time (counts only: nothing about the session). */
  onTimeout?(detail: { expected: number | null; acked: number }): void;
  /** A fence or an ack could not be published (Redis refused or is gone). */
  onError?(err: Error): void;
}

interface Waiter { acked: number; expected: number | null; done(): void }

export function createEndingFence(opts: EndingFenceOptions): EndingFence {
  const timeoutMs = opts.timeoutMs ?? 1_000;
  const waiting = new Map<string, Waiter>();

  function acked(nonce: string): void {
    const w = waiting.get(nonce);
    if (!w) return; // late, after a timeout
    w.acked++;
    if (w.expected !== null && w.acked >= w.expected) w.done();
  }

  return {
    channels: [opts.channel, opts.ackChannel],
    handle(channel, message) {
      if (channel === opts.ackChannel) { acked(message); return true; }
      if (channel !== opts.channel) return false;
      // "<nonce> <ack channel>": every invalidation Redis sent this connection before it has been handled.
      const space = message.indexOf(' ');
      if (space <= 0) return true;
      const nonce = message.slice(0, space);
      const replyTo = message.slice(space + 1);
      if (replyTo === opts.ackChannel) acked(nonce); // our own: no round trip
      else opts.publishAck(replyTo, nonce).catch((err: Error) => opts.onError?.(err));
      return true;
    },
    async wait() {
      const nonce = randomBytes(8).toString('hex');
      let timer: NodeJS.Timeout | undefined;
      // Acks may arrive (on the tracking connection) before PUBLISH's answer (on the data connection).
      const w: Waiter = { acked: 0, expected: null, done: () => {} };
      const acks = new Promise<boolean>((resolve) => {
        w.done = () => resolve(true);
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      waiting.set(nonce, w);
      opts.publishFence(`${nonce} ${opts.ackChannel}`).then((expected) => {
        w.expected = expected;
        if (w.acked >= expected) w.done();
      }, (err: Error) => {
        opts.onError?.(err); // nobody can be asked: the write's own invalidations are all there is
        w.done();
      });
      try {
        if (!(await acks)) opts.onTimeout?.({ expected: w.expected, acked: w.acked });
      } finally {
        clearTimeout(timer);
        waiting.delete(nonce);
      }
    },
  };
}

/**
 * PUBLISH `message` on `channel`; answers how many connections SUBSCRIBEd to that very channel received
 * it. PUBLISH's own answer also counts every PSUBSCRIBE whose pattern matches (an operator's
 * `redis-cli psubscribe '*'`, a monitoring tool): receivers that never ack, so each fence would wait
 * out its timeout. PUBSUB NUMSUB, in the same MULTI, counts the exact ones at that same instant.
 */
export async function publishToSubscribers(redis: Redis, channel: string, message: string): Promise<number> {
  const replies = await redis.multi().publish(channel, message).pubsub('NUMSUB', channel).exec();
  const [published, numsub] = replies ?? [];
  const err = published?.[0] ?? numsub?.[0];
  if (err) throw err;
  const count = Number((numsub?.[1] as [string, number] | undefined)?.[1]); // NUMSUB answers [channel, count]
  if (!Number.isInteger(count)) throw new Error('PUBSUB NUMSUB: no count');
  return count;
}

/**
 * A web or worker process's fence: acks on a channel of its own, publishes on `redis`, which must be
 * the connection the session store writes on (the fence follows the write's reply on it, above).
 */
export function createProcessFence(args: { prefix: string; redis: Redis; timeoutMs: number; logger: Logger }): EndingFence {
  const keys = sessionKeys(args.prefix);
  const { logger } = args;
  return createEndingFence({
    channel: keys.fenceChannel,
    ackChannel: keys.fenceAckChannel(randomBytes(8).toString('hex')),
    publishFence: (message) => publishToSubscribers(args.redis, keys.fenceChannel, message),
    publishAck: (ackChannel, nonce) => args.redis.publish(ackChannel, nonce),
    timeoutMs: args.timeoutMs,
    onTimeout: (detail) => logger.warn(detail, 'session end: not every process confirmed dropping its cached copy in time; answering anyway'),
    onError: (err) => logger.warn({ err: { message: err.message } }, 'session end: fence message not published'),
  });
}
