import { DelayedError, type Job } from 'bullmq';
import { GitHubError } from '../../server/github/client.js';
import { safeEqual } from '../../server/crypto/keyring.js';
import { openGithubToken } from '../../server/sessions/credentials.js';
import { isTerminal, nothingToDeploy, wentLiveAfterCancel, type DeploymentRecord } from '../../server/deployments/types.js';
import { commitOf, commitStatusJobId, type CommitStatusJobData, type CommitStatusPhase } from '../../server/queues/commitStatusQueue.js';
import { commitStatusState } from '../../server/queues/commitStatusState.js';
import type { WorkerContext } from '../context.js';
import type { WritePacer } from './writePacer.js';
import type { ScopeCache } from './scopeCache.js';
import { delayJob } from './delayJob.js';

/**
 * The status's name on the commit (one line per context in GitHub's checks list), one per service:
 * GitHub keeps the newest status of each context, so with one context for all, a second service
 * deployed from the same commit (a monorepo, scripts/ci-deploy.mjs with a SERVICE_NAME each) put its
 * success over the first one's failure and the commit showed green. A name is unique in a workspace
 * only, so the workspace's id is part of it: `app` in staging and `app` in prod (or in a collaborator's
 * own account) each keep their own result.
 */
const commitStatusContext = (rec: DeploymentRecord) => `render-orchestrator/${rec.request.serviceName} (${rec.request.ownerId})`;
/** The context before it named the workspace: a deploy whose pending status went out under it gets its final one there too. */
const contextBefore = (rec: DeploymentRecord) => `render-orchestrator/${rec.request.serviceName}`;
/** Scopes that may write commit statuses (GitHub: `repo:status`, or `repo` which includes it). */
const STATUS_SCOPES = ['repo', 'repo:status'];

/** The longest GitHub rate-limit wait a status job sits out at once (an hourly limit's reset, at most an hour). */
const STATUS_LIMIT_WAIT_MAX_MS = 3_600_000;
/** A status job still waiting out rate limits this long after it was asked gives the status up, as after its attempts. */
const STATUS_GIVE_UP_MS = 6 * 3_600_000;

/** What a status job uses besides the worker context: the process's write pacer (null: no pacing) and scope cache. */
export interface CommitStatusRunner { pacer: WritePacer | null; scopes: ScopeCache }

/**
 * One status job, the deployment's only poster while it runs: post the state the record is in now
 * (a final status supersedes a pending one not yet posted), and go on while a final status asked
 * meanwhile is still owed. Waiting for the user's turn is a delayed job or, up to about a spacing, a
 * sleep in the slot; a woken job starts over from the record, so it posts what is current then.
 */
export async function runCommitStatusJob(ctx: WorkerContext, job: Job<CommitStatusJobData>, token: string | undefined, run: CommitStatusRunner): Promise<void> {
  const phase: CommitStatusPhase = job.name === 'final' ? 'final' : 'pending';
  let rec = await ownRecord(ctx, job.data);
  if (!rec || job.id !== commitStatusJobId(rec.id, phase)) return;
  const state = commitStatusState(ctx.redis, ctx.config.redisPrefix, rec.id);
  let waiting = false;
  try {
    for (;;) {
      const handled = await postCurrent(ctx, job, token, rec, run);
      if (await state.done(handled)) return;
      // A final status was asked while this job posted the pending one: the record has ended since.
      if (!(rec = await ownRecord(ctx, job.data))) return;
    }
  } catch (err) {
    waiting = err instanceof DelayedError;
    throw err;
  } finally {
    // Only a job waiting as a delayed job keeps its place in the user's line; one that ended before its
    // turn (session gone, no scope) would otherwise hold up the jobs behind it until its place went stale.
    if (!waiting) run.pacer?.leave(job.data.userId, job.id);
  }
}

/**
 * A status job failed for good (Redis failing on every attempt, stalled too often): it never reached
 * DONE, so its ownership is let go here, and a final status it would have gone on to post gets a job
 * of its own. Best effort like the status itself: a failure here is logged.
 */
