import type { Redis } from 'ioredis';
import type { DeploymentStore } from '../deployments/store.js';
import { presentService, wasLive, type PresentedService } from '../presenters/service.js';
import type { RenderClient } from './client.js';
import { RenderApiError, RenderKeyWithdrawn } from './errors.js';
import type { Deploy, Service } from './types.js';
import { IN_PROGRESS_ON_RENDER, isInProgressOnRender } from '../deployments/renderStatus.js';

/** Latest-deploy look-ups in flight at once for one list (each is one Render GET from the caller's budget). */
const DEPLOY_LOOKUPS = 6;

interface OverviewCaller { client: RenderClient; ownerIds: readonly string[]; userId: number }

/** How long what was learnt of a service's history is kept (refreshed at each learning). */
const BEEN_LIVE_TTL_SEC = 30 * 24 * 3600;

/**
 * What the overview learnt of each service's history, in Redis (`been-live:<serviceId>`):
 * `<newest deploy id> <1|0>`. It changes only with a new deploy (a rollback included), and once true
 * stays true, so a service whose newest deploy is not live costs its extra Render GET once per new
 * deploy, not at every refresh (a workspace of 100 failed services would double each refresh's reads).
 * Keyed by service alone: it says only what Render tells any key that lists the service.
 */
export interface BeenLiveMemo { redis: Redis; prefix: string }
const beenLiveKey = (m: BeenLiveMemo, serviceId: string) => `${m.prefix}:been-live:${serviceId}`;

/**
 * The caller's services as the dashboard shows them: each with its latest deploy (so a service whose
 * last build broke says so) and whether it has ever been live, and the caller's deployment records
 * brought in line with what Render reports: a service gone from Render marks its deployments "service
 * deleted", and a live record whose deploy Render has since replaced (a push, the Render dashboard)
 * becomes `deactivated`. Runs once per cache period (see serviceCache.ts), not per request.
 */
export async function loadServiceOverview(caller: OverviewCaller & { now: () => number }, deployments: DeploymentStore, memo: BeenLiveMemo): Promise<PresentedService[]> {
  const askedAt = caller.now();
  // The services our records point at are read while Render answers: no round trip of their own after it.
  const known = deployments.servicesOfUser(caller.userId);
  known.catch(() => undefined); // awaited below; a Render failure first must not leave it unhandled
  const listed = await caller.client.listServices({ ownerId: [...caller.ownerIds] });
  const { services, looked } = withoutGone(listed, await latestDeploysOf(caller, listed, memo));
  const latest = looked.map((l) => l.newest);
  await reconcileRecords(caller, deployments, await known, services, latest, askedAt);
  return services.map((s, i) => presentService(s, latest[i], looked[i]!.beenLive ?? undefined));
}

/**
 * The caller's services named exactly `name` (in the session's workspaces), presented as the overview
 * presents them, for a client that wants one service (CI): Render's list filtered by name (one list
 * call), and the latest deploy read for those services alone, not for every service of the key. Not
 * cached and no reconciling of records: a part of the list says nothing of the services it leaves out.
 */
export async function loadServicesNamed(caller: OverviewCaller, name: string, memo: BeenLiveMemo): Promise<PresentedService[]> {
  const listed = await caller.client.listServices({ ownerId: [...caller.ownerIds], name });
  // Render's filter decides what it answers; the match here is the exact name, in these workspaces.
  const named = listed.filter((s) => s.name === name && caller.ownerIds.includes(s.ownerId));
  const { services, looked } = withoutGone(named, await latestDeploysOf(caller, named, memo));
  return services.map((s, i) => presentService(s, looked[i]!.newest, looked[i]!.beenLive ?? undefined));
}

interface Looked { newest: Deploy | null; beenLive: boolean | null; gone?: true }

/** The services listed and what was looked up of each, less those found deleted on Render meanwhile. */
function withoutGone(services: Service[], looked: Looked[]): { services: Service[]; looked: Looked[] } {
  if (!looked.some((l) => l.gone)) return { services, looked };
  const kept = services.map((s, i) => ({ s, l: looked[i]! })).filter(({ l }) => !l.gone);
  return { services: kept.map(({ s }) => s), looked: kept.map(({ l }) => l) };
}

/**
 * Each service's newest deploy and whether it has ever been live (one Render GET each, a second at most once per new deploy).
 * A service deleted on Render between the list page and its look-up (its Dashboard, another tab) is `gone`, once
 * Render confirms it (isGone): left out of the list, as the next list would, instead of failing the list with a 404.
 */
