import { RenderApiError, type RenderClient } from '../../server/render/client.js';
import type { RenderErrorKind } from '../../server/render/errors.js';
import { BudgetExhausted } from '../../server/render/budget.js';
import { suspendedRefusal } from '../../server/deployments/requests.js';
import { isCronJob } from '../../server/deployments/cancel.js';
import { DeployFailed } from './deployFailed.js';
import type { Deploy } from '../../server/render/types.js';
import { isTerminal, type DeploymentRecord, type DeploymentStatus, type DeploymentFailure } from '../../server/deployments/types.js';
import type { WorkerContext } from '../context.js';
import { finish } from './finishDeploy.js';
import { keyStillConsented } from './credentials.js';
import { branchHeadOutOfTheWay } from './branchHead.js';
import { deployAlreadyOurs, deployOfAsk, deployToWatch, firstDeployBuildsAnother } from './ownDeploy.js';
import { FAILURE_TEXT, RENDER_TO_STATUS, isInProgressOnRender } from '../../server/deployments/renderStatus.js';

// The Render deploy of a deployment (workers/tasks/deployTask.ts): triggering_deploy → Render's
// statuses → live or a failure, watched with delayed jobs.

/**
 * Ask for a deploy once: a retry first adopts the deploy its lost answer would have named (ownDeploy.ts).
 * A number: look again after that many ms (the new service's first deploy is not out of the way yet).
 * A redeploy of a named commit runs this holding the service's redeploy check (deployTask.ts,
 * server/deployments/redeployChecks.ts), through its waits (budget, Retry-After: thrown, the job delayed),
 * until this returns Render's answer: no newer commit's redeploy is checked and triggered ahead of it.
 */
export async function triggerDeploy(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient): Promise<DeploymentRecord | number | null> {
  const serviceId = rec.serviceId!;
  // A deploy Render started for this deployment already (our earlier request whose answer was lost,
  // or the first deploy of a service whose creation we adopted) is taken over, not doubled; one
  // someone else started meanwhile (the dashboard, a push, another commit) never is.
  const { ours: adopted, branchHead } = await deployAlreadyOurs(ctx, render, rec);
  if (adopted) return recordAskedDeploy(ctx, rec, render, adopted);
  // A named commit on a new service whose first deploy builds the branch's head: that one is stopped
  // (or has ended) before ours is asked for, or it would go live first (branchHead.ts).
  if (branchHead) {
    const next = await branchHeadOutOfTheWay(ctx, rec, render, branchHead);
    if (next === null || typeof next === 'number') return next;
    rec = next;
  }
  const marked = await ctx.deployments.update(rec.id, { deployRequestedAt: new Date(ctx.clock.now()).toISOString() });
  if (!marked) return null;
  if (rec.kind === 'rollback' && rec.rollbackToDeployId) {
    const rollback = await render.rollbackDeploy(serviceId, rec.rollbackToDeployId).catch((err: unknown) => refusedAsSuspended(render, rec, err));
    ctx.crashPoint?.('deploy_triggered');
    return recordAskedDeploy(ctx, marked, render, rollback);
  }
  // Deploy exactly the commit that was verified and detected, not whatever the branch points at by now,
  // except for a cron job: Render refuses a commitId for them (400), and builds the branch's head.
  const commitId = rec.commitSha && !isCronJob(rec) ? { commitId: rec.commitSha } : {};
  const result = await render.triggerDeploy(serviceId, { clearCache: rec.request.clearCache ? 'clear' : 'do_not_clear', ...commitId }).catch((err: unknown) => refusedAsSuspended(render, rec, err));
  ctx.crashPoint?.('deploy_triggered');
  if (result.kind === 'created') return recordAskedDeploy(ctx, marked, render, result.deploy);
  // 202 with an empty body: Render queued it behind a running deploy. Find it among the queued ones by
  // what we asked (never merely the newest: someone else's may be queued after it); else a check will.
  const queued = await deployOfAsk(ctx, render, marked, { queued: true });
  if (queued) return recordAskedDeploy(ctx, marked, render, queued);
  return ctx.deployments.transition(rec.id, 'render_queued', 'render', {}, 'Queued behind a running deploy');
}

