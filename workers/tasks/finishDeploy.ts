import type { DeploymentRecord, DeploymentStatus, DeploymentFailure } from '../../server/deployments/types.js';
import type { WorkerContext } from '../context.js';

/**
 * Render deactivates a service's previous live deploy when a new one goes live: our records follow.
 * Done before the new record says live, so whoever sees it live finds the older one deactivated. `ids`:
 * the user's other deployments of the service, as the live write found them (recordWrites.ts
 * OthersOfService: a new service's first deploy has none, and its write reads nothing more).
 */
async function replaceOlderLive(ctx: WorkerContext, live: Pick<DeploymentRecord, 'id' | 'deployId'>, at: string, ids: string[]) {
  for (const id of ids) {
    if (id === live.id) continue;
    const older = await ctx.deployments.get(id);
    if (older?.status !== 'live' || Date.parse(older.finishedAt ?? older.updatedAt) > Date.parse(at)) continue;
    await ctx.deployments.markReplaced(id, { deploymentId: live.id, deployId: live.deployId, at });
  }
}

/**
 * The deployment's final status, with older live records and the finished metrics and audit. `rec` is
 * the record as this run last had it: its ids are enough, so nothing is re-read. Returns the final
 * record as written (null when the record had ended meanwhile), which the job's end uses instead of
 * reading it back: the env values' deletion, the service list, the commit status and Slack are
 * issued there together (deployTask.ts deployEnded, one round trip instead of two). `decidedHere`: a
 * step of ours ended it (a redeploy skipped as canceled), not Render.
 */
export async function finish(ctx: WorkerContext, rec: DeploymentRecord, status: DeploymentStatus, failure: DeploymentFailure | null, extra: Partial<DeploymentRecord> = {}, decidedHere = false): Promise<DeploymentRecord | null> {
  const { id } = rec;
  const at = new Date(ctx.clock.now()).toISOString();
  // Best effort: a later service list reconciles what this misses.
  const replaceOlder = status === 'live' && (extra.serviceId ?? rec.serviceId)
    ? (ids: string[]) => replaceOlderLive(ctx, { id, deployId: extra.deployId ?? rec.deployId }, at, ids)
        .catch((err: Error) => ctx.logger.warn({ deploymentId: id, err: { message: err.message } }, 'could not mark older deploys replaced'))
    : undefined;
  // The finished entry's audit heads are read in the final write's round trip, so its append follows
  // with the job's other end commands (deployTask.ts deployEnded) instead of reading them first.
  ctx.prefetchAudit?.(rec.userId);
  const done = await ctx.deployments.transition(id, status, decidedHere || status === 'failed' || status === 'credentials_revoked' ? 'orchestrator' : 'render', { ...extra, failure }, failure?.message, [], replaceOlder);
  if (done) ctx.onFinished?.(status, Date.parse(done.finishedAt ?? done.updatedAt) - Date.parse(done.createdAt), { deploymentId: done.id, userId: done.userId, sessionRef: done.sessionRef });
  return done;
}
