import { Queue, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { redisScript } from '../redisScript.js';
import { quietQueue } from '../redis.js';
import { deploymentKeys } from '../deployments/storeKeys.js';

export const DEPLOY_QUEUE = 'deploys';

/**
 * Job data: ids only, plus the record's requestMac (a MAC, not a secret), which ties the job to the
 * record it was made for. The worker reloads everything else, verifies it, and reads the key from
 * the session.
 */
export interface DeployJobData {
  deploymentId: string;
  userId: number;
  requestMac: string;
  /** A canceled deployment's follow-up has listed the deploy it owes a cancel (workers/tasks/canceledAsk.ts). */
  owedDeployListed?: boolean;
}

/**
 * BullMQ prefix. The braces are a Redis Cluster hash tag: every key of the queue lands in one slot,
 * which BullMQ's multi-key Lua scripts need on a cluster.
 */
export const queuePrefix = (redisPrefix: string) => `{${redisPrefix}-bull}`;

export function createDeployQueue(connection: Redis | ConnectionOptions, redisPrefix: string, retryBackoffMs = 2_000): Queue<DeployJobData> {
  return quietQueue(new Queue<DeployJobData>(DEPLOY_QUEUE, {
    connection,
    prefix: queuePrefix(redisPrefix),
    defaultJobOptions: {
      // Render/GitHub hiccups (5xx, network): `attempts` is how many failures IN A ROW end a deployment, and
      // `backoff` the wait after each, from that count (workers/tasks/upstreamFailures.ts). The deploy task
      // retries them as delayed jobs itself: BullMQ's count is the job's lifetime, hours of watching, never
      // given back. BullMQ retries only what a run throws before it can count (Redis failing). Waiting
      // (watching, budget) uses delays, not attempts.
      attempts: 8,
      backoff: { type: 'exponential', delay: retryBackoffMs, jitter: 0.5 },
      removeOnComplete: { age: 3_600, count: 5_000 },
      removeOnFail: { age: 7 * 24 * 3_600 },
    },
  }));
}

/** How long stopping a deployment waits for a worker's running step on its job (a Render call is bounded well below). */
const RUNNING_STEP_WAIT_MS = 5_000;

/**
 * Remove a deployment's job after its record became final (canceled, revoked), so nothing is left
 * queued or delayed that would act for it later. BullMQ refuses to remove a job a worker holds
 * (active, locked): the step running now ends at its next write (the record is final) and then the
 * job is delayed or completed, which is removable; so the lock is waited on, for at most waitMs. A
 * job still locked then (a stuck or dead worker) stops itself at its next run, which finds the record final.
 * Returns whether the job is gone.
 */
export async function removeDeployJob(queue: Queue<DeployJobData>, deploymentId: string, waitMs = RUNNING_STEP_WAIT_MS): Promise<boolean> {
  const end = Date.now() + waitMs;
  for (;;) {
    const removed = await queue.remove(deploymentId).catch(() => 0);
    if (removed === 1) return true; // removed, or there was no such job
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The deployment's job, run again now (its record was just canceled, and its job has a deploy on Render
 * to cancel: server/deployments/cancel.ts): whatever state its job is in (delayed, waiting, completed) it
 * is replaced by a fresh one. A job a worker still holds after RUNNING_STEP_WAIT_MS is left: that run
 * reads the record at its end and goes on from what it finds. One a run held after the cancel was written
 * that then completed or failed is left too: that run ended by reading the canceled record and followed
 * it up itself (workers/tasks/deployTask.ts runEnded); run again, the job would follow it up a second time,
 * after the first had ended a per-request key session, and say the key was gone.
 */
export async function requeueDeployJob(queue: Queue<DeployJobData>, data: DeployJobData): Promise<void> {
  const end = Date.now() + RUNNING_STEP_WAIT_MS;
  let held = false;
  for (;;) {
    const state = await queue.getJobState(data.deploymentId).catch(() => 'unknown');
    if (state === 'active' || (state !== 'unknown' && (await queue.remove(data.deploymentId).catch(() => 0)) !== 1)) {
      // Held by a run (or taken by one just now: it starts by reading the canceled record).
      held = true;
      if (Date.now() >= end) return;
      await new Promise((r) => setTimeout(r, 25));
      continue;
    }
    if (held && (state === 'completed' || state === 'failed')) return; // removed, and already followed up by its run
    await queue.add('deploy', data, { jobId: data.deploymentId });
    return;
  }
}

/**
 * Lua: add a job to its user's pending set and count them. A script, not a MULTI: ioredis writes a
 * MULTI on its own, while a script joins the auto-pipelined write of the record it goes with.
 * KEYS: the user's pending zset. ARGV: now, deployment id, ttl ms.
 */
const countPending = redisScript(`
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return redis.call('ZCARD', KEYS[1])`);

/**
 * Fair enqueue. BullMQ OSS has no per-tenant groups, so fairness comes from priorities: a job's
 * priority is 1 + the number of that user's jobs still waiting to start. A lone tenant's deploy gets
 * priority 1 and overtakes the tail of another tenant's 200-deploy burst (whose jobs are 1..200).
 */
export function createFairEnqueuer(opts: { queue: Queue<DeployJobData>; redis: Redis; prefix: string }) {
  const pendingKey = deploymentKeys(opts.prefix).pending;
  return {
    /**
     * `after`: what must be stored before the job exists (its record). The user's count is taken
     * meanwhile, so on an auto-pipelined connection both go out in one round trip; the job is added
     * only once `after` resolved, and not at all when it failed.
     */
    async enqueue(data: DeployJobData, o: { after?: Promise<unknown> } = {}): Promise<void> {
      const key = pendingKey(data.userId);
      const [count] = await Promise.all([countPending(opts.redis, [key], [Date.now(), data.deploymentId, 7 * 24 * 3_600_000]), o.after]);
      await opts.queue.add('deploy', data, { jobId: data.deploymentId, priority: Math.min(Math.max(1, Number(count) || 1), 2_000_000) });
    },
    /** The job started: it no longer counts against its user's priority. */
    async started(data: Pick<DeployJobData, 'deploymentId' | 'userId'>): Promise<void> {
      await opts.redis.zrem(pendingKey(data.userId), data.deploymentId);
    },
  };
}

export type FairEnqueuer = ReturnType<typeof createFairEnqueuer>;
