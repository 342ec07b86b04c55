import type { AppDeps } from '../deps.js';
import type { DeploymentStore } from './store.js';
import { errors } from '../errors.js';
import { RenderApiError, type RenderClient } from '../render/client.js';
import { removeDeployJob, requeueDeployJob } from '../queues/deployQueue.js';
import { requestCommitStatus } from '../queues/commitStatusQueue.js';
import { discardKeySessionOf } from '../bearer/keySessions.js';
import { isInProgressOnRender } from './renderStatus.js';
import { isTerminal, type DeploymentRecord } from './types.js';
import { isGone, workspaceStillSeen } from '../render/serviceOverview.js';
import { endDeploymentsOfDeletedService } from './serviceDeleted.js';

/**
 * The owner cancels a deployment that has not finished: Render's deploy is canceled first when it
 * is still running there, then the record becomes `canceled` (a compare-and-set that wins over a
 * late worker write, and deletes its sealed env values), its job goes, and a per-request key
 * (X-Render-Api-Key) ends with it. A deploy Render queued (202) without our knowing its id yet, one
 * the ask on its way as the cancel lands may make, one still waiting in Render's queue (which
 * cancels a deploy only once it starts), and a new service's first deploy the worker had not stopped,
 * found or adopted yet are left to a job of its own instead: the worker finds it (by what was asked, its
 * id, or as the service's first deploy) and cancels it on Render (workers/tasks/canceledAsk.ts), which
 * ends that key when it is done. So is a service whose creation's answer was lost, its retry waiting
 * (lostCreationMayExist): the job looks it up by name first.
 * `render` is asked for only when there is a Render deploy to cancel. Returns the record as it now is.
 * A service Render no longer has (deleted on its dashboard, or through the app while this deployment
 * still said "Building") ends the deployment `service_deleted` and answers as one that ended meanwhile
 * (endedWithItsService).
 */
export async function cancelDeployment(deps: AppDeps, rec: DeploymentRecord, render: () => RenderClient, keyOf: () => string | undefined = () => undefined): Promise<DeploymentRecord> {
  if (isTerminal(rec.status)) throw errors.conflict('deployment_finished', `This deployment already ended (${rec.status}).`);
  const onRender = rec.serviceId && rec.deployId ? await cancelOnRenderUnlessGone(deps, rec, rec.serviceId, rec.deployId, render(), keyOf()) : 'none';
  // The worker's write of the end wins when it came first: nothing was canceled — unless the end it
  // wrote is Render's cancel that this request made (its watch looked between our two steps).
  const canceled = await deps.deployRequests.markCanceled(rec.id) ?? (onRender === 'canceled' ? await endedByOurCancel(deps, rec.id) : null);
  if (!canceled) throw errors.conflict('deployment_finished', 'This deployment ended before the cancel reached it.');
  // Its env values went with the canceled write (transition.ts); its job goes now, or is started
  // again to cancel the deploy still owed a cancel on Render (removing it alone left that deploy to go live).
  if (onRender === 'queued' || cancelOwedOnRender(canceled) || await lostCreationMayExist(deps.deployments, canceled)) {
    await requeueDeployJob(deps.queue, { deploymentId: rec.id, userId: rec.userId, requestMac: rec.requestMac });
    return canceled;
  }
  await removeDeployJob(deps.queue, rec.id);
  // Removed, the job asks for no status: the commit would say "pending" for ever. (A deploy still owed a
  // cancel gets its status when its job's follow-up ends: it may yet go live, canceledAsk.ts.)
  await Promise.all([requestCommitStatus(deps, canceled, 'final'), discardKeySessionOf(deps, rec)]);
  return canceled;
}

/**
 * A canceled deployment whose deploy on Render its job still has to cancel (workers/tasks/canceledAsk.ts):
 * - one its ask may have made that was never named to us, found only by what was asked
 *   (workers/tasks/ownDeploy.ts): Render answered 202 (render_queued) before the deploy it queued was
 *   listed, or the cancel landed while the ask was on its way (canceledWhileAsking: the run that asked
 *   cannot record what Render answered on a canceled record);
 * - one named to us while it waited in Render's queue (render_queued): Render cancels a deploy only
 *   once it has left the queue (docs/render-api.md §6.4);
 * - a new service's first deploy, never named to us, canceled before a deploy was named or asked for
 *   (firstDeployOwedCancel: from `creating_service`, `created` or `triggering_deploy`).
 */
export function cancelOwedOnRender(rec: DeploymentRecord): boolean {
  if (rec.status !== 'canceled' || !rec.serviceId) return false;
  if (rec.deployId) return statusBeforeCancel(rec) === 'render_queued';
  if (firstDeployOwedCancel(rec)) return true;
  return Boolean(rec.deployRequestedAt) && (rec.timeline.some((e) => e.status === 'render_queued') || canceledWhileAsking(rec));
}

