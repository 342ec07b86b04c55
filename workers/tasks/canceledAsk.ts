import type { Job } from 'bullmq';
import { RenderApiError, type RenderClient } from '../../server/render/client.js';
import { BudgetExhausted } from '../../server/render/budget.js';
import { RENDER_WAIT_MAX_MS } from '../../server/render/rate-limit.js';
import { discardKeySessionOf } from '../../server/bearer/keySessions.js';
import { isFailedOnRender, isInProgressOnRender } from '../../server/deployments/renderStatus.js';
import { canceledAt, canceledCreating, canceledWhileAsking, firstDeployOwedCancel, isCronJob } from '../../server/deployments/cancel.js';
import { WENT_LIVE_AFTER_CANCEL, type DeploymentRecord } from '../../server/deployments/types.js';
import type { DeployJobData } from '../../server/queues/deployQueue.js';
import type { WorkerContext } from '../context.js';
import { credentialsOrWhyNot } from './credentials.js';
import { createRunBudget } from './runBudget.js';
import { askAnsweredBy, deployOfAsk, firstDeployOfNewService } from './ownDeploy.js';
import { delayJob } from './delayJob.js';
import { serviceOfLostCreation } from './createService.js';
import { requestCommitStatus } from '../../server/queues/commitStatusQueue.js';

// A deployment canceled while render_queued (server/deployments/cancel.ts cancelOwedOnRender): Render
// queued its deploy (202) and we had not seen it listed, or the cancel landed while the ask was on its
// way (the run that asked cannot record the answer on a canceled record), so it had no id to cancel on
// Render; or we had its id but it waited in Render's queue, and Render cancels a deploy only once it starts.
// Or the deployment was canceled after creating its service and before naming or asking for a deploy
// (`creating_service` or `created` when the creation's answer named no deploy, or `triggering_deploy`):
// the service's first deploy (its own not yet found or adopted, or the branch's head being stopped
// before a named commit, branchHead.ts) was never named to us (cancel.ts firstDeployOwedCancel).
// Or it was canceled in `creating_service` after claiming the service's name, its creation's answer
// perhaps lost (cancel.ts lostCreationMayExist): its service, if Render made it, is found by name first
// (createService.ts serviceOfLostCreation) and noted on the record, then its first deploy as above.
// Its job looks for that deploy (by what was asked, as the watch would have, by its id, or as the service's
// first deploy) and cancels it there; the record stays as the cancel wrote it. Never a deploy made after the
// 202 (ownDeploy.ts askAnsweredBy): one someone else queued then looks like ours. A cron job's deploy, which
// Render cannot cancel, is never asked to stop: the record says it runs on, then how it ended (sayCronDeployLeft).

/** The deploy owed a cancel is a new service's first deploy (its service perhaps still to be found by name). */
const newServiceFirstDeploy = (rec: DeploymentRecord) => firstDeployOwedCancel(rec) || canceledCreating(rec);

/**
 * How long the look has been owed: since the ask, or, for a new service's first deploy, since the cancel
 * (a `created` record's deployRequestedAt is the creation's ask, not one of a deploy).
 */
const askingFor = (ctx: WorkerContext, rec: DeploymentRecord) =>
  ctx.clock.now() - (newServiceFirstDeploy(rec) || !rec.deployRequestedAt ? canceledAt(rec) : Date.parse(rec.deployRequestedAt));

/** The deploy owed a cancel, as Render has it now (null: not listed yet). */
function deployOwedCancel(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient) {
  if (rec.deployId) return render.getDeploy(rec.serviceId!, rec.deployId);
  return firstDeployOwedCancel(rec) ? firstDeployOfNewService(ctx, render, rec) : deployOfAsk(ctx, render, rec);
}

/**
 * One look: cancels the deploy on Render when found running there, and returns wait null (done), or how
 * long to wait before looking again; gives up once the watch would have: on a deploy never listed
 * (queuedUnmatchedMs), on one that never left Render's queue (maxMs: the record says it may still run).
 * `unseen`: no deploy of it listed.
 */
