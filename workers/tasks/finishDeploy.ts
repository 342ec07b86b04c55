import { isTerminal, type DeploymentRecord, type DeploymentStatus, type DeploymentFailure } from '../../server/deployments/types.js';
import { asReplaced, type Amend } from '../../server/deployments/recordWrites.js';
import { timeUs } from '../../server/deployments/logWindows.js';
import type { WorkerContext } from '../context.js';

/**
 * Render's order of two of a service's deploys, by Render's `createdAt` of each (its clock, to the
 * microsecond; Render runs a service's deploys in the order it made them, and a rollback or a redeploy of
 * a commit already live is a new deploy, newer than every one before it): negative when `a` was made
 * first, positive when `b` was. Null when either is unknown (a record made before the time was kept)
 * or they are the same: the caller then falls back on our own times.
 */
function renderOrder(a: string | null | undefined, b: string | null | undefined): number | null {
  const ua = a ? timeUs(a) : null;
  const ub = b ? timeUs(b) : null;
  return ua === null || ub === null || ua === ub ? null : ua - ub;
}

/** A record that went live on Render: `live`, or `deactivated` (live, then replaced). */
const wentLive = (rec: DeploymentRecord) => rec.status === 'live' || rec.status === 'deactivated';

/**
 * Render deactivates a service's previous live deploy when a new one goes live: our records follow, in
 * Render's order of the deploys (renderOrder), not in the order our looks happen to be written (a look
 * held on its way back, a paused worker). Called with the user's other deployments of the service as the
 * live write found them (`ids`; recordWrites.ts OthersOfService: a new service's first deploy has none,
 * and its write reads nothing more), before the record is written:
 * - a deployment of a NEWER deploy of the service went live already: Render replaced this one by then
 *   (its look that said live was old news), so the record is written `deactivated`, replaced by the first
 *   of them to have gone live, and nothing else changes;
 * - otherwise the live records of OLDER deploys become `deactivated`, replaced by this one, done before
 *   this record says live, so whoever sees it live finds the older ones deactivated. A record that
 *   has no Render time (made before it was kept) is judged as before: replaced unless it ended after now.
 */
async function followRenderOrder(ctx: WorkerContext, live: LiveDeploy, at: string, ids: string[], unfinished: Set<string>): Promise<Amend | undefined> {
  const others = await othersOf(ctx, live, ids);
  // Those not ended when read may go live before this write lands: looked at again after it (recheckUnfinished).
  unfinished.clear();
  for (const o of others) if (!isTerminal(o.status)) unfinished.add(o.id);
  const newer = others.filter((o) => wentLive(o) && (renderOrder(o.deployCreatedAt, live.deployCreatedAt) ?? 0) > 0)
    .sort((a, b) => renderOrder(a.deployCreatedAt, b.deployCreatedAt) ?? 0);
  const replacer = newer[0];
  if (replacer) {
    const replacedBy = { deploymentId: replacer.id, deployId: replacer.deployId, at: replacer.finishedAt ?? replacer.updatedAt };
    return (planned) => asReplaced(planned, replacedBy, planned.updatedAt, 'Render had already replaced it with a newer deploy of this service when its live status was read');
  }
  await replaceOlder(ctx, live, at, others);
  return undefined;
}

type LiveDeploy = Pick<DeploymentRecord, 'id' | 'deployId' | 'deployCreatedAt'>;

/** The service's other deployments among `ids`, as stored now (the same deploy of Render's left out). */
async function othersOf(ctx: WorkerContext, live: LiveDeploy, ids: string[]): Promise<DeploymentRecord[]> {
  const read = await Promise.all(ids.filter((id) => id !== live.id).map((id) => ctx.deployments.get(id)));
  return read.filter((r): r is DeploymentRecord => r !== null && !(r.deployId && r.deployId === live.deployId));
}

/**
 * The live records of deploys older than `live` become `deactivated`, replaced by it. A record without
 * Render's time (made before it was kept) is judged by ours: replaced unless it ended after `at`.
 */
