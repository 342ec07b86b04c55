import type { Job } from 'bullmq';
import { GitHubError } from '../../server/github/client.js';
import { safeEqual } from '../../server/crypto/keyring.js';
import { openGithubToken } from '../../server/sessions/credentials.js';
import { isTerminal, type DeploymentRecord } from '../../server/deployments/types.js';
import { commitStatusJobId, type CommitStatusJobData, type CommitStatusPhase } from '../../server/queues/commitStatusQueue.js';
import type { WorkerContext } from '../context.js';
import type { WritePacer } from './writePacer.js';
import { delayJob } from './delayJob.js';

/** The status's name on the commit (one line per context in GitHub's checks list). */
const COMMIT_STATUS_CONTEXT = 'render-orchestrator';
/** Scopes that may write commit statuses (GitHub: `repo:status`, or `repo` which includes it). */
const STATUS_SCOPES = ['repo', 'repo:status'];
/** Job states in which a pending status may still be posted: a final one waits for it. */
const UNFINISHED = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);
/** Longest pacing wait a status job sleeps through holding its slot (about one write spacing). */
const HELD_WAIT_MAX_MS = 1_100;

/**
 * GitHub commit status on the deployed commit (issue 15): `pending` once the commit is checked and the
 * service is about to be created, `success` when the deploy goes live, `failure` otherwise, each linking
 * to the deployment page. Only with a token that has the repo or repo:status scope; skipped quietly
 * otherwise (a token without scopes, a fine-grained token, a commit GitHub does not know). Best effort:
 * a failure here is logged and never changes the deployment.
 *
 * The deploy step only asks for a status (a job on the commit-statuses queue, jobs hold ids only) and
 * goes on: GitHub paces one user's writes a second apart, and awaited in the step a tenant's burst held
 * every deploy slot. Each state is asked for once per deployment: the marker is written here, in the
 * deploy job, so a status job leaves no key of its own behind (only BullMQ's, under the queue prefix).
 */
export async function requestCommitStatus(ctx: WorkerContext, rec: DeploymentRecord, phase: CommitStatusPhase): Promise<void> {
  if (!ctx.commitStatusQueue || !commitOf(rec) || (phase === 'final' && !isTerminal(rec.status))) return;
  try {
    const once = await ctx.redis.set(`${ctx.config.redisPrefix}:deployment:${rec.id}:commit-status:${phase}`, '1', 'EX', 7 * 24 * 3600, 'NX');
    if (once !== 'OK') return;
    const data: CommitStatusJobData = { deploymentId: rec.id, userId: rec.userId, requestMac: rec.requestMac };
    await ctx.commitStatusQueue.add(phase, data, { jobId: commitStatusJobId(rec.id, phase) });
  } catch (err) {
    ctx.logger.warn({ deploymentId: rec.id, phase, err: { message: (err as Error).message } }, 'commit status not requested');
  }
}

/**
 * One status job: reload the record (gone or not this job's → nothing to do), wait for the pending
 * status before the final one, take the GitHub token from the requesting session (ended → skipped:
 * a token is never kept anywhere else), keep the user's writes a second apart, post.
 */
export async function runCommitStatusJob(ctx: WorkerContext, job: Job<CommitStatusJobData>, token: string | undefined, pacer: WritePacer | null): Promise<void> {
  const phase: CommitStatusPhase = job.name === 'final' ? 'final' : 'pending';
  const { deploymentId, userId, requestMac } = job.data;
  const rec = await ctx.deployments.get(deploymentId);
  if (!rec || rec.userId !== userId || typeof requestMac !== 'string' || !safeEqual(requestMac, rec.requestMac)) return;
  if (job.id !== commitStatusJobId(rec.id, phase)) return;
  const queue = ctx.commitStatusQueue;
  if (!queue) return;
  if (phase === 'final' && UNFINISHED.has(await queue.getJobState(commitStatusJobId(rec.id, 'pending')))) return delayJob(job, token, 1_000);
  let githubToken = await sessionToken(ctx, rec);
  if (!githubToken) return;
  // A wait up to one write spacing is slept in the slot (a delayed job costs a BullMQ round trip more);
  // a longer one, a tenant's burst queuing, is a delayed job so the slot serves other tenants.
  let slept = false;
  for (let wait = pacer?.book(rec.userId, job.id) ?? 0; wait > 0; wait = pacer!.book(rec.userId, job.id)) {
    if (wait > HELD_WAIT_MAX_MS) return delayJob(job, token, wait);
    await new Promise((resolve) => setTimeout(resolve, wait));
    slept = true;
  }
  // The session may have ended during the wait (sign-out): the token is read again, never used after its session ended.
  if (slept && !(githubToken = await sessionToken(ctx, rec))) return;
  const gh = ctx.upstream.github(githubToken);
  const state = phase === 'pending' ? 'pending' : rec.status === 'live' || rec.status === 'deactivated' ? 'success' : 'failure';
  const log = ctx.logger.child({ deploymentId: rec.id, userId: rec.userId });
  try {
    const scopes = await gh.tokenScopes();
    if (!scopes || !scopes.some((s) => STATUS_SCOPES.includes(s))) {
      log.debug({ state }, 'commit status skipped: the GitHub token cannot write statuses');
      return;
    }
    const [owner, name] = rec.request.githubRepo.split('/') as [string, string];
    await gh.createCommitStatus(owner, name, commitOf(rec)!, {
      state,
      targetUrl: `${ctx.config.baseUrl}/#/deployments/${rec.id}`,
      description: describe(rec, state),
      context: COMMIT_STATUS_CONTEXT,
    });
  } catch (err) {
    const kind = err instanceof GitHubError ? err.kind : 'unknown';
    const retry = (kind === 'unavailable' || kind === 'rate_limited') && job.attemptsMade + 1 < (job.opts.attempts ?? 1);
    log.warn({ state, kind, retry }, 'commit status not posted');
    // BullMQ keeps a failed job's message and stack (not its cause): ours names the kind only.
    if (retry) throw new Error(`GitHub ${kind}`, { cause: err });
  }
}

/** The commit the status goes on, when the record knows one and names an owner/repo. */
function commitOf(rec: DeploymentRecord): string | null {
  if (!rec.request.githubRepo.includes('/')) return null;
  return rec.commitSha ?? rec.renderCommitId ?? null;
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
  if (state === 'success') return `${name} is live on Render`;
  return `Deploy of ${name} ended: ${rec.failure?.code ?? rec.status}`;
}
