import type { AppDeps } from '../deps.js';
import { RecordTamperedError } from './integrity.js';
import { removeDeployJob } from '../queues/deployQueue.js';
import { requestCommitStatus } from '../queues/commitStatusQueue.js';
import { discardKeySessionOf } from '../bearer/keySessions.js';
import type { DeploymentFailure, DeploymentRecord } from './types.js';

/**
 * Why a deployment whose service Render no longer has ended: one text for every path that ends it so,
 * the worker's (workers/tasks/serviceGone.ts, a step's 404) and the web's (endDeploymentsOfDeletedService).
 */
export function serviceDeletedFailure(serviceId: string): DeploymentFailure {
  return { code: 'service_deleted', message: `The service was deleted on Render (${serviceId}), so this deploy cannot go on. Deploy the repository again to create a new service.` };
}

/**
 * The web learnt that Render no longer has the service (a delete through the app, or a cancel that met
 * its 404): the user's deployments of it that have not ended end now, `failed` / `service_deleted`, as the
 * worker ends one when a step meets the 404 (serviceGone.ts), instead of saying "Building" until the
 * worker's next look (up to the watch's longest wait) and posting their commit's failure only then, when
 * a new deploy of the same name and commit may already be live. What follows is the cancel's end
 * (cancel.ts): the job removed, the final commit status asked, a per-request key session ended, and the
 * cached service list dropped (the worker's end does that too: createService.ts serviceListChanged); and, unlike a
 * cancel's, the result posted to the user's Slack when they asked for it.
 * Nothing is owed on Render: the service and its deploys are gone with it.
 *
 * A worker run mid-step on one of them (a look at Render, the trigger) cannot be taken off its job:
 * removeDeployJob waits for it (at most 5 s), and that run ends at its next write, which the final record
 * refuses (its own 404 then finds the record ended: deployTask.ts runEnded); a run still holding the job
 * after that stops at its next start, finding the record final. Returns the records this call ended.
 */
export async function endDeploymentsOfDeletedService(
  deps: Pick<AppDeps, 'deployments' | 'queue' | 'sessions' | 'redis' | 'config' | 'logger' | 'commitStatusQueue' | 'upstream' | 'deployResults'>,
  userId: number,
  serviceId: string,
): Promise<DeploymentRecord[]> {
  const [ids, active] = await Promise.all([deps.deployments.idsOfService(userId, serviceId), deps.deployments.activeIds(userId)]);
  const unfinished = new Set(active);
  const failure = serviceDeletedFailure(serviceId);
  const written = await Promise.all(ids.filter((id) => unfinished.has(id)).map((id) =>
    // The same write as the worker's end (workers/tasks/finishDeploy.ts finish): a compare-and-set that a record ended meanwhile refuses.
    deps.deployments.transition(id, 'failed', 'orchestrator', { failure }, failure.message).catch((err: unknown) => {
      // Altered in Redis: left to its job, which refuses it (verifyJob.ts) and drops its values.
      if (err instanceof RecordTamperedError) return null;
      throw err;
    })));
  const ended = written.filter((rec): rec is DeploymentRecord => rec !== null);
  // The result to the user's Slack, as the worker's end sends it: that end will not come, its job is gone. Not
  // awaited: the answer to the delete (or cancel) does not wait for the user's webhook; it never throws.
  for (const rec of ended) void deps.deployResults?.(rec);
  await Promise.all(ended.map((rec) => Promise.all([
    removeDeployJob(deps.queue, rec.id),
    requestCommitStatus(deps, rec, 'final'),
    discardKeySessionOf(deps, rec),
    deps.upstream.serviceCache.invalidate({ userId: rec.userId, keyFingerprint: rec.keyFingerprint }).catch(() => undefined),
  ])));
  return ended;
}
