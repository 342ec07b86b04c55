import type { RenderClient } from '../../server/render/client.js';
import type { Deploy } from '../../server/render/types.js';
import type { DeploymentRecord } from '../../server/deployments/types.js';

// Which deploy of the service, if any, this deployment already has on Render before it asks (again):
// Render's deploys carry no mark of who started them, so a deploy is ours only when it is the one we
// made happen — never merely one made around the time we asked (the dashboard, a push, another
// client of the key may start one on the same service then).

/** Deploys looked at (newest first); Render's list is per service. */
const PAGE = 5;
/** Render's clock may be behind ours by this much (its createdAt against our deployRequestedAt). */
const CLOCK_SLACK_MS = 2_000;

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
 * The deploy of this deployment Render already has, or null (ask for one):
 * - asked before (deployRequestedAt, written before the ask; its answer was lost): the oldest deploy
 *   made since the ask that matches it (trigger, commit or rollback target); ours was made at the ask;
 * - never asked, a deploy whose service it created (the creation's answer was lost): the service's
 *   first deploy, which Render starts with the service, when its whole history fits in one page;
 * - a redeploy or rollback that never asked has none.
 */
export async function deployAlreadyOurs(render: RenderClient, rec: DeploymentRecord): Promise<Deploy | null> {
  const serviceId = rec.serviceId!;
  if (rec.deployRequestedAt) {
    const since = Date.parse(rec.deployRequestedAt) - CLOCK_SLACK_MS;
    const [recent, matches] = await Promise.all([render.listDeploys(serviceId, { limit: PAGE }), matcherFor(render, rec)]);
    return recent.filter((d) => createdSince(d, since) && matches(d)).at(-1) ?? null;
  }
  if (rec.kind !== 'deploy') return null;
  const recent = await render.listDeploys(serviceId, { limit: PAGE });
  const first = recent.length < PAGE ? recent.at(-1) : undefined;
  return first && createdSince(first, Date.parse(rec.createdAt)) ? first : null;
}
