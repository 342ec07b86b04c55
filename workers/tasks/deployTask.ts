import { DelayedError, type Job } from 'bullmq';
import { RenderApiError, type RenderClient } from '../../server/render/client.js';
import { BudgetExhausted } from '../../server/render/budget.js';
import { RENDER_WAIT_MAX_MS } from '../../server/render/rate-limit.js';
import { noteKeyRejected, renderRefusedKey } from '../../server/render/keyRejected.js';
import { GitHubError, RootTooLargeError } from '../../server/github/client.js';
import { StackDetectionError } from '../../server/stacks/detect.js';
import { RENDER_PROGRESS, isTerminal, type DeploymentRecord, type DeploymentStatus, type DeploymentFailure } from '../../server/deployments/types.js';
import { RecordTamperedError } from '../../server/deployments/integrity.js';
import type { DeployJobData } from '../../server/queues/deployQueue.js';
import type { WorkerContext } from '../context.js';
import { credentialsOrWhyNot, type JobCredentials } from './credentials.js';
import { DeployFailed } from './deployFailed.js';
import { jobDeploymentId, verifiedRecord } from './verifyJob.js';
import { detect, verifyRedeployCommit, verifyRepo } from './githubSteps.js';
import { createOrAdoptService, serviceListChanged } from './createService.js';
import { triggerDeploy, watch, watchBoundAt } from './renderDeploy.js';
import { finish } from './finishDeploy.js';
import { requestCommitStatus } from '../../server/queues/commitStatusQueue.js';
import { delayJob } from './delayJob.js';
import { createRunBudget, type TakeAhead } from './runBudget.js';
import { serviceGoneFailure } from './serviceGone.js';
import { followCanceledAsk } from './canceledAsk.js';
import { cancelOwedOnRender, canceledWhileAsking, lostCreationMayExist } from '../../server/deployments/cancel.js';
import { revokedFailure } from '../../server/deployments/revocation.js';
import { JobTakenOver, fencedRenderWrites } from './jobFence.js';
import { clearUpstreamFailures, countUpstreamFailure, retryDelayMs, upstreamFailuresBefore } from './upstreamFailures.js';

// The steps live by what they talk to: githubSteps.ts (verify, detect), createService.ts (the service),
// renderDeploy.ts (trigger, watch), finishDeploy.ts (the final status); this file runs them.

/**
 * One deployment, as a resumable state machine. Each run reloads the record and continues from its
 * status; every fact Render hands back (service id, deploy id) is recorded before the next call, so a
 * worker killed anywhere resumes without creating a second service. Waiting (deploy progress, the
 * per-key budget, Render's Retry-After) is a delayed job, never a held worker slot.
 */