async function cancelQueuedDeploy(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient, seen: { listed: boolean }): Promise<{ wait: number | null; unseen: boolean }> {
  const deploy = await deployOwedCancel(ctx, rec, render);
  if (deploy) seen.listed = true;
  // A cron job's deploy is never asked to stop (Render refuses it with a 400 each time: cancel.ts
  // isCronJob): the record says at once that it runs on, and the looks go on only to say how it ended.
  if (deploy && isCronJob(rec)) {
    await sayCronDeployLeft(ctx, rec, deploy.status);
    if (endedOnRender(deploy.status)) return { wait: null, unseen: false };
  } else if (deploy && deploy.status !== 'queued') {
    // Render cancels a deploy once it has left its queue (docs/render-api.md §6.4: a queued one is a
    // 400): one still queued behind another deploy is looked at again until it has.
    if (!isInProgressOnRender(deploy.status)) {
      await sayIfItWentLive(ctx, rec, deploy.status);
      return { wait: null, unseen: false };
    }
    // Render answers 400 when it ended between our look and the cancel: nothing is left to cancel, but it
    // may have ended live. One still running (or not read) is looked at again, as any running one: a 400
    // for another reason ended the follow-up, and that deploy built and went live under a canceled record.
    const refused = await render.cancelDeploy(rec.serviceId!, deploy.id).then(() => false, (err: unknown) => {
      if (!(err instanceof RenderApiError) || err.status !== 400) throw err;
      return true;
    });
    if (!refused) {
      ctx.logger.info({ deploymentId: rec.id, deployId: deploy.id }, firstDeployOwedCancel(rec)
        ? 'canceled on Render the new service\'s first deploy of a canceled deployment'
        : 'canceled on Render the queued deploy of a canceled deployment');
      return { wait: null, unseen: false };
    }
    const now = (await render.getDeploy(rec.serviceId!, deploy.id).catch(() => null))?.status;
    if (now && now !== 'queued' && !isInProgressOnRender(now)) {
      await sayIfItWentLive(ctx, rec, now);
      return { wait: null, unseen: false };
    }
  }
  const asking = askingFor(ctx, rec);
  if (asking > (deploy ? ctx.watch.maxMs : ctx.watch.queuedUnmatchedMs)) {
    // Still in Render's queue, it starts once the deploy ahead of it ends: it may still run. Or running,
    // Render refusing its cancel. (A cron job's record already says it runs on.)
    if (deploy && !isCronJob(rec)) {
      await leftOnRender(ctx, rec, deploy.status === 'queued'
        ? 'it was still waiting in Render\'s queue when this app stopped looking (Render cancels a deploy only once it starts)'
        : 'Render refused to cancel it until this app stopped looking');
    }
    return { wait: null, unseen: !deploy };
  }
  const { initialMs, factor, maxDelayMs } = ctx.watch;
  return { wait: Math.min(maxDelayMs, Math.round(initialMs + (factor - 1) * asking)), unseen: !deploy };
}

/**
 * After a look or a cancel that failed (Render failing or unreachable): look again at most after the
 * watch's longest wait, or null to give up: on a deploy of an ask not yet named to us once an unmatched
 * one would have been (queuedUnmatchedMs); on one known to be on Render (named to us: the record has its
 * id, or a look of this job listed it: `listed`) once the watch would have given it up (maxMs),
 * as a look that succeeds does; on a new service's first deploy once a failing stop would have been
 * (branchHead.ts: maxMs), here counted from the cancel.
 */
function retryAfterFailure(ctx: WorkerContext, rec: DeploymentRecord, listed: boolean): number | null {
  return lookingLeftMs(ctx, rec, listed) === null ? null : ctx.watch.maxDelayMs;
}

/** How long the follow-up may still look before retryAfterFailure gives up (null: past it). */
function lookingLeftMs(ctx: WorkerContext, rec: DeploymentRecord, listed: boolean): number | null {
  const bound = newServiceFirstDeploy(rec) || rec.deployId || listed ? ctx.watch.maxMs : ctx.watch.queuedUnmatchedMs;
  const left = bound - askingFor(ctx, rec);
  return left < 0 ? null : left;
}

/** The canceled record's reason, when its deploy on Render could not be canceled: it may still run there. */
async function leftOnRender(ctx: WorkerContext, rec: DeploymentRecord, why: string): Promise<void> {
  const message = `You canceled this deploy here, but its deploy on Render was not canceled there: ${why}. `
    + 'Render may still build it and make it live: check the service\'s deploys in the Render dashboard, and cancel it there if it should not run.';
  await ctx.deployments.amendCanceled(rec.id, { code: 'canceled', message }).catch((err: unknown) => {
    ctx.logger.warn({ deploymentId: rec.id, err: { message: (err as Error).message } }, 'could not say why a canceled deployment\'s deploy was left on Render');
  });
}

const CRON_NOT_CANCELABLE = 'Render cannot cancel a cron job\'s deploy (its API does not support it)';

/**
 * A deploy owed a cancel that ended on Render before the follow-up could cancel it (it left Render's queue
 * and finished between two looks; or a cron job's, which Render cannot cancel): one that went live (`live`,
 * or `deactivated`: live, then replaced) ran as the service's code, and the canceled record says so instead
 * of a plain cancel. One that failed or was canceled ran nothing: the record stays as the cancel wrote it.
 */
