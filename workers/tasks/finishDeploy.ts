import type { DeploymentRecord, DeploymentStatus, DeploymentFailure } from '../../server/deployments/types.js';
import type { WorkerContext } from '../context.js';
import { serviceListChanged } from './createService.js';

/**
 * Render deactivates a service's previous live deploy when a new one goes live: our records follow.
 * Done before the new record says live, so whoever sees it live finds the older one deactivated.
 */
async function replaceOlderLive(ctx: WorkerContext, live: Pick<DeploymentRecord, 'id' | 'userId' | 'serviceId' | 'deployId'>, at: string) {
  for (const id of await ctx.deployments.idsOfService(live.userId, live.serviceId!)) {
    if (id === live.id) continue;
    const older = await ctx.deployments.get(id);
    if (older?.status !== 'live' || Date.parse(older.finishedAt ?? older.updatedAt) > Date.parse(at)) continue;
    await ctx.deployments.markReplaced(id, { deploymentId: live.id, deployId: live.deployId, at });
  }
}

/**
 * The deployment's final status, with what ending it entails (older live records, caches, metrics, env
 * values). `rec` is the record as this run last had it: its ids are enough, so nothing is re-read.
 * Returns the final record as written (null when the record had ended meanwhile), which the job's
 * end (commit status, Slack) uses instead of reading it back.
 */
export async function finish(ctx: WorkerContext, rec: DeploymentRecord, status: DeploymentStatus, failure: DeploymentFailure | null, extra: Partial<DeploymentRecord> = {}): Promise<DeploymentRecord | null> {
  const { id } = rec;
  const serviceId = extra.serviceId ?? rec.serviceId;
  if (status === 'live' && serviceId) {
    // Best effort: a later service list reconciles what this misses.
    await replaceOlderLive(ctx, { id, userId: rec.userId, serviceId, deployId: extra.deployId ?? rec.deployId }, new Date(ctx.clock.now()).toISOString())
      .catch((err: Error) => ctx.logger.warn({ deploymentId: id, err: { message: err.message } }, 'could not mark older deploys replaced'));
  }
  const done = await ctx.deployments.transition(id, status, status === 'failed' || status === 'credentials_revoked' ? 'orchestrator' : 'render', { ...extra, failure }, failure?.message);
  if (done) ctx.onFinished?.(status, Date.parse(done.finishedAt ?? done.updatedAt) - Date.parse(done.createdAt), { deploymentId: done.id, userId: done.userId, sessionRef: done.sessionRef });
  // Issued together: one round trip on the auto-pipelined connection instead of two.
  await Promise.all([done?.serviceId ? serviceListChanged(ctx, done) : null, ctx.envVault.drop(id)]);
  return done;
}
