import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { queuePrefix } from './deployQueue.js';
import { quietQueue } from '../redis.js';
import type { AppConfig } from '../config/env.js';
import type { Logger } from '../logger.js';
import { isTerminal, type DeploymentRecord } from '../deployments/types.js';
import { commitStatusState } from './commitStatusState.js';

export const COMMIT_STATUS_QUEUE = 'commit-statuses';

/** Which status a job posts: `pending` once the commit is checked, `final` when the deploy ended. */
export type CommitStatusPhase = 'pending' | 'final';

/**
 * Job data: ids only, like a deploy job's, plus the record's requestMac (not a secret) tying the job
 * to its record. The job's name is its phase; the worker reloads the record and the session's token.
 */
export interface CommitStatusJobData {
  deploymentId: string;
  userId: number;
  requestMac: string;
}

/** One job per deployment and phase (BullMQ refuses ':' in custom ids). */
export const commitStatusJobId = (deploymentId: string, phase: CommitStatusPhase) => `${deploymentId}-${phase}`;

/**
 * Commit statuses have their own queue so that a deploy step never waits on GitHub: GitHub wants
 * writes for one user spaced a second apart, and a tenant's burst of deploys would otherwise hold every
 * deploy slot while its statuses queued (workers/tasks/commitStatus.ts). A status is best effort: a
 * few retries for GitHub hiccups, and nothing is kept once it is done.
 */
export function createCommitStatusQueue(connection: Redis, redisPrefix: string): Queue<CommitStatusJobData> {
  return quietQueue(new Queue<CommitStatusJobData>(COMMIT_STATUS_QUEUE, {
    connection,
    prefix: queuePrefix(redisPrefix),
    defaultJobOptions: {
      attempts: 4,
      backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 },
      removeOnComplete: true,
      removeOnFail: { age: 24 * 3_600 },
    },
  }));
}

/** What asking for a status needs: the worker's context, or the shared dependencies (server/system.ts). */
export interface CommitStatusAsker {
  /** Unset: no status is asked for. */
  commitStatusQueue?: Queue<CommitStatusJobData>;
  redis: Redis;
  config: Pick<AppConfig, 'redisPrefix'>;
  logger: Logger;
  /** How long after it is asked a pending status is due (the worker's write spacing; 0: at once). */
  commitStatusPendingDelayMs?: number;
}

/**
 * GitHub commit status on the deployed commit (issue 15): `pending` once the commit is checked and the
 * service is about to be created, `success` when the deploy goes live, `failure` otherwise, each linking
 * to the deployment page. Only with a token that has the repo or repo:status scope; skipped quietly
 * otherwise (a token without scopes, a fine-grained token, a commit GitHub does not know). Best effort:
 * a failure here is logged and never changes the deployment.
 *
 * A deploy step (or the web process ending a deployment) only asks for a status (a job on the
 * commit-statuses queue, jobs hold ids only; workers/tasks/commitStatus.ts posts it) and
 * goes on: GitHub paces one user's writes a second apart, and awaited in the step a tenant's burst held
 * every deploy slot. Each state is asked for once per deployment, and a job is added only when no job
 * of the deployment is posting already (commitStatusState.ts): a deploy that ends before its pending
 * status went out costs one job and one post, the final one.
 */
export async function requestCommitStatus(ctx: CommitStatusAsker, rec: DeploymentRecord, phase: CommitStatusPhase): Promise<void> {
  if (!ctx.commitStatusQueue || !commitOf(rec) || (phase === 'final' && !isTerminal(rec.status))) return;
  // The commit's status is the deployment's in flight (githubSteps.ts): a success here could go out before its build failed.
  if (rec.failure?.code === 'commit_already_deploying') return;
  const state = commitStatusState(ctx.redis, ctx.config.redisPrefix, rec.id);
  let owner = false;
  try {
    if (!(owner = await state.ask(phase))) return;
    const data: CommitStatusJobData = { deploymentId: rec.id, userId: rec.userId, requestMac: rec.requestMac };
    // BullMQ's delayed set is in real time: the job's timestamp and its delay come from one reading.
    const now = Date.now();
    const delay = phase === 'pending' ? pendingStatusDelayMs(now, ctx.commitStatusPendingDelayMs ?? 0) : 0;
    await ctx.commitStatusQueue.add(phase, data, { jobId: commitStatusJobId(rec.id, phase), ...(delay > 0 ? { delay, timestamp: now } : {}) });
  } catch (err) {
    ctx.logger.warn({ deploymentId: rec.id, phase, err: { message: (err as Error).message } }, 'commit status not requested');
    // No job will post it: let go, so that a later status of this deployment gets a job of its own.
    if (owner) await state.done(phase).catch(() => undefined);
  }
}

/**
 * How long after `nowMs` a pending status asked then is due: a write spacing, so that a deploy ending
 * sooner (a fast failure, an instant deploy) gets one job and one post, its final status; rounded up to
 * a multiple of half a spacing, so that pending statuses asked one at a time (deploys requested a few a
 * second) come due together and the status worker takes them with shared wake-ups and round trips, as
 * it does a burst's: due one by one they cost the worker about twice as much each (bench/README,
 * pipeline). At most a spacing and a half; 0 without pacing (nothing to wait for).
 */
export function pendingStatusDelayMs(nowMs: number, spacingMs: number): number {
  if (spacingMs <= 0) return 0;
  const step = Math.max(1, Math.floor(spacingMs / 2));
  const due = nowMs + spacingMs;
  return spacingMs + ((step - (due % step)) % step);
}

/** The commit the status goes on, when the record knows one and names an owner/repo. */
export function commitOf(rec: DeploymentRecord): string | null {
  if (!rec.request.githubRepo.includes('/')) return null;
  return rec.commitSha ?? rec.renderCommitId ?? null;
}