async function latestDeploysOf(caller: OverviewCaller, services: Service[], memo: BeenLiveMemo): Promise<Looked[]> {
  const remembered = services.length ? await memo.redis.mget(services.map((s) => beenLiveKey(memo, s.id))) : [];
  const learnt: Array<[string, string]> = [];
  const looked = await mapLimited(services.map((s, i) => ({ s, known: remembered[i] ?? null })), DEPLOY_LOOKUPS, async ({ s, known }): Promise<Looked> => {
    let newest: Deploy | null;
    try {
      newest = (await caller.client.listDeploys(s.id, { limit: 1 }))[0] ?? null;
    } catch (err) {
      if (err instanceof RenderApiError && err.kind === 'not_found' && await isGone(caller.client, s.id)) return { newest: null, beenLive: null, gone: true };
      throw err;
    }
    // A card offers "Open site" only for a service that has served something. The newest deploy says so
    // when it is (or was) live, or when there is none; else (building, failed, canceled) one more GET
    // asks whether an older one ever went live, once per newest deploy (BeenLiveMemo). Not known (that
    // GET failed): null, the card as before; the list itself is not lost over it.
    if (newest === null || wasLive(newest)) return { newest, beenLive: newest !== null };
    const [knownFor, knownLive] = known?.split(' ') ?? [];
    if (knownLive === '1' || (knownLive === '0' && knownFor === newest.id)) return { newest, beenLive: knownLive === '1' };
    // The same GET also lists the deploys not ended: an older one still building (the newest queued behind
    // it, or canceled while it built) may yet go live with the newest unchanged, so "never" is remembered
    // only when no other deploy is on its way.
    const history = await caller.client.listDeploys(s.id, { status: ['live', 'deactivated', ...IN_PROGRESS_ON_RENDER], limit: 20 }).catch(unlessWithdrawn);
    if (!history) return { newest, beenLive: null };
    const beenLive = history.some(wasLive);
    if (beenLive || !history.some((d) => d.id !== newest.id && (d.status === undefined || isInProgressOnRender(d.status)))) learnt.push([beenLiveKey(memo, s.id), `${newest.id} ${beenLive ? 1 : 0}`]);
    return { newest, beenLive };
  });
  if (learnt.length) {
    const write = memo.redis.multi();
    for (const [key, value] of learnt) write.set(key, value, 'EX', BEEN_LIVE_TTL_SEC);
    await write.exec();
  }
  return looked;
}

/**
 * `askedAt` (our clock): when Render was asked. A record that went live since may be newer than the deploy
 * Render named then (a deploy that went live while this list was read): it is left live, and the next list,
 * asked after it, judges it (the worker compares finish times the same way, finishDeploy.ts). Compared
 * with Render's finish times instead, a clock of ours ahead of Render's would leave a replaced one live.
 */
async function reconcileRecords(caller: OverviewCaller, deployments: DeploymentStore, known: Record<string, string>, services: Service[], latest: Array<Deploy | null>, askedAt: number) {
  const listed = new Map(services.map((s, i) => [s.id, latest[i] ?? null]));
  // The session's workspaces are those Render listed when the key was connected: one the user has left on
  // Render since still names the service, and Render's 404 for it is about access, not a deletion. Asked
  // (one GET /owners) only once a known service is missing from the list, and once per list.
  let seen: Promise<Set<string> | null> | undefined;
  const stillSeen = async (ownerId: string) => (await (seen ??= seenWorkspaces(caller.client)))?.has(ownerId) ?? false;
  for (const [serviceId, ownerId] of Object.entries(known)) {
    if (!caller.ownerIds.includes(ownerId)) continue; // another workspace (another key): not ours to judge
    if (!listed.has(serviceId)) {
      if (await stillSeen(ownerId) && await isGone(caller.client, serviceId)) await deployments.markServiceDeleted(caller.userId, serviceId);
      continue;
    }
    const newest = listed.get(serviceId);
    if (newest?.status !== 'live') continue;
    const ids = await deployments.idsOfService(caller.userId, serviceId);
    const records = (await Promise.all(ids.map((id) => deployments.get(id)))).filter((r) => r !== null);
    const replacer = records.find((r) => r.deployId === newest.id) ?? null;
    for (const rec of records) {
      if (rec.status !== 'live' || rec.deployId === newest.id || Date.parse(rec.finishedAt ?? rec.updatedAt) >= askedAt) continue;
      await deployments.markReplaced(rec.id, { deploymentId: replacer?.id ?? null, deployId: newest.id, at: newest.finishedAt ?? newest.updatedAt ?? newest.createdAt ?? '' });
    }
  }
}

/**
 * Render says 404 for the service (a missing list entry alone could be a paging race, a 404 on another
 * call could be about something else); any other failure is not taken for a deletion.
 */
export async function isGone(client: RenderClient, serviceId: string): Promise<boolean> {
  try {
    await client.getService(serviceId);
    return false;
  } catch (err) {
    if (err instanceof RenderApiError && err.kind === 'not_found') return true;
    if (err instanceof RenderKeyWithdrawn) throw err; // the load stops: no answer, not a service still there
    return false;
  }
}

/**
 * The ids of the workspaces the key sees now (GET /owners), or null when Render did not say (a failure
 * is not taken for "none"). A service 404 in a workspace the key no longer sees (the user was removed from
 * it on Render after connecting the key) says nothing of a deletion: to that key an existing service is a 404 too.
 */
export async function seenWorkspaces(client: RenderClient): Promise<Set<string> | null> {
  try {
    return new Set((await client.listOwners()).map((o) => o.id));
  } catch (err) {
    return unlessWithdrawn(err);
  }
}

/** Whether the key still sees this workspace (false when Render did not say): see seenWorkspaces. */
export async function workspaceStillSeen(client: RenderClient, ownerId: string): Promise<boolean> {
  return (await seenWorkspaces(client))?.has(ownerId) ?? false;
}

/** A read whose failure costs only a detail is null, unless the load's key was withdrawn: then the load stops. */
function unlessWithdrawn(err: unknown): null {
  if (err instanceof RenderKeyWithdrawn) throw err;
  return null;
}

/**
 * `fn` over `items`, `limit` at a time. The first failure fails the whole and no lane starts another
 * item after it: each would be a Render GET from the caller's budget for a list nobody gets. Those
 * already out finish on their own (they are not awaited).
 */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}