async function sayIfItWentLive(ctx: WorkerContext, rec: DeploymentRecord, status: string | null | undefined): Promise<void> {
  if (status !== 'live' && status !== 'deactivated') return;
  const message = `You canceled this deploy here, but its deploy on Render was not canceled there: ${isCronJob(rec) ? `${CRON_NOT_CANCELABLE}, and it went live` : 'it left Render\'s queue and went live before it could be canceled'}. `
    + (status === 'live' ? 'It is the service\'s live deploy now' : 'It ran as the service\'s live deploy until a newer deploy replaced it')
    + ': check the service\'s deploys in the Render dashboard, and redeploy or roll back if it should not run.';
  await ctx.deployments.amendCanceled(rec.id, { code: WENT_LIVE_AFTER_CANCEL, message }).catch((err: unknown) => {
    ctx.logger.warn({ deploymentId: rec.id, err: { message: (err as Error).message } }, 'could not say that a canceled deployment\'s deploy went live on Render');
  });
}

/** One of Render's final statuses (a status missing, or one Render adds later, is not taken for an end: looked at again). */
const endedOnRender = (status: string | null | undefined): boolean => status === 'live' || status === 'deactivated' || status === 'canceled' || isFailedOnRender(status);

/**
 * A cron job's deploy owed a cancel, found on Render (status: as Render has it), which Render cannot
 * cancel: the canceled record says it runs on there, then how it ended (sayIfItWentLive when it went
 * live). Written only when the record does not say it yet.
 */
async function sayCronDeployLeft(ctx: WorkerContext, rec: DeploymentRecord, status: string | null | undefined): Promise<void> {
  if (status === 'live' || status === 'deactivated') return sayIfItWentLive(ctx, rec, status);
  const message = `You canceled this deploy here, but its deploy on Render was not canceled there: ${CRON_NOT_CANCELABLE}, `
    + (endedOnRender(status)
      ? `and it ended there without going live (${status}).`
      : 'so it runs to its end there and may go live. To stop the job\'s runs, suspend the cron job on its page.');
  if (rec.failure?.message === message) return;
  await ctx.deployments.amendCanceled(rec.id, { code: 'canceled', message }).catch((err: unknown) => {
    ctx.logger.warn({ deploymentId: rec.id, err: { message: (err as Error).message } }, 'could not say that a canceled cron job\'s deploy was left on Render');
  });
}

/** Why a follow-up that kept failing gave up, as the record says it (never the error's own text). */
function whyGivenUp(err: unknown): string {
  if (!(err instanceof RenderApiError)) return 'something failed on our side while it was being canceled';
  return err.kind === 'network' || err.kind === 'timeout'
    ? 'Render could not be reached while it was being canceled'
    : 'Render kept failing while it was being canceled';
}

/**
 * The job of a canceled deployment whose deploy on Render is owed a cancel (cancel.ts
 * cancelOwedOnRender): looks until the deploy is canceled or not to be found, then ends the per-request key the cancel left for it. Waiting and Render's hiccups are
 * delays (never a held slot, never the job's attempts), a 429's Retry-After and the key's budget
 * included, all within the watch's bound (retryAfterFailure); a refusal (a revoked key) ends the look.
 * Given up on while the deploy may still run on Render (still queued, Render failing, unreachable or
 * refusing), the canceled record's reason says so and how to stop it there (leftOnRender).
 */
export async function followCanceledAsk(ctx: WorkerContext, job: Job<DeployJobData>, token: string | undefined, rec: DeploymentRecord, given?: RenderClient): Promise<void> {
  const listedBefore = job.data.owedDeployListed === true;
  const seen = { listed: listedBefore };
  const { wait, unseen, keySessionGone } = await followUp(ctx, rec, seen, given);
  // A deploy found by what was asked is never written on the canceled record: the job remembers it was
  // listed, so a later look that fails waits as long as for one named to us (retryAfterFailure). Set by
  // hand in Redis it only lets the job look, at the watch's pace, until the watch's bound.
  if (seen.listed && !listedBefore && wait !== null) await job.updateData({ ...job.data, owedDeployListed: true }).catch(() => undefined);
  // A redeploy of a commit canceled while its ask was on its way holds the service's redeploy check
  // (redeployChecks.ts doneWithLock): a check meanwhile would see the deploy that ask made in flight on
  // Render and deploy nothing, before this job cancels it. Renewed while there may be such a deploy to
  // cancel; given back once it is canceled (or given up on), or once Render has answered the ask by now
  // (ownDeploy.ts askAnsweredBy) and lists no deploy of it: any deploy asked after that is not taken for it.
  const ofCommit = rec.kind === 'redeploy' && !!rec.request.commitSha && !!rec.serviceId;
  const answered = ofCommit && canceledWhileAsking(rec) && ctx.clock.now() > (askAnsweredBy(ctx, rec) ?? 0);
  if (wait !== null && ofCommit && !(unseen && answered)) await ctx.deployments.renewRedeployCheck(rec.serviceId!, rec.id).catch(() => false);
  else if (ofCommit) await ctx.deployments.releaseRedeployCheck(rec.serviceId!, rec.id).catch(() => false);
  if (wait !== null) return delayJob(job, token, wait);
  // The commit's final status waited for this end (deployTask.ts runEnded): it now says whether the deploy
  // went live anyway (a success) or not (the cancel's failure). Never throws.
  const ended = await ctx.deployments.get(rec.id).catch(() => null);
  if (ended) await requestCommitStatus(ctx, ended, 'final');
  if (!keySessionGone) await discardKeySessionOf(ctx, rec).catch(() => undefined);
}