export async function runDeployJob(ctx: WorkerContext, job: Job<DeployJobData>, token: string | undefined): Promise<void> {
  // Render's or GitHub's failures in a row before this run (upstreamFailures.ts), asked for in the same
  // write as the record's read below: only a deployment that has some pays a write to clear them.
  const failuresBefore = upstreamFailuresBefore(ctx, jobDeploymentId(job));
  // Integrity first (verifyJob.ts): an unsigned or altered record or job is refused before any call.
  const rec = await verifiedRecord(ctx, job);
  if (!rec) return; // vanished or refused (a refused one's env values are dropped there)
  // Ended before this job's first run took it off its user's pending count (a cancel while the orphan sweep
  // added the job back: the cancel's write took the id off, the sweep's add put it back), it would stay
  // there for good, each later deploy of the user a step lower in the queue. Taken off again: one ZREM.
  if (isTerminal(rec.status)) await ctx.enqueuer.started({ deploymentId: rec.id, userId: rec.userId });
  // Already over: ended elsewhere (a cancel, a revocation), whose write deleted its env values. Only a
  // record ended by an older version (its end and its drop were two steps) may still have them.
  // One canceled while its deploy was unnamed to us (queued by Render, the ask on its way, or a new
  // service's first deploy) or waited in Render's queue looks for that deploy to cancel it there; one
  // canceled while its creation's answer may have been lost looks its service up first.
  if (cancelOwedOnRender(rec) || await lostCreationMayExist(ctx.deployments, rec)) return followCanceledAsk(ctx, job, token, rec);
  // Its final commit status is asked too: once per deployment, so nothing more when whoever ended it asked
  // (the web does on a cancel or a cleared key: cancel.ts, requests.ts), and here for a job it could not remove.
  if (isTerminal(rec.status)) {
    await ctx.envVault.drop(rec.id);
    return requestCommitStatus(ctx, rec, 'final');
  }
  const { id: deploymentId, userId } = rec;
  // Made only when something is logged: a child logger per run (most runs log nothing) was 0.4% of the worker's busy time.
  const log = () => ctx.logger.child({ deploymentId, userId });
  // A first run's first step (a deploy's verifying, another kind's triggering_deploy) is written
  // without waiting for the credentials: awaited in the step's place below, its write shares their
  // read's round trip. Without credentials the record then goes on from that step to revoked.
  const first = rec.status === 'queued' ? ctx.deployments.transition(rec.id, rec.kind === 'deploy' ? 'verifying' : 'triggering_deploy', 'orchestrator') : null;
  first?.catch(() => undefined); // its failure is the step's, handled where it is awaited
  // Together: one round trip on the worker's auto-pipelined connection when the session is not cached.
  // The job leaves its user's pending count on its first run, which is the only one that finds the
  // record queued (each run takes this before any step), or a deploy's retry that finds it verifying
  // (the take may have failed with that run): a later run (each watch check) has nothing to take.
  const [, creds] = await Promise.all([rec.status === 'queued' || rec.status === 'verifying' ? ctx.enqueuer.started({ deploymentId, userId }) : null, credentialsOrWhyNot(ctx, rec)]);
  if (typeof creds === 'string') {
    await first?.catch(() => null);
    // The session ended on its own (expiry) or the key went: the deploy stops here (its env values go
    // with the write); one Render already has is not canceled there, and the reason says so (revocation.ts).
    const ended = await ctx.deployments.transition(rec.id, 'credentials_revoked', 'orchestrator', (now) => ({ failure: revokedFailure(now, creds === 'key_replaced' ? 'workerKeyChanged' : 'worker') }));
    // Only the writer of the end says so (as finish() does): a sign-out or cancel that ended it meanwhile did.
    if (!ended) return;
    ctx.onFinished?.('credentials_revoked', ctx.clock.now() - Date.parse(rec.createdAt), { deploymentId: rec.id, userId: rec.userId, sessionRef: rec.sessionRef });
    // And the commit's status: a cleared key's route asks for it when its own write ends the deploy
    // (requests.ts), this run when its check found the key gone first. Posted only while the session
    // still holds its GitHub token (the status job reads it again): a sign-out's deploys get none.
    await requestCommitStatus(ctx, ended, 'final');
    return;
  }
  const budget = createRunBudget(ctx, rec.keyFingerprint);
  const render = ctx.upstream.render(creds.renderKey, { timeoutMs: ctx.renderTimeoutMs, beforeRequest: fencedRenderWrites(ctx, job, token, budget.beforeRequest) });
  /**
   * The run is over: `outcome` is the final record it wrote, or null when the deployment ended elsewhere
   * (or the step guard ran out). Canceled while this run was mid-step (the cancel route cannot take a
   * job a run holds: deployQueue.ts requeueDeployJob leaves it to that run) with its deploy on Render
   * still owed a cancel (cancel.ts cancelOwedOnRender), or its service perhaps made by a creation whose
   * answer was lost (lostCreationMayExist): this job goes on to cancel that deploy, whether
   * the step came back or threw (a Render 4xx, a GitHub refusal, a DeployFailed: its end was not written
   * over the canceled record); ending here would leave that deploy to build and go live.
   */
  const runEnded = async (outcome: DeploymentRecord | null): Promise<void> => {
    await clearUpstreamFailures(ctx, rec.id, await failuresBefore);
    const ended = outcome ?? await ctx.deployments.get(rec.id).catch(() => null);
    if (ended && (cancelOwedOnRender(ended) || await lostCreationMayExist(ctx.deployments, ended))) {
      // Its commit status when the follow-up ends: the deploy it looks for may go live before it is canceled.
      await deployEnded(ctx, rec.id, creds, null, false);
      return followCanceledAsk(ctx, job, token, ended, render);
    }
    await deployEnded(ctx, rec.id, creds, outcome);
  };

  // Set once a step of this run moved the record on (a look that answered ends the run): a failure after
  // it is the first in a row, not one more of those its step had before.
  const progress: RunProgress = { advanced: false, at: rec };
  try {
    const outcome = await advance(ctx, first ? await first : rec, render, creds, budget.takeAhead, progress);
    if (typeof outcome === 'number') {
      // A step or look that answered: Render's or GitHub's failures before it were not in a row with any after it.
      await clearUpstreamFailures(ctx, rec.id, await failuresBefore);
      return await delayJob(job, token, outcome);
    }
    await runEnded(outcome);
  } catch (caught) {
    if (caught instanceof DelayedError) throw caught;
    // A 404 may mean the service was deleted on Render: asked before anything else, so that what Render
    // answers the check instead (a 5xx, a 429, the budget spent) is this run's failure, handled below as any other.
    let err = caught;
    const gone = await serviceGoneFailure(ctx, render, rec, caught).catch((checkFailed: unknown) => { err = checkFailed; return null; });
    // Another run has the job (jobFence.ts): it carries the deployment on; this one writes nothing more.
    if (err instanceof JobTakenOver) return log().warn({}, err.message);
    // The record was altered in Redis while this run held it: refused as at the start, no further call.
    if (err instanceof RecordTamperedError) {
      if (await verifiedRecord(ctx, job)) throw sanitizeForQueue(err); // intact again: retry normally
      return;
    }
    if (err instanceof BudgetExhausted) return delayJob(job, token, err.retryAfterMs + jitter(250));
    if (err instanceof RenderApiError && err.kind === 'rate_limited') return delayJob(job, token, rateLimitedWaitMs(ctx, progress.at, err.retryAfterMs));
    // GitHub's rate limit: every ask before its reset gets the same answer, and asking on regardless risks
    // the integration's ban. A short wait is a delayed job; a long one (the hourly limit used up) ends the
    // deploy saying so, before any Render write (GitHub is read only before them). No stated wait: retried as before.
    if (err instanceof GitHubError && err.kind === 'rate_limited' && err.retryAfterSeconds !== undefined) {
      const waitMs = err.retryAfterSeconds * 1000;
      if (waitMs <= GITHUB_LIMIT_WAIT_MAX_MS) return delayJob(job, token, waitMs + jitter(500));
      return await runEnded(await finish(ctx, rec, 'failed', githubLimited(ctx.clock.now() + waitMs), {}, true));
    }
    const failure = gone ? { status: 'failed' as const, failure: gone } : classify(err);
    if (failure) {
      // Render refused the key: the session holding it says so (its key status), as when a route meets the 401.
      // Noted before the deployment ends, so that a page that sees the end and reads the key status finds the mark
      // (after it, a CI run read the status in between).
      if (renderRefusedKey(err)) await noteKeyRejected(ctx, rec.sessionRef, rec.userId, rec.keyFingerprint);
      const done = await finish(ctx, rec, failure.status, failure.failure, err instanceof DeployFailed ? err.fields : {}, true);
      // GitHub refused the session's token: the session is over, as when a route meets the refusal ("Sign in again").
      // After the end is written: ending the session revokes its deployments, this one's end would read revoked.
      if (err instanceof GitHubError && err.kind === 'unauthorized' && creds.githubToken) await ctx.githubTokenRefused?.(rec, creds.githubToken);
      return await runEnded(done);
    }
    // Transient (5xx, network, timeout, malformed answer): retried after a jittered backoff, a delayed job.
    // Only failures in a row end the deployment, the job's attempts (deployQueue.ts: 8) of them, and the
    // wait grows with those alone: BullMQ's attempts count every failure of the job's life (a watch of
    // hours), so sporadic ones among answered looks used to end a deploy Render put live (upstreamFailures.ts).
    const attempts = job.opts.attempts ?? 1;
    // null: Redis failed too, and BullMQ's own retry, bounded by the job's lifetime attempts, is the last resort.
    const failures = await countUpstreamFailure(ctx, rec.id, progress.advanced).catch(() => null);
    const finalAttempt = failures === null ? job.attemptsMade + 1 >= attempts : failures >= attempts;
    log().warn({ kind: (err as { kind?: string }).kind ?? 'unknown', failures, finalAttempt }, 'deploy step failed; will retry');
    if (finalAttempt) return await runEnded(await finish(ctx, rec, 'failed', { code: 'upstream_unavailable', message: `Render or GitHub kept failing (${safeMessage(err)}). Try again later.` }));
    if (failures === null) throw sanitizeForQueue(err);
    return delayJob(job, token, retryDelayMs(job, failures));
  }
}

