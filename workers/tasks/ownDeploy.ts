import type { RenderClient } from '../../server/render/client.js';
import type { Deploy } from '../../server/render/types.js';
import type { DeploymentRecord } from '../../server/deployments/types.js';
import type { WorkerContext } from '../context.js';

// Which deploy of the service is this deployment's while Render has not named it to us: a retried ask
// whose answer was lost, an ask Render queued (202, no body), a service created without its deploy's id.
// Render's deploys carry no mark of who started them, so a deploy is ours only when it is the one we
// made happen — never merely one made around the time we asked (the dashboard, a push, another client
// of the key, another of our deployments may start one on the same service then).

/** Deploys looked at (newest first); Render's list is per service. */
const PAGE = 5;
/** Render's clock may be behind ours by this much (its createdAt against our deployRequestedAt). */
const CLOCK_SLACK_MS = 2_000;
/** The service's newest other deployments whose recorded deploys are set aside. */
const OTHERS_LOOKED_AT = 20;

const createdSince = (d: Deploy, since: number) => Boolean(d.createdAt) && Date.parse(d.createdAt!) >= since;

/** What our ask makes Render record: a rollback builds its target's commit or image; a trigger ours. */
async function matcherFor(render: RenderClient, rec: DeploymentRecord): Promise<(d: Deploy) => boolean> {
  if (rec.kind === 'rollback') {
    if (!rec.rollbackToDeployId) return () => false;
    const target = await render.getDeploy(rec.serviceId!, rec.rollbackToDeployId);
    return (d) => d.trigger === 'rollback'
      && (d.commit?.id ?? null) === (target.commit?.id ?? null) && (d.image?.sha ?? null) === (target.image?.sha ?? null);
  }
  // We ask with the checked commit when there is one (a deploy); a redeploy asks for none, and Render
  // builds the branch's head, which only the order of the deploys can tell from another client's.
  return (d) => d.trigger === 'api' && (!rec.commitSha || d.commit?.id === rec.commitSha);
}

/**
 * Deploy ids the service's other deployments have recorded: two redeploys asked within the clock slack
 * match each other's deploys, and a deploy another deployment watches is never this one's.
 */
async function recordedByOthers(ctx: WorkerContext, rec: DeploymentRecord): Promise<Set<string>> {
  const ids = (await ctx.deployments.idsOfService(rec.userId, rec.serviceId!)).filter((id) => id !== rec.id).slice(-OTHERS_LOOKED_AT);
  // A record that fails its MAC claims nothing (it is refused wherever it is read).
  const others = await Promise.all(ids.map((id) => ctx.deployments.get(id).catch(() => null)));
  return new Set(others.flatMap((o) => (o?.deployId ? [o.deployId] : [])));
}

/**
 * The deploy this deployment's ask made (deployRequestedAt is written before the ask), or null: the
 * oldest deploy made since the ask that matches it (trigger, commit or rollback target), that no
 * other deployment of ours has recorded and that this one claims (none recorded yet: two of ours
 * looking at once would both take the oldest; matching deploys were asked alike, so which each takes
 * matters less than that they differ); ours was made at the ask. `queued`: Render answered 202, so
 * the deploy was queued then; only queued ones are looked at, which keeps out the deploy running then.
 */
export async function deployOfAsk(ctx: WorkerContext, render: RenderClient, rec: DeploymentRecord, opts: { queued?: boolean } = {}): Promise<Deploy | null> {
  const since = Date.parse(rec.deployRequestedAt!) - CLOCK_SLACK_MS;
  const [recent, matches, recorded] = await Promise.all([
    render.listDeploys(rec.serviceId!, { limit: PAGE, ...(opts.queued ? { status: 'queued' as const } : {}) }),
    matcherFor(render, rec),
    recordedByOthers(ctx, rec),
  ]);
  const candidates = recent.filter((d) => createdSince(d, since) && !recorded.has(d.id) && matches(d)).reverse();
  for (const d of candidates) if (await ctx.deployments.claimRenderDeploy(d.id, rec.id)) return d;
  return null;
}

/**
 * The deploy Render started with a service this deployment created (its creation's answer was lost or
 * named no deploy): the service's first deploy, when its whole history fits in one page.
 */
async function firstDeployOfOurService(render: RenderClient, rec: DeploymentRecord): Promise<Deploy | null> {
  const recent = await render.listDeploys(rec.serviceId!, { limit: PAGE });
  const first = recent.length < PAGE ? recent.at(-1) : undefined;
  return first && createdSince(first, Date.parse(rec.createdAt)) ? first : null;
}

/**
 * The deploy of this deployment Render already has, or null (ask for one):
 * - asked before (its answer was lost): the deploy of that ask (deployOfAsk);
 * - never asked, a deploy whose service it created (the creation's answer was lost): that service's
 *   first deploy;
 * - a redeploy or rollback that never asked has none.
 */
export async function deployAlreadyOurs(ctx: WorkerContext, render: RenderClient, rec: DeploymentRecord): Promise<Deploy | null> {
  if (rec.deployRequestedAt) return deployOfAsk(ctx, render, rec);
  return rec.kind === 'deploy' ? firstDeployOfOurService(render, rec) : null;
}

/**
 * A watched deployment whose deploy id is not recorded yet: the deploy of its ask once Render lists
 * it (queued: the ask's 202 named none), else the first deploy of the service it created (the
 * creation's answer named none). Null: not there yet, look again at the next check.
 */
export function deployToWatch(ctx: WorkerContext, render: RenderClient, rec: DeploymentRecord): Promise<Deploy | null> {
  if (rec.status === 'render_queued') return deployOfAsk(ctx, render, rec);
  return rec.kind === 'deploy' ? firstDeployOfOurService(render, rec) : Promise.resolve(null);
}
