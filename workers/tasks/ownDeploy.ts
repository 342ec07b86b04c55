import type { RenderClient } from '../../server/render/client.js';
import type { Deploy } from '../../server/render/types.js';
import type { DatedPage } from '../../server/render/pagination.js';
import type { DeploymentRecord } from '../../server/deployments/types.js';
import type { WorkerContext } from '../context.js';
import { CLOCK_SLACK_MS, onRenderClock, readDated } from '../../server/render/renderClock.js';
import { canceledWhileAsking, isCronJob } from '../../server/deployments/cancel.js';

// Which deploy of the service is this deployment's while Render has not named it to us: a retried ask
// whose answer was lost, an ask Render queued (202, no body), a service created without its deploy's id.
// Render's deploys carry no mark of who started them, so a deploy is ours only when it is the one we
// made happen — never merely one made around the time we asked (the dashboard, a push, another client
// of the key, another of our deployments may start one on the same service then).

/** Deploys asked for in a look's first page (newest first; ours is among them unless the service is busy). */
const PAGE = 5;
/** Later pages of a look, while every deploy on the page was made since the ask. */
const NEXT_PAGE = 20;
/** Deploys made since the ask looked at in one look, at most (a guard: a service deployed this often is not waited on). */
const MAX_LOOKED_AT = 100;
/** The service's newest other deployments whose recorded deploys are set aside. */
const OTHERS_LOOKED_AT = 20;

const createdSince = (d: Deploy, since: number) => Boolean(d.createdAt) && Date.parse(d.createdAt!) >= since;

/**
 * Whether Render made `d` while the service had no deploy running, as far as the list tells: the one made
 * just before it (`older`, the next in the newest-first list) had finished before `d` was made, both by
 * Render's clock. Render runs a service's deploys one at a time, in the order they were made (a deploy
 * asked while one runs waits, `queued`), so such a deploy started at once, where one Render answered 202
 * ("queued") for was made while another ran. Unknown (no older one listed, no finishedAt) is not idle.
 * Strictly before, to the millisecond Date.parse keeps of Render's microseconds: a tie is not idle. Not
 * proof: a queued deploy canceled or skipped (Render's "wait" policy may go straight to the newest) just
 * before ours was made, or Render stamping an end a millisecond before it queued ours, would make ours
 * look idle; so it only ranks (candidatesInOrder), never rules out.
 */
const madeWhileIdle = (d: Deploy, older: Deploy | undefined) =>
  Boolean(d.createdAt && older?.finishedAt) && Date.parse(older!.finishedAt!) < Date.parse(d.createdAt!);

/**
 * The deploys a look may take (`found`, newest first, those `eligible`), in the order it tries them:
 * oldest first (ours was made at the ask; one made after it is someone's who asked later). After a 202
 * (`answeredQueued`, an unfiltered list `listed`), those made while the service was idle go last: someone's
 * deploy made just before our ask, which Render's clock cannot tell from ours and which ours then waited
 * behind, is older than ours and was taken once ours had left the queue before the first look.
 */
export function candidatesInOrder(found: Deploy[], listed: Deploy[], eligible: (d: Deploy) => boolean, answeredQueued: boolean): Deploy[] {
  const oldestFirst = found.filter(eligible).reverse();
  if (!answeredQueued) return oldestFirst;
  const idle = new Set(oldestFirst.filter((d) => madeWhileIdle(d, listed[listed.indexOf(d) + 1])));
  return [...oldestFirst.filter((d) => !idle.has(d)), ...oldestFirst.filter((d) => idle.has(d))];
}

/** When we asked, by Render's clock (its deploys' createdAt), from the Date of the page read at answeredAt. */
function askOnRenderClock(rec: DeploymentRecord, page: DatedPage<Deploy>, answeredAt: number): number {
  return onRenderClock(Date.parse(rec.deployRequestedAt!), page.serverDate, answeredAt);
}

/**
 * `ours` (our clock) as a bound on Render's, from a page asked at sentAt and read at answeredAt: kept
 * while the page's Date cannot tell the clocks apart (as renderClock.ts onRenderClockIfApart: a second
 * of slack would take in a deploy someone made just after), else moved by the upper end of their
 * difference, so a deploy Render made before `ours` is never left out.
 */