/**
 * `advanced`: a step of the run moved the record on. `at`: the record its latest step started from (a
 * failure's wait may depend on how far the run got: one asked for and watched in the same run, rateLimitedWaitMs).
 */
interface RunProgress { advanced: boolean; at: DeploymentRecord }

/**
 * Run steps until the deployment must wait (returns ms) or is over: the final record this run wrote,
 * or null when it ended elsewhere (canceled, revoked) or the step guard ran out.
 */
async function advance(ctx: WorkerContext, start: DeploymentRecord | null, render: RenderClient, creds: JobCredentials, takeAhead: TakeAhead, progress: RunProgress): Promise<number | DeploymentRecord | null> {
  // The pending commit status, asked for once the commit is checked and its stack detected (a redeploy's or
  // rollback's once Render answered its trigger). Only asked:
  // the status job posts it, so this slot never waits on GitHub's pacing; and not awaited: its first
  // command goes out with detection's write (steps). Settled before the run ends (it never throws),
  // so it is asked before any final status is.
  const asked: Array<Promise<void>> = [];
  try {
    return await steps(ctx, start, render, creds, takeAhead, progress, (rec) => asked.push(requestCommitStatus(ctx, rec, 'pending')));
  } finally {
    await Promise.all(asked);
  }
}

async function steps(ctx: WorkerContext, start: DeploymentRecord | null, render: RenderClient, creds: JobCredentials, takeAhead: TakeAhead, progress: RunProgress, askPending: (rec: DeploymentRecord) => unknown): Promise<number | DeploymentRecord | null> {
  let rec: DeploymentRecord | null = start;
  // Detection's write goes out with what follows it: the pending status's ask, and the budget slot of
  // createOrAdoptService's lookup by name (runBudget.ts). Should the write not land (the deployment
  // ended meanwhile), the status job posts the state the record has, and the slot is spent unused.
  const beforeDetectedWrite = (next: DeploymentRecord) => {
    askPending(next);
    if (!next.serviceId) void takeAhead({ method: 'GET', route: '/services' });
  };
  for (let guard = 0; rec && guard < 10; guard++) {
    // A step before this one came back with the record moved on (a whole step, not a part of one a retry
    // repeats, such as a redeploy's commit check before its trigger): the next run starts past it.
    if (guard > 0) progress.advanced = true;
    progress.at = rec;
    ctx.crashPoint?.('step');
    switch (rec.status) {
      case 'queued':
      case 'verifying':
        rec = rec.kind === 'deploy' ? await verifyRepo(ctx, rec, render, creds, beforeDetectedWrite) : await ctx.deployments.transition(rec.id, 'triggering_deploy', 'orchestrator');
        break;
      case 'detecting':
        rec = await detect(ctx, rec, render, creds, undefined, beforeDetectedWrite);
        break;
      case 'creating_service':
        rec = await createOrAdoptService(ctx, rec, render, takeAhead);
        break;
      case 'triggering_deploy': {
        // A redeploy of a named commit checks it is on the service's branch first: no Render write otherwise.
        // It holds the service's redeploy check from that check to Render's answer to its trigger: another
        // redeploy's under way, this one waits its turn (a delayed job); its own trigger waiting (budget,
        // Retry-After), the next run comes back here and renews it (verifyRedeployCommit).
        const ofCommit = rec.kind === 'redeploy' && !!rec.request.commitSha;
        if (ofCommit) {
          const checked = await verifyRedeployCommit(ctx, rec, creds, render);
          if (typeof checked === 'number') return checked;
          if (!checked) return null; // ended elsewhere
          rec = checked;
        }
        const next = await triggerDeploy(ctx, rec, render);
        if (typeof next === 'number') return next; // the new service's first deploy is not out of the way yet
        // Render answered (a deploy, or queued behind a running one): the next redeploy may be checked. One
        // that ended meanwhile gives it back when the run ends (deployEnded), or, canceled while its ask was
        // on its way, once the deploy that ask made is canceled on Render (canceledAsk.ts).
        if (ofCommit && next) await ctx.deployments.releaseRedeployCheck(rec.serviceId!, rec.id).catch(() => false);
        // A redeploy or rollback skips detection, where a deploy's pending status is asked: asked once Render
        // named the deploy (its commit, when the request named none); a run after a retry asks no second one.
        if (next && rec.kind !== 'deploy' && !isTerminal(next.status)) askPending(next);
        rec = next;
        break;
      }
      default: {
        if (isTerminal(rec.status)) return rec;
        const looked = await watch(ctx, rec, render);
        // Back to triggering_deploy (a push made the new service's first deploy build another commit): go on.
        if (looked && typeof looked !== 'number' && looked.status === 'triggering_deploy') {
          rec = looked;
          break;
        }
        return looked;
      }
    }
  }
  return null;
}

