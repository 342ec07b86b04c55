import type { Job } from 'bullmq';
import { safeEqual } from '../../server/crypto/keyring.js';
import { isTerminal, type DeploymentRecord } from '../../server/deployments/types.js';
import type { DeployJobData } from '../../server/queues/deployQueue.js';
import type { WorkerContext } from '../context.js';

/** Why a job was refused (audit reason codes). */
type Refusal = 'record_mac_invalid' | 'job_mac_invalid' | 'job_not_for_record';

/**
 * The first step of every deploy job run, before any session, GitHub or Render call: the record
 * must carry a valid MAC (the store checks it; a record made under SECRET_KEY_PREVIOUS verifies and
 * is re-signed), and the job must be that record's own job — its id is the deployment id, its user
 * is the record's, and it carries the record's requestMac. Someone who can write Redis but does not
 * hold SECRET_KEY can neither forge nor alter either.
 *
 * Returns the verified record, or null when there is nothing to do (gone, or refused: then a
 * security event is raised and, when the record belongs to a real user, it ends `record_tampered`).
 */
/** The deployment id a job names, '' when its data names none (a job's data is whatever Redis holds: a Redis writer's null included). */
export function jobDeploymentId(job: Job<DeployJobData>): string {
  const id: unknown = (job.data as Partial<DeployJobData> | null)?.deploymentId;
  return typeof id === 'string' ? id : '';
}

export async function verifiedRecord(ctx: WorkerContext, job: Job<DeployJobData>): Promise<DeploymentRecord | null> {
  const data = (job.data ?? {}) as Partial<Record<keyof DeployJobData, unknown>>;
  const deploymentId = jobDeploymentId(job);
  const found = await ctx.deployments.inspect(deploymentId);
  if (found.state === 'missing') return null;
  if (found.state === 'tampered') {
    await refuse(ctx, deploymentId, found.claimedUserId, 'record_mac_invalid', found.stored);
    return null;
  }
  const rec = found.record;
  const signedJob = typeof data.requestMac === 'string' && safeEqual(data.requestMac, rec.requestMac);
  if (job.id === rec.id && data.userId === rec.userId && signedJob) return rec;
  if (job.id !== rec.id || isTerminal(rec.status)) {
    // An extra job aimed at a genuine record, or a finished one's job replayed: refuse it, and leave
    // the record as it is (to its own job, or to its history).
    await raise(ctx, deploymentId, rec.userId, job.id !== rec.id ? 'job_not_for_record' : 'job_mac_invalid');
    return null;
  }
  // The record's own job, altered or unsigned: that deployment cannot run safely any more.
  await refuse(ctx, deploymentId, rec.userId, 'job_mac_invalid', rec);
  return null;
}

async function refuse(ctx: WorkerContext, deploymentId: string, userId: number | null, reason: Refusal, stored: unknown): Promise<void> {
  // A real user's deployment is one listed under that user; a stray key's claimed owner is not trusted.
  const owner = userId !== null && await ctx.deployments.listedFor(deploymentId, userId) ? userId : null;
  if (owner !== null) {
    const rec = await ctx.deployments.quarantine(deploymentId, owner, stored);
    await ctx.enqueuer.started({ deploymentId, userId: owner });
    ctx.onFinished?.('failed', 0, { deploymentId: rec.id, userId: owner, sessionRef: rec.sessionRef });
  }
  await ctx.envVault.drop(deploymentId);
  await raise(ctx, deploymentId, owner, reason);
}

async function raise(ctx: WorkerContext, deploymentId: string, userId: number | null, reason: Refusal): Promise<void> {
  ctx.logger.warn({ deploymentId, userId, reason }, 'deploy job refused: integrity check failed');
  await ctx.securityEvents?.raise({
    type: 'record_tampered', userId, subject: userId !== null ? `user:${userId}` : 'redis', outcome: 'denied',
    detail: { deploymentId, resource: 'deployment', reason },
    // A deployment nobody owns has no user trail to write to.
    globalOnly: userId === null,
  });
}