/**
 * A deploy canceled after it created its service and before it named or asked for a deploy: the
 * service's first deploy, which Render started with the service and which we never named, may still
 * run. Canceled from
 * - `creating_service` while Render created it: the run that created it notes the service on the
 *   canceled record (createService.ts recordCreated: noteAfterEnd), or, the creation's answer lost, the
 *   job's look by name does (lostCreationMayExist); its first deploy is its own;
 * - `created` (no commit named; the creation's answer named no deploy, and the watch had not found it
 *   yet: ownDeploy.ts deployToWatch): it is this deployment's own (the record's deployRequestedAt is
 *   the creation's ask, createService.ts recordCreated);
 * - `triggering_deploy` with no ask marked: it builds the branch's head, being stopped before a named
 *   commit is asked for (workers/tasks/branchHead.ts: a stop that failed is retried by the job the
 *   cancel would remove), or it is this deployment's own, not adopted yet (a creation whose answer was
 *   lost, or named no deploy: ownDeploy.ts deployAlreadyOurs).
 * A deploy's record only: a redeploy's or rollback's service existed before it, and its first deploy is
 * not theirs (the worker also takes only a first deploy made after the record: firstDeployOfNewService).
 */
export function firstDeployOwedCancel(rec: DeploymentRecord): boolean {
  if (rec.status !== 'canceled' || rec.kind !== 'deploy' || !rec.serviceId || rec.deployId) return false;
  const before = statusBeforeCancel(rec);
  return before === 'creating_service' || before === 'created' || (before === 'triggering_deploy' && !rec.deployRequestedAt);
}

/**
 * A deploy canceled in `creating_service` with no service on its record, after it sent its creation
 * (its claim of the service's name marked sent just before: workers/tasks/createService.ts): that
 * creation may have reached Render with the answer lost (a timeout, a reset, a worker that died), its
 * retry waiting. That service's first deploy may run, and nothing but a look by name finds it: the
 * deployment's job looks, as the retry would (createService.ts serviceOfLostCreation: under the name,
 * made after the send, of its repo, branch and workspace, held by none of our other deployments), notes
 * the service on the canceled record, and cancels that first deploy (firstDeployOwedCancel).
 * A claim that is not its own (another deployment's, or lost with Redis' writes), or its own with no
 * creation sent (the run stopped before it: out of budget, a crash, this cancel), owes nothing: read as a
 * creation sent, the claim alone had the look take a service of its repo made under the name on the
 * dashboard for its own, and cancel that one's first deploy.
 */
export async function lostCreationMayExist(store: Pick<DeploymentStore, 'serviceNameClaim'>, rec: DeploymentRecord): Promise<boolean> {
  if (!canceledCreating(rec)) return false;
  const claim = await store.serviceNameClaim(rec.request.ownerId, rec.request.serviceName);
  return claim?.id === rec.id && claim.creationSentAt !== null;
}

/** A deploy canceled in `creating_service` before a service was noted on its record. */
export function canceledCreating(rec: DeploymentRecord): boolean {
  return rec.status === 'canceled' && rec.kind === 'deploy' && !rec.serviceId && statusBeforeCancel(rec) === 'creating_service';
}

/**
 * A cron job, as detected or chosen (a deploy) or as Render has it (a redeploy's request). Render's Cancel
 * deploy is "not supported for cron jobs" (docs/render-api.md, "Service types"), so its deploy on Render is
 * never asked to stop (a 400, whatever its status); nor does Render take a commitId for one (renderDeploy.ts).
 */
export const isCronJob = (rec: DeploymentRecord): boolean => (rec.stack?.serviceType ?? rec.request.serviceType) === 'cron_job';

/** When the cancel was written (a canceled record's last canceled entry). */
export function canceledAt(rec: DeploymentRecord): number {
  const entry = rec.timeline.findLast((e) => e.status === 'canceled');
  return entry ? Date.parse(entry.at) : Date.parse(rec.updatedAt);
}

/** Canceled straight from triggering_deploy after its ask was marked (deployRequestedAt): the ask may have reached Render. */
export function canceledWhileAsking(rec: DeploymentRecord): boolean {
  return rec.status === 'canceled' && Boolean(rec.deployRequestedAt) && statusBeforeCancel(rec) === 'triggering_deploy';
}

/** The status a canceled record had when the cancel came. */
function statusBeforeCancel(rec: DeploymentRecord): string | undefined {
  const at = rec.timeline.findLastIndex((e) => e.status === 'canceled');
  return at > 0 ? rec.timeline[at - 1]!.status : undefined;
}