export async function commitStatusJobFailed(ctx: WorkerContext, job: Job<CommitStatusJobData>): Promise<void> {
  const phase: CommitStatusPhase = job.name === 'final' ? 'final' : 'pending';
  // A job's data is whatever Redis holds (a Redis writer's null included): read, never assumed.
  const deploymentId: unknown = (job.data as Partial<CommitStatusJobData> | null)?.deploymentId;
  if (typeof deploymentId !== 'string' || job.id !== commitStatusJobId(deploymentId, phase)) return;
  const state = commitStatusState(ctx.redis, ctx.config.redisPrefix, deploymentId);
  const warn = (err: unknown) => ctx.logger.warn({ deploymentId, phase, err: { message: (err as Error).message } }, 'commit status job failed for good: ownership not handed on');
  const owed = await state.failed(phase).catch((err: unknown) => { warn(err); return false; });
  if (!owed) return;
  try {
    if (!ctx.commitStatusQueue) throw new Error('no commit status queue');
    await ctx.commitStatusQueue.add('final', job.data, { jobId: commitStatusJobId(deploymentId, 'final') });
  } catch (err) {
    warn(err);
    await state.done('final').catch(() => undefined);
  }
}

/** Failed jobs read per page by the sweep at worker start. */
const SWEEP_PAGE = 200;

/**
 * Worker start: a process that died after BullMQ failed a status job for good and before its `failed`
 * handler ran left the deployment owned for ever, its final status never posted. Every failed status job
 * BullMQ still keeps (removeOnFail: a day) is handled again here; a job whose ownership was already let
 * go or handed on costs one script call and changes nothing (the FAILED script checks the owner).
 * Resolves with the number of failed jobs looked at.
 */
export async function sweepFailedCommitStatusJobs(ctx: WorkerContext): Promise<number> {
  const queue = ctx.commitStatusQueue;
  if (!queue) return 0;
  for (let seen = 0; ;) {
    const page = await queue.getFailed(seen, seen + SWEEP_PAGE - 1);
    // One job's failure (its data unreadable, Redis failing for it) does not leave the jobs after it unswept.
    for (const job of page) if (job) await commitStatusJobFailed(ctx, job).catch((err: unknown) => ctx.logger.warn({ jobId: job.id, err: { message: (err as Error).message } }, 'a failed commit status job was not swept'));
    seen += page.length;
    if (page.length < SWEEP_PAGE) return seen;
  }
}

/** The job's record, when it still exists and is the one the job was made for. */
async function ownRecord(ctx: WorkerContext, data: CommitStatusJobData | null): Promise<DeploymentRecord | null> {
  if (typeof data?.deploymentId !== 'string') return null; // not a job of ours (a Redis writer's): nothing to do
  const rec = await ctx.deployments.get(data.deploymentId);
  if (!rec || rec.userId !== data.userId || typeof data.requestMac !== 'string' || !safeEqual(data.requestMac, rec.requestMac)) return null;
  return rec;
}

/**
 * Post the status for the record's state once it is the user's turn; resolves with the phase handled
 * (posted, or given up: no token, no scope, a refusal, retries spent). Throws to wait (DelayedError) or
 * to have BullMQ retry a GitHub hiccup.
 */