/**
 * After a run that ended the deployment (whose write deleted its env values, transition.ts): the user's
 * service list is stale when this run wrote the end, and the final commit status on GitHub and the
 * Slack result are asked for (best effort, never throw). `final` is the terminal record this run wrote
 * (finish()), else the record is read. All of it is independent: the first Redis command of each shares
 * one round trip, and the status is not held up by a Slack webhook's answer. `commitStatus` false: the
 * final status is asked later (a canceled deployment's follow-up, canceledAsk.ts).
 */
async function deployEnded(ctx: WorkerContext, id: string, creds: JobCredentials, final: DeploymentRecord | null, commitStatus = true) {
  let done = final;
  if (!done) {
    try { done = await ctx.deployments.get(id); } catch { return; }
    if (done && !isTerminal(done.status)) return; // the step guard ran out: still running, its values still needed
  }
  await endFollowUps(ctx, done, final, commitStatus && Boolean(creds.githubToken));
}

/** What follows a deployment's end: the service list, the redeploy check, the Slack result, the final commit status. */
async function endFollowUps(ctx: WorkerContext, done: DeploymentRecord | null, final: DeploymentRecord | null, commitStatus: boolean) {
  await Promise.all([
    final?.serviceId ? serviceListChanged(ctx, final) : null,
    // A redeploy of a commit that ended holding the service's redeploy check (its trigger refused, or failing to the last try) gives it back;
    // one canceled while its ask was on its way, once its job has canceled the deploy that ask made (canceledAsk.ts).
    done?.kind === 'redeploy' && done.request.commitSha && done.serviceId && !canceledWhileAsking(done) ? ctx.deployments.releaseRedeployCheck(done.serviceId, done.id).catch(() => false) : null,
    done ? ctx.deploySlack?.(done) : null,
    done && commitStatus ? requestCommitStatus(ctx, done, 'final') : null,
  ]);
}