function latestOnRenderClock(ours: number, page: DatedPage<Deploy>, sentAt: number, answeredAt: number): number {
  if (page.serverDate === null) return ours + CLOCK_SLACK_MS;
  const least = page.serverDate - answeredAt;
  const most = page.serverDate + 1_000 - sentAt;
  return least <= 0 && most >= 0 ? ours : ours + most;
}

/**
 * When Render had made the deploy of the ask, at the latest (our clock), if known: when the record said
 * render_queued (Render had answered the ask by then); for a deployment canceled while its ask was on
 * its way (cancel.ts canceledWhileAsking), the ask's mark plus the Render client's deadline (the ask
 * went right after its mark, and was answered or abandoned by then).
 */
export function askAnsweredBy(ctx: Pick<WorkerContext, 'renderTimeoutMs'>, rec: DeploymentRecord): number | undefined {
  const entry = rec.timeline.find((e) => e.status === 'render_queued');
  if (entry) return Date.parse(entry.at);
  return canceledWhileAsking(rec) ? Date.parse(rec.deployRequestedAt!) + ctx.renderTimeoutMs : undefined;
}

/**
 * The service's deploys made since the ask (newest first), queued ones only if asked, and none made
 * after `madeBy` (our clock) when given: pages until one reaches a deploy made before the ask (the list
 * is newest first), at most MAX_LOOKED_AT, so ours is found however many were made after it; never
 * past a page that leads nowhere. `listed`: every deploy the pages held, in their order.
 */
async function deploysSinceAsk(ctx: WorkerContext, render: RenderClient, rec: DeploymentRecord, queued: boolean, madeBy?: number): Promise<{ found: Deploy[]; listed: Deploy[] }> {
  const found: Deploy[] = [];
  const listed: Deploy[] = [];
  let since: number | undefined;
  let until = Number.POSITIVE_INFINITY;
  let cursor: string | undefined;
  for (let limit = PAGE; found.length < MAX_LOOKED_AT; limit = NEXT_PAGE) {
    const sentAt = ctx.clock.now();
    const page = await render.listDeploysPage(rec.serviceId!, { limit, cursor: cursor ?? null, ...(queued ? { status: 'queued' as const } : {}) });
    if (since === undefined) {
      const answeredAt = ctx.clock.now();
      since = askOnRenderClock(rec, page, answeredAt);
      if (madeBy !== undefined) until = latestOnRenderClock(madeBy, page, sentAt, answeredAt);
    }
    listed.push(...page.items);
    const made = page.items.filter((d) => createdSince(d, since!));
    found.push(...made.filter((d) => Date.parse(d.createdAt!) <= until));
    // A page with no deploy in it, or naming the cursor it was asked with, leads nowhere (a broken
    // answer: asked again it would be answered alike, until the key's budget was gone).
    if (made.length < page.items.length || page.items.length === 0 || !page.nextCursor || page.nextCursor === cursor) break;
    cursor = page.nextCursor;
  }
  return { found, listed };
}

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
 * A record that says render_queued had its 202 by then (askAnsweredBy): a deploy made after that
 * (someone else redeploying, which looks like our redeploy) is never its own; one made while the
 * service was idle is taken only when no other matches (candidatesInOrder).
 */
export async function deployOfAsk(ctx: WorkerContext, render: RenderClient, rec: DeploymentRecord, opts: { queued?: boolean } = {}): Promise<Deploy | null> {
  const [{ found, listed }, matches, recorded] = await Promise.all([
    deploysSinceAsk(ctx, render, rec, opts.queued ?? false, askAnsweredBy(ctx, rec)),
    matcherFor(render, rec),
    recordedByOthers(ctx, rec),
  ]);
  // Only for an unfiltered list: a list of queued deploys does not say which was made just before another.
  const answeredQueued = !opts.queued && rec.timeline.some((e) => e.status === 'render_queued');
  const candidates = candidatesInOrder(found, listed, (d) => !recorded.has(d.id) && matches(d), answeredQueued);
  for (const d of candidates) if (await ctx.deployments.claimRenderDeploy(d.id, rec.id)) return d;
  return null;
}