/** Render's refusals of an ask that a suspended service gets (a trigger's 409, a rollback's 400); not the key's 401, the service's 404 (serviceGone.ts) nor a 429 (a wait). */
const REFUSED = new Set<RenderErrorKind>(['bad_request', 'conflict', 'forbidden', 'payment_required']);

/**
 * Render refused the trigger or the rollback: when the service was suspended after the route checked it
 * (the route refuses a suspended one itself, requests.ts: service_suspended), Render says so in its own
 * words, `render_conflict` for a trigger and `render_bad_request` for a rollback. The service is read
 * once, and a suspended one ends the deployment as the route's refusal would have said it:
 * `service_suspended`, "resume it first". Anything else, or a read that fails, leaves Render's refusal as
 * it was; a read that must wait (the key's budget, a 429) waits, and the ask is made again after it.
 */
async function refusedAsSuspended(render: RenderClient, rec: DeploymentRecord, err: unknown): Promise<never> {
  if (!(err instanceof RenderApiError) || !REFUSED.has(err.kind)) throw err;
  const service = await render.getService(rec.serviceId!).catch((readErr: unknown) => {
    if (readErr instanceof BudgetExhausted || (readErr instanceof RenderApiError && readErr.kind === 'rate_limited')) throw readErr;
    return null;
  });
  if (service?.suspended === 'suspended') throw new DeployFailed({ code: 'service_suspended', message: suspendedRefusal(rec.kind) });
  throw err;
}

const QUEUED_NOT_FOUND = 'Render queued this deploy but never listed one matching it, so it cannot be followed here. '
  + 'Check the service\'s deploys in the Render dashboard, and deploy again if none of them is yours.';

/**
 * What we keep of a deploy Render told us about: its id, the commit it builds and when Render made it
 * (Render's order of the service's deploys, which a record going live is judged by: finishDeploy.ts).
 */
const deployFields = (deploy: Deploy, rec: DeploymentRecord): Partial<DeploymentRecord> => ({
  deployId: deploy.id, renderCommitId: deploy.commit?.id ?? rec.renderCommitId ?? null,
  deployCreatedAt: deploy.createdAt ?? (deploy.id === rec.deployId ? rec.deployCreatedAt : null) ?? null,
});

/**
 * Record the deploy this deployment's ask made. A deployment that ended while the ask was on its way
 * (a cancel or a revocation, which had no deploy id to stop on Render) does not take the write. A
 * canceled one's deploy is then canceled here, as a service's first deploy is (createService.ts), rather
 * than left to build and go live for a deployment that says canceled; a revoked one's is left to Render
 * (the key is not used after the consent ended; the record's reason says Render may still build it), nor is
 * a canceled one's after a sign-out that followed the cancel.
 */
async function recordAskedDeploy(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient, deploy: Deploy) {
  const next = await recordDeploy(ctx, rec, deploy);
  if (next || !isInProgressOnRender(deploy.status)) return next;
  const now = await ctx.deployments.get(rec.id).catch(() => null);
  // Not after a sign-out (or the key cleared or replaced) that followed the cancel: the job says on the record that it was left (canceledAsk.ts).
  // Nor for a cron job's, which Render cannot cancel (cancel.ts isCronJob): the job says so on the record.
  if (now?.status === 'canceled' && now.deployId !== deploy.id && !isCronJob(now) && await keyStillConsented(ctx, now)) await render.cancelDeploy(rec.serviceId!, deploy.id).catch(() => undefined);
  return next;
}

/** The write also claims the deploy for this deployment, written or not (recordWrites.ts update says why). */
function recordDeploy(ctx: WorkerContext, rec: DeploymentRecord, deploy: Deploy) {
  const status = RENDER_TO_STATUS[deploy.status ?? 'created'] ?? 'created';
  return isTerminal(status) ? finish(ctx, rec, status, failureFor(status), deployFields(deploy, rec)) : ctx.deployments.transition(rec.id, status, 'render', deployFields(deploy, rec));
}

/**
 * One look at the deploy; returns how long to wait before the next, or, when it is over, the final
 * record (null: it ended elsewhere, canceled or revoked meanwhile), or the record back in
 * triggering_deploy when the new service's first deploy builds another commit than the one verified.
 */