/**
 * A deployment whose job kept failing for good however often it was run again (workers/orphanSweep.ts
 * sweepFailedDeployJobs): ended `failed` with what follows any end, rather than left "Building" for ever.
 * Its deploy on Render, if any, is not canceled: no run of the job could get that far. The commit status
 * job posts only while the session still holds its GitHub token, as for any end.
 */
export async function giveUpDeployment(ctx: WorkerContext, rec: DeploymentRecord): Promise<void> {
  const done = await finish(ctx, rec, 'failed', {
    code: 'upstream_unavailable',
    message: 'Our deploy worker could not go on with this deployment (its job kept failing). Render may still have built it: check the service, then deploy again if needed.',
  }, {}, true);
  if (done) await endFollowUps(ctx, done, done, true);
}

/** Non-retryable errors become a final status with a clear reason; retryable ones return null. */
function classify(err: unknown): { status: DeploymentStatus; failure: DeploymentFailure } | null {
  if (err instanceof DeployFailed) return { status: err.status, failure: err.failure };
  if (err instanceof StackDetectionError) return { status: 'failed', failure: { code: 'stack_not_detected', message: err.message } };
  if (err instanceof RenderApiError) {
    if (err.retryable) return null;
    if (err.kind === 'unauthorized') return { status: 'credentials_revoked', failure: { code: 'render_key_rejected', message: 'Render rejected your API key (it may have been revoked). Connect a valid key and deploy again.' } };
    if (err.kind === 'payment_required') return { status: 'failed', failure: { code: 'render_payment_required', message: 'Render needs payment information on this workspace before it can create this service.' } };
    return { status: 'failed', failure: { code: `render_${err.kind}`, message: `Render refused the request: ${err.renderMessage ?? err.message}` } };
  }
  if (err instanceof GitHubError) {
    if (err.kind === 'unauthorized') return { status: 'credentials_revoked', failure: { code: 'github_token_invalid', message: 'GitHub rejected your authorization. Sign in again.' } };
    if (err.kind === 'not_found' || err.kind === 'forbidden') return { status: 'failed', failure: { code: 'github_' + err.kind, message: err.message } };
    // Asking again gets the same answer: no retries, the reason at once.
    if (err instanceof RootTooLargeError) return { status: 'failed', failure: { code: 'repo_root_too_large', message: `${err.message}, so the deploy stopped and nothing was created. Asking again gives the same answer: move files into subdirectories first.` } };
    if (err.kind === 'too_large') return { status: 'failed', failure: { code: 'github_answer_too_large', message: `${err.message}, so the deploy stopped. Deploy again; if it fails the same way, something between this app and GitHub (a proxy) answers for it.` } };
    return null;
  }
  return null;
}