/**
 * The deploy Render started with a service this deployment created (its creation's answer was lost or
 * named no deploy, or the request named a commit): the service's first deploy, when its whole history
 * fits in one page and it was made after the record (by Render's clock: the page's Date).
 */
export async function firstDeployOfNewService(ctx: WorkerContext, render: RenderClient, rec: DeploymentRecord): Promise<Deploy | null> {
  const { answer: page, onRender } = await readDated(ctx.clock, () => render.listDeploysPage(rec.serviceId!, { limit: PAGE }));
  const recordMade = onRender(Date.parse(rec.createdAt));
  const first = page.items.length < PAGE ? page.items.at(-1) : undefined;
  return first && createdSince(first, recordMade) ? first : null;
}

/**
 * The commit a deploy's new service must build: the one the request named, else the branch's head
 * verifying found and detection read (a push since then makes Render's first deploy build another,
 * docs/render-api.md §6.3). Null when any commit will do: not a deploy, not verified yet, or a cron job
 * (Render takes no commitId for one: it builds the branch's head whatever was detected).
 */
export function commitToBuild(rec: DeploymentRecord): string | null {
  if (rec.request.commitSha) return rec.request.commitSha;
  if (rec.kind !== 'deploy' || isCronJob(rec)) return null;
  return rec.commitSha ?? null;
}

/**
 * Whether the first deploy of the service this deployment created is its own: it builds the commit the
 * request named, or the one verified and detected (the branch's head then: a push since makes it
 * another, which is stopped and the commit deployed by id, as for a named one). A named commit's is
 * not its own once canceled; an unknown commit is taken as the verified one.
 */
function ownsFirstDeploy(rec: DeploymentRecord, first: Deploy): boolean {
  if (rec.request.commitSha) return first.commit?.id === rec.request.commitSha && first.status !== 'canceled';
  const verified = commitToBuild(rec);
  return !verified || !first.commit?.id || first.commit.id === verified;
}

/**
 * A deploy's new service whose first deploy (`deploy`, being watched in `created`) builds another
 * commit than the one verified and detected: a push landed between verifying and the creation.
 */
export function firstDeployBuildsAnother(rec: DeploymentRecord, deploy: Deploy): boolean {
  if (rec.status !== 'created' || rec.kind !== 'deploy' || rec.request.commitSha) return false;
  const verified = commitToBuild(rec);
  return Boolean(verified && deploy.commit?.id) && deploy.commit!.id !== verified;
}

/**
 * What Render already has of this deployment before it asks for a deploy:
 * - `ours`, the deploy of this deployment, or null (ask for one):
 *   - asked before (its answer was lost): the deploy of that ask (deployOfAsk);
 *   - never asked, a deploy whose service it created (the creation's answer was lost): that service's
 *     first deploy;
 *   - a redeploy or rollback that never asked has none;
 * - `branchHead`: never asked, a deploy of a named commit, or of the one verified, whose new service's
 *   first deploy builds another (the branch's head): that deploy, which must not go live first (renderDeploy.ts).
 */
export async function deployAlreadyOurs(ctx: WorkerContext, render: RenderClient, rec: DeploymentRecord): Promise<{ ours: Deploy | null; branchHead: Deploy | null }> {
  if (rec.deployRequestedAt) return { ours: await deployOfAsk(ctx, render, rec), branchHead: null };
  if (rec.kind !== 'deploy') return { ours: null, branchHead: null };
  const first = await firstDeployOfNewService(ctx, render, rec);
  if (!first) return { ours: null, branchHead: null };
  return ownsFirstDeploy(rec, first) ? { ours: first, branchHead: null } : { ours: null, branchHead: first };
}

/**
 * A watched deployment whose deploy id is not recorded yet: the deploy of its ask once Render lists
 * it (queued: the ask's 202 named none), else the first deploy of the service it created (the
 * creation's answer named none; one building another commit than the verified one is stopped by the
 * watch: firstDeployBuildsAnother). Null: not there yet, look again at the next check.
 */
export function deployToWatch(ctx: WorkerContext, render: RenderClient, rec: DeploymentRecord): Promise<Deploy | null> {
  if (rec.status === 'render_queued') return deployOfAsk(ctx, render, rec);
  return rec.kind === 'deploy' ? firstDeployOfNewService(ctx, render, rec) : Promise.resolve(null);
}