async function replaceOlder(ctx: WorkerContext, live: LiveDeploy, at: string, others: DeploymentRecord[]): Promise<void> {
  for (const older of others) {
    if (older.status !== 'live') continue;
    const order = renderOrder(older.deployCreatedAt, live.deployCreatedAt);
    if (order === null ? Date.parse(older.finishedAt ?? older.updatedAt) > Date.parse(at) : order > 0) continue;
    await ctx.deployments.markReplaced(older.id, { deploymentId: live.id, deployId: live.deployId, at });
  }
}

/**
 * After the live write landed: the deployments of the service that were not ended when the write read them.
 * Two live writes of one service at the same moment (a redeploy and the rollback Render ran right after it:
 * a rollback has no build) each read the other before it was written, and both records stayed live. Each
 * write is stored before this look, so at least one of the two sees the other live: the older of them
 * becomes `deactivated` whichever it is. Nothing to read when every other deployment had ended (the usual case).
 */
async function recheckUnfinished(ctx: WorkerContext, done: DeploymentRecord, at: string, unfinished: Set<string>): Promise<DeploymentRecord> {
  if (unfinished.size === 0 || done.status !== 'live') return done;
  // Render's order known for both only: without it (records made before it was kept), a service list reconciles.
  const others = (await othersOf(ctx, done, [...unfinished])).filter((o) => o.status === 'live' && renderOrder(o.deployCreatedAt, done.deployCreatedAt) !== null);
  const newer = others.filter((o) => renderOrder(o.deployCreatedAt, done.deployCreatedAt)! > 0).sort((a, b) => renderOrder(a.deployCreatedAt, b.deployCreatedAt) ?? 0)[0];
  if (newer) return await ctx.deployments.markReplaced(done.id, { deploymentId: newer.id, deployId: newer.deployId, at: newer.finishedAt ?? newer.updatedAt }) ?? done;
  for (const older of others) await ctx.deployments.markReplaced(older.id, { deploymentId: done.id, deployId: done.deployId, at });
  return done;
}

/**
 * The deployment's final status (live written `deactivated` when a newer deploy of the service went live
 * first: followRenderOrder), with older live records and the finished metrics and audit. `rec` is
 * the record as this run last had it: its ids are enough, so nothing is re-read. Returns the final
 * record as written (null when the record had ended meanwhile), which the job's end uses instead of
 * reading it back: the env values' deletion, the service list, the commit status and Slack are
 * issued there together (deployTask.ts deployEnded, one round trip instead of two). `decidedHere`: a
 * step of ours ended it (a redeploy skipped as canceled), not Render.
 */
export async function finish(ctx: WorkerContext, rec: DeploymentRecord, status: DeploymentStatus, failure: DeploymentFailure | null, extra: Partial<DeploymentRecord> = {}, decidedHere = false): Promise<DeploymentRecord | null> {
  const { id } = rec;
  const at = new Date(ctx.clock.now()).toISOString();
  // The deploy as this write names it (a look's deployFields, renderDeploy.ts), else as the record had it.
  const live = { id, deployId: extra.deployId ?? rec.deployId, deployCreatedAt: 'deployCreatedAt' in extra ? extra.deployCreatedAt : rec.deployCreatedAt };
  // Best effort: a later service list reconciles what this misses.
  const unfinished = new Set<string>();
  const warn = (err: Error) => { ctx.logger.warn({ deploymentId: id, err: { message: err.message } }, 'could not mark older deploys replaced'); };
  const replaceOlderOnes = status === 'live' && (extra.serviceId ?? rec.serviceId)
    ? (ids: string[]) => followRenderOrder(ctx, live, at, ids, unfinished).catch(warn)
    : undefined;
  // The finished entry's audit heads are read in the final write's round trip, so its append follows
  // with the job's other end commands (deployTask.ts deployEnded) instead of reading them first.
  ctx.prefetchAudit?.(rec.userId);
  const written = await ctx.deployments.transition(id, status, decidedHere || status === 'failed' || status === 'credentials_revoked' ? 'orchestrator' : 'render', { ...extra, failure }, failure?.message, [], replaceOlderOnes);
  const done = written && await recheckUnfinished(ctx, written, at, unfinished).catch((err: Error) => { warn(err); return written; });
  if (done) ctx.onFinished?.(done.status, Date.parse(done.finishedAt ?? done.updatedAt) - Date.parse(done.createdAt), { deploymentId: done.id, userId: done.userId, sessionRef: done.sessionRef });
  return done;
}