async function postCurrent(ctx: WorkerContext, job: Job<CommitStatusJobData>, token: string | undefined, rec: DeploymentRecord, run: CommitStatusRunner): Promise<CommitStatusPhase> {
  const phaseOf = (r: DeploymentRecord): CommitStatusPhase => (isTerminal(r.status) ? 'final' : 'pending');
  const log = () => ctx.logger.child({ deploymentId: rec.id, userId: rec.userId }); // only when something is logged
  let githubToken = await sessionToken(ctx, rec);
  if (!githubToken) return phaseOf(rec);
  try {
    const gh = ctx.upstream.github(githubToken, { writesPacedByCaller: true });
    const scopes = await run.scopes.scopesOf(githubToken, () => gh.tokenScopes());
    if (!scopes || !scopes.some((s) => STATUS_SCOPES.includes(s))) {
      log().debug({ phase: phaseOf(rec) }, 'commit status skipped: the GitHub token cannot write statuses');
      return phaseOf(rec);
    }
    const { pacer } = run;
    let slept = false;
    for (let wait = pacer?.book(rec.userId, job.id!) ?? 0; wait > 0; wait = pacer!.book(rec.userId, job.id!)) {
      if (wait > pacer!.holdMaxMs) return await delayJob(job, token, wait);
      await new Promise((resolve) => setTimeout(resolve, wait));
      slept = true;
    }
    try {
      // After a wait the record may have ended (its final status goes instead of the pending one), and the
      // session may have ended (sign-out): the token is read again, never used after its session ended.
      if (slept) {
        const now = await ownRecord(ctx, job.data);
        if (!now || !(githubToken = await sessionToken(ctx, now))) return phaseOf(now ?? rec);
        rec = now;
      }
      await postStatus(ctx, slept ? ctx.upstream.github(githubToken, { writesPacedByCaller: true }) : gh, rec);
    } finally {
      pacer?.wrote(rec.userId);
    }
  } catch (err) {
    if (err instanceof DelayedError) throw err;
    // GitHub's rate limit with a wait it states or implies (a secondary limit's "at least a minute"): sat out as
    // a delayed job, as the deploy job does. BullMQ's backoff (2 s doubling, 4 attempts) spent every attempt
    // inside GitHub's minute, each one more write against the limit, and then the status was given up.
    if (err instanceof GitHubError && err.kind === 'rate_limited' && err.retryAfterSeconds !== undefined && ctx.clock.now() - job.timestamp < STATUS_GIVE_UP_MS) {
      log().warn({ phase: phaseOf(rec), retryAfterSeconds: err.retryAfterSeconds }, 'commit status waits out GitHub\'s rate limit');
      return await delayJob(job, token, Math.min(err.retryAfterSeconds * 1000, STATUS_LIMIT_WAIT_MAX_MS) + Math.floor(Math.random() * 1000));
    }
    const kind = err instanceof GitHubError ? err.kind : 'unknown';
    const retry = (kind === 'unavailable' || kind === 'rate_limited') && job.attemptsMade + 1 < (job.opts.attempts ?? 1);
    log().warn({ phase: phaseOf(rec), kind, retry }, 'commit status not posted');
    // GitHub refused the session's token: the session is over, as when a route meets the refusal.
    if (kind === 'unauthorized' && githubToken) await ctx.githubTokenRefused?.(rec, githubToken);
    // BullMQ keeps a failed job's message and stack (not its cause): ours names the kind only.
    if (retry) throw new Error(`GitHub ${kind}`, { cause: err });
  }
  return phaseOf(rec);
}

async function postStatus(ctx: WorkerContext, gh: ReturnType<WorkerContext['upstream']['github']>, rec: DeploymentRecord): Promise<void> {
  // A redeploy that found its commit (or a newer one) live deployed nothing: not a red cross on the commit;
  // nor one whose deploy went live on Render before its cancel could stop it: the commit runs.
  const state = !isTerminal(rec.status) ? 'pending'
    : rec.status === 'live' || rec.status === 'deactivated' || nothingToDeploy(rec) || wentLiveAfterCancel(rec) ? 'success' : 'failure';
  const [owner, name] = rec.request.githubRepo.split('/') as [string, string];
  const status = { state, targetUrl: `${ctx.config.baseUrl}/#/deployments/${rec.id}`, description: describe(rec, state) } as const;
  await gh.createCommitStatus(owner, name, commitOf(rec)!, { ...status, context: commitStatusContext(rec) });
  if (state !== 'pending' && await commitStatusState(ctx.redis, ctx.config.redisPrefix, rec.id).pendingUnderOldContext()) {
    await gh.createCommitStatus(owner, name, commitOf(rec)!, { ...status, context: contextBefore(rec) });
  }
}

/** The GitHub token of the session that asked for the deploy (still that user's), or null. */
async function sessionToken(ctx: WorkerContext, rec: DeploymentRecord): Promise<string | null> {
  const sess = await ctx.sessions.loadByRef(rec.sessionRef);
  if (!sess?.user || sess.user.id !== rec.userId) return null;
  return openGithubToken(sess, ctx.keyring);
}

function describe(rec: DeploymentRecord, state: string): string {
  const name = rec.request.serviceName;
  if (state === 'pending') return `Deploying ${name} to Render`;
  if (rec.failure?.code === 'newer_commit_live') return `${name}: not deployed, a newer commit is live on Render`;
  if (rec.failure?.code === 'newer_commit_deploying') return `${name}: not deployed, a newer commit is being deployed on Render`;
  if (wentLiveAfterCancel(rec)) return `${name} went live on Render: canceled here too late to stop it`;
  if (state === 'success') return `${name} is live on Render`;
  return `Deploy of ${name} ended: ${rec.failure?.code ?? rec.status}`;
}