/**
 * One run of the follow-up: how long to wait before the next (null: done), and whether no deploy of it
 * was listed; `seen.listed`: a look of this job (this one sets it) listed the deploy owed a cancel.
 */
async function followUp(ctx: WorkerContext, rec: DeploymentRecord, seen: { listed: boolean }, given?: RenderClient): Promise<{ wait: number | null; unseen: boolean; keySessionGone?: true }> {
  // Looked at every time, the run's own client given too: a sign-out (or the key cleared or replaced)
  // after the cancel, while that run was mid-step, ended the consent its client was made under.
  const creds = await credentialsOrWhyNot(ctx, rec);
  if (typeof creds === 'string') {
    // The session or key went: nothing can be canceled with it (SECURITY.md), and the record says so.
    await leftOnRender(ctx, rec, creds === 'key_replaced' ? 'you connected another Render key before it could be' : 'you signed out or cleared your Render key before it could be');
    await ctx.envVault.drop(rec.id);
    return { wait: null, unseen: false, keySessionGone: true };
  }
  let render = given;
  if (!render) {
    const budget = createRunBudget(ctx, rec.keyFingerprint);
    render = ctx.upstream.render(creds.renderKey, { timeoutMs: ctx.renderTimeoutMs, beforeRequest: budget.beforeRequest });
  }
  try {
    if (canceledCreating(rec)) {
      // Its service is looked up by name first: none of its own found, there is nothing to cancel.
      const noted = await serviceOfLostCreation(ctx, rec, render);
      if (!noted) return { wait: null, unseen: true };
      rec = noted;
    }
    return await cancelQueuedDeploy(ctx, rec, render, seen);
  } catch (err) {
    const budget = err instanceof BudgetExhausted;
    if (budget || (err instanceof RenderApiError && err.kind === 'rate_limited')) {
      // Waited out as Render (or the key's budget) asks, within the same bound as any other failure:
      // past it, the deploy was never seen to be canceled, and the record says it may still run.
      // The bound is checked only when a run starts: the wait ends by then (+1: given up once strictly past
      // it), or a day's Retry-After kept the record from saying so for that day.
      const left = lookingLeftMs(ctx, rec, seen.listed);
      if (left !== null) {
        const stated = budget ? err.retryAfterMs : Math.min(err.retryAfterMs ?? 10_000, RENDER_WAIT_MAX_MS);
        return { wait: left + 1 < stated ? left + 1 : stated, unseen: false };
      }
      await leftOnRender(ctx, rec, budget ? 'your Render key\'s request budget stayed used up while it was being canceled' : 'Render kept refusing requests (rate limited) while it was being canceled');
      return { wait: null, unseen: false };
    }
    if (!(err instanceof RenderApiError) || err.retryable) {
      const wait = retryAfterFailure(ctx, rec, seen.listed);
      if (wait !== null) return { wait, unseen: false };
      // Given up while Render failed or could not be reached: the deploy was never seen canceled (nor
      // ended), so it may still run there, whichever deploy it is, and the record says so.
      ctx.logger.warn({ deploymentId: rec.id, kind: err instanceof RenderApiError ? err.kind : 'internal' }, 'gave up canceling on Render a canceled deployment\'s deploy');
      await leftOnRender(ctx, rec, whyGivenUp(err));
      return { wait: null, unseen: false };
    }
    ctx.logger.warn({ deploymentId: rec.id, kind: err.kind }, 'Render refused the look for a canceled deployment\'s queued deploy');
    // A deploy or service Render no longer has runs nowhere; anything else it refused may still run.
    if (err.kind !== 'not_found') await leftOnRender(ctx, rec, `Render refused the request (${err.kind})`);
    return { wait: null, unseen: false };
  }
}