const jitter = (ms: number) => Math.floor(Math.random() * ms);

const WATCHED = new Set<string>(RENDER_PROGRESS);

/**
 * How long a run sits out Render's 429: as long as Render says (at most its longest window), but a deploy
 * being watched runs again by the watch's bound, which ends it watch_timeout. The bound is checked only
 * when a look starts: a day's Retry-After left the deploy "Building" for that day. Only a watched status:
 * its next run starts with that look. A record still triggering (its ask marked, the deploy not yet found)
 * never reaches the check, and cut to the bound, a run past it waited 1 ms between 429s, a storm.
 */
function rateLimitedWaitMs(ctx: WorkerContext, rec: DeploymentRecord, statedMs: number | undefined): number {
  const wait = Math.min(statedMs ?? 10_000, RENDER_WAIT_MAX_MS) + jitter(500);
  if (!WATCHED.has(rec.status)) return wait;
  // +1: the watch gives up once strictly past its bound.
  const untilBound = Math.max(0, watchBoundAt(ctx, rec) - ctx.clock.now()) + 1;
  return untilBound < wait ? untilBound : wait;
}

/** The longest GitHub rate-limit wait a deploy sits out (a delayed job); past it the deploy ends github_rate_limited. */
const GITHUB_LIMIT_WAIT_MAX_MS = 60_000;

function githubLimited(resetAt: number): DeploymentFailure {
  const at = new Date(resetAt).toISOString().slice(11, 16);
  return {
    code: 'github_rate_limited',
    message: `GitHub's API rate limit for your GitHub account is used up until about ${at} UTC, so the repository could not be read. Nothing was deployed; deploy again after that.`,
  };
}

function safeMessage(err: unknown): string {
  if (err instanceof RenderApiError || err instanceof GitHubError) return err.message;
  return 'unexpected error';
}

/** BullMQ stores the thrown error's message and stack in Redis: keep them free of anything sensitive. */
function sanitizeForQueue(err: unknown): Error {
  const e = new Error(safeMessage(err));
  e.name = (err as Error)?.name ?? 'Error';
  e.stack = `${e.name}: ${e.message}`;
  return e;
}