/** The record, when the worker recorded it canceled: Render's end it saw is the cancel we just made. */
async function endedByOurCancel(deps: AppDeps, id: string): Promise<DeploymentRecord | null> {
  const now = await deps.deployments.get(id);
  return now?.status === 'canceled' ? now : null;
}

/**
 * cancelOnRender, unless Render's 404 (the deploy's read, or its cancel) is the service's own: deleted on
 * Render (its dashboard, another client of the key) and the deployment not told yet. It cannot go on:
 * it ends as the worker ends it when a step meets that 404 (workers/tasks/serviceGone.ts), with the
 * user's other unfinished deployments of the service, and the cancel is answered as one that found it
 * ended (409 deployment_finished, saying why), instead of the bare "Resource not found." of a 404 that
 * the user's own deployment page cannot explain. Any other 404 is answered as before.
 */
async function cancelOnRenderUnlessGone(deps: AppDeps, rec: DeploymentRecord, serviceId: string, deployId: string, client: RenderClient, keyFingerprint: string | undefined): Promise<'canceled' | 'was_canceled' | 'queued'> {
  try {
    return await cancelOnRender(client, serviceId, deployId, isCronJob(rec));
  } catch (err) {
    // Only the deployment's own key can tell "deleted" from "not this key's": a cancel sent from a session that
    // holds another workspace's key met Render's 404 for a service that still runs, and ended all its deployments.
    // Nor can a key whose user has left the deployment's workspace on Render since (its services answer it 404 too).
    if (!(err instanceof RenderApiError && err.kind === 'not_found') || keyFingerprint !== rec.keyFingerprint || !(await isGone(client, serviceId))
      || !(await workspaceStillSeen(client, rec.request.ownerId))) throw err;
    throw await endedWithItsService(deps, rec, serviceId, err);
  }
}

/**
 * The answer to a cancel whose deployment's service is gone on Render, once its deployments ended so (the
 * worker's look may have ended it first). `notFound`, Render's 404, when the record could not be ended
 * (it failed its MAC: its job refuses it).
 */
async function endedWithItsService(deps: AppDeps, rec: DeploymentRecord, serviceId: string, notFound: unknown) {
  // Every deployment of it says so from now on, as serviceGone.ts does (best effort: the next service list marks them too).
  await deps.deployments.markServiceDeleted(rec.userId, serviceId).catch(() => 0);
  await endDeploymentsOfDeletedService(deps, rec.userId, serviceId);
  const now = await deps.deployments.get(rec.id).catch(() => null);
  if (!now || !isTerminal(now.status)) return notFound;
  if (now.failure?.code === 'service_deleted') {
    return errors.conflict('deployment_finished', 'The service was deleted on Render, so there is no deploy left to cancel: this deployment has ended (service deleted).');
  }
  return errors.conflict('deployment_finished', `This deployment already ended (${now.status}).`);
}

/**
 * Cancels the deploy on Render when it still runs there: 'canceled' by this call, 'was_canceled'
 * before it, or 'queued': still in Render's queue, which cancels it only once it starts (its job will).
 */
async function cancelOnRender(client: RenderClient, serviceId: string, deployId: string, cronJob: boolean): Promise<'canceled' | 'was_canceled' | 'queued'> {
  const deploy = await client.getDeploy(serviceId, deployId);
  // Ended on Render before the worker saw it (live, failed): nothing to cancel, the worker records it.
  if (!isInProgressOnRender(deploy.status) && deploy.status !== 'canceled') {
    throw errors.conflict('deployment_finished', `This deploy already ended on Render (${deploy.status ?? 'finished'}).`);
  }
  if (!isInProgressOnRender(deploy.status)) return 'was_canceled';
  // Render's Cancel deploy is "not supported for cron jobs" (its spec), queued or running: said in our words,
  // with what can be done, without asking (Render's answer, whatever its status and words, changes nothing).
  if (cronJob) throw errors.conflict('render_conflict', 'Render cannot cancel a cron job\'s deploy (its API does not support it), so this one runs to its end. To stop the job\'s runs, suspend the cron job on its page.');
  if (deploy.status === 'queued') return 'queued';
  try {
    await client.cancelDeploy(serviceId, deployId);
    return 'canceled';
  } catch (err) {
    // It ended on Render between our look and the cancel (Render answers 400): say so, change nothing.
    if (!(err instanceof RenderApiError) || err.status !== 400) throw err;
    const now = await client.getDeploy(serviceId, deployId);
    if (isInProgressOnRender(now.status)) throw err;
    throw errors.conflict('deployment_finished', `This deploy already ended on Render (${now.status ?? 'finished'}).`);
  }
}