export async function watch(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient): Promise<number | DeploymentRecord | null> {
  const started = Date.parse(rec.deployRequestedAt ?? rec.createdAt);
  if (ctx.clock.now() > watchBoundAt(ctx, rec)) {
    return finish(ctx, rec, 'failed', { code: 'watch_timeout', message: 'Render did not finish this deploy within the time limit. Check it in the Render dashboard.' });
  }
  let deploy: Deploy | null;
  if (rec.deployId) deploy = await render.getDeploy(rec.serviceId!, rec.deployId);
  else deploy = await deployToWatch(ctx, render, rec); // not the newest deploy: it may be someone else's
  if (!deploy && rec.status === 'render_queued' && !rec.deployId && ctx.clock.now() - started > ctx.watch.queuedUnmatchedMs) {
    return finish(ctx, rec, 'failed', { code: 'queued_deploy_not_found', message: QUEUED_NOT_FOUND });
  }
  // A push between verifying and the creation: the new service's first deploy builds the new head, not
  // the commit detected (whose commands, and commit status, would then describe other code). It goes
  // back to triggering_deploy, which stops that deploy and asks for the verified commit by id, as for a
  // named commit (branchHead.ts); a cancel meanwhile is owed that first deploy's cancel (cancel.ts).
  if (deploy && firstDeployBuildsAnother(rec, deploy)) {
    return ctx.deployments.transition(rec.id, 'triggering_deploy', 'orchestrator', { deployId: null, renderCommitId: null, deployCreatedAt: null, deployRequestedAt: null },
      `The new service's first deploy builds commit ${deploy.commit!.id!.slice(0, 7)}, pushed after commit ${rec.commitSha!.slice(0, 7)} was verified and detected: it is stopped and commit ${rec.commitSha!.slice(0, 7)} deployed`);
  }
  const checks = rec.watchChecks + 1;
  if (deploy) {
    // A deploy found here (a new service's first) is claimed for this deployment by the write that names it (recordWrites.ts update).
    const status = RENDER_TO_STATUS[deploy.status ?? ''] ?? rec.status;
    if (isTerminal(status)) return finish(ctx, rec, status, failureFor(status), { ...deployFields(deploy, rec), watchChecks: checks });
    if (status !== rec.status || deploy.id !== rec.deployId) {
      if (!await ctx.deployments.transition(rec.id, status, 'render', { ...deployFields(deploy, rec), watchChecks: checks })) return null;
    } else if (deploy.commit?.id && deploy.commit.id !== rec.renderCommitId) {
      if (!await ctx.deployments.update(rec.id, deployFields(deploy, rec))) return null;
    }
    // Nothing changed: nothing is written or published. Rewriting the record (and waking every SSE
    // client) on each unchanged check was ~3 Redis round trips of a check's cost, and a worker watching
    // thousands of deploys spends most of its time on such checks (see bench/). A deploy canceled or
    // revoked meanwhile is seen at the next check, whose job starts by reloading the record.
  }
  // Backoff from the time spent watching, not a stored count: after n checks of a geometric schedule
  // (initialMs × factor^k) the elapsed time is initialMs × (factor^n − 1) / (factor − 1), so the next
  // delay, initialMs × factor^n, is initialMs + (factor − 1) × elapsed. Same cadence, no write needed.
  const { initialMs, factor, maxDelayMs } = ctx.watch;
  const watching = Math.max(0, ctx.clock.now() - started);
  return Math.min(maxDelayMs, Math.round(initialMs + (factor - 1) * watching));
}

/**
 * Past this, the watch gives the deploy up (watch_timeout). Checked only when a look starts: a wait
 * between looks (a 429's Retry-After, deployTask.ts) ends by then.
 */
export const watchBoundAt = (ctx: WorkerContext, rec: DeploymentRecord): number => Date.parse(rec.deployRequestedAt ?? rec.createdAt) + ctx.watch.maxMs;

function failureFor(status: DeploymentStatus): DeploymentFailure | null {
  if (status === 'live' || status === 'deactivated') return null;
  return { code: status, message: FAILURE_TEXT[status] ?? 'The deploy did not complete.' };
}
