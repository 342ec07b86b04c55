import type { DeploymentRecord } from './types.js';

/**
 * Where deployment records live in Redis (docs/internals/redis-data.md): a hash per record, a
 * sorted set per user (newest first), a set of the user's unfinished ones, a pub/sub channel per
 * user for live updates, and the per-service indexes (deactivation, deleted-service reconciliation).
 */
export function deploymentKeys(prefix: string) {
  return {
    record: (id: string) => `${prefix}:deployment:${id}`,
    /** Its sealed env values (envVars.ts), deleted by the record write that ends it (transition.ts). */
    env: (id: string) => `${prefix}:deployment:${id}:env`,
    byUser: (userId: number) => `${prefix}:user:${userId}:deployments`,
    /**
     * Every user's deployments still `queued` (zset: id → creation time, or when the orphan sweep last
     * looked at it): where workers/orphanSweep.ts finds a record whose job was never added.
     */
    queued: `${prefix}:deployments:queued`,
    /**
     * The queued index's one-time backfill from the records (listing.ts backfillQueued): `done` once
     * it ran to the end; `lock` while a worker runs it.
     */
    queuedBackfill: { done: `${prefix}:deployments:queued:backfilled`, lock: `${prefix}:deployments:queued:backfill-lock` },
    active: (userId: number) => `${prefix}:user:${userId}:active`,
    /**
     * The user's deploy jobs not yet started (zset: id → enqueue time): the fair enqueuer's priority
     * (server/queues/deployQueue.ts). Left by the job's first run, and by the record write that moves
     * the record off `queued` (a job canceled or revoked before it ran, transition.ts).
     */
    pending: (userId: number) => `${prefix}:user:${userId}:pending`,
    channel: (userId: number) => `${prefix}:events:${userId}`,
    /** A user's deployments of one Render service (zset by creation time). */
    byService: (userId: number, serviceId: string) => `${prefix}:user:${userId}:service:${serviceId}`,
    /** The Render services a user's deployments point at: serviceId → workspace id. */
    services: (userId: number) => `${prefix}:user:${userId}:services`,
    /**
     * Which of our deployments a Render deploy is: taken by a look that found it by matching
     * (workers/tasks/ownDeploy.ts), or set by the record write that names it (recordWrites.ts).
     */
    deployClaim: (deployId: string) => `${prefix}:deploy-claim:${deployId}`,
    /** Which of our deployments is creating a service under a name in a workspace (nameClaims.ts). */
    nameClaim: (ownerId: string, name: string) => `${prefix}:name-claim:${ownerId}:${name}`,
    /** That claim's creation sent: `<claim>@<first send ms>`, bound to the claim's value (nameClaims.ts). */
    nameSent: (ownerId: string, name: string) => `${prefix}:name-sent:${ownerId}:${name}`,
    /** Which of our deployments is checking a redeploy's commit on a service, or triggering it until Render answers (redeployChecks.ts). */
    redeployCheck: (serviceId: string) => `${prefix}:redeploy-check:${serviceId}`,
  };
}
export type DeploymentKeys = ReturnType<typeof deploymentKeys>;

/** What every record write publishes on the owner's channel (server/events/hub.ts → SSE `deployment`). */
export const deploymentEvent = (rec: DeploymentRecord) => JSON.stringify({ type: 'deployment', id: rec.id, status: rec.status, updatedAt: rec.updatedAt });
