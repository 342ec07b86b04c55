import { RenderApiError, type RenderClient } from '../../server/render/client.js';
import type { Deploy } from '../../server/render/types.js';
import { isTerminal, type DeploymentRecord } from '../../server/deployments/types.js';
import { isInProgressOnRender } from '../../server/deployments/renderStatus.js';
import type { WorkerContext } from '../context.js';
import { commitToBuild } from './ownDeploy.js';

// A deploy that named a commit, or whose branch moved after verifying (ownDeploy.ts commitToBuild), on a
// service it created: Render's first deploy of a new service builds the branch's head (creating a
// service takes no commit, docs/render-api.md §6.3), which may be another commit. It is stopped before the commit asked for is deployed (createService.ts recordCreated asks
// first); left running, the commit's deploy would queue behind it, and the head would go live first.
// A user's cancel meanwhile leaves the job to stop it (server/deployments/cancel.ts firstDeployOwedCancel,
// canceledAsk.ts): the head is not left building for a deployment that says canceled.

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 7) : 'unknown');
const headName = (head: Partial<Pick<Deploy, 'commit'>>, the = 'the') => `${the} new service's first deploy (branch head ${short(head.commit?.id)})`;

/** The timeline's word that the stop failed (once: a look that fails again adds nothing). */
export const headNotStopped = (head: Partial<Pick<Deploy, 'commit'>>, rec: DeploymentRecord, err: unknown) =>
  `Render did not stop ${headName(head)} (${why(err)}). Trying again; commit ${short(commitToBuild(rec))} is asked for once that deploy has stopped or ended`;
/** Why a cancel failed, in a few words (Render's own text may be long; the error's message names the route). */
const why = (err: unknown) => {
  if (!(err instanceof RenderApiError)) return 'no answer';
  if (err.status !== undefined) return `Render answered ${err.status}${err.renderMessage ? `: ${err.renderMessage.slice(0, 200)}` : ''}`;
  return `no answer: ${err.kind}`;
};
const NOT_STOPPED = 'Render did not stop the new service\'s first deploy';

/**
 * Errors of a cancel that a later look may get past: Render failing or unreachable, or the deploy not
 * cancelable (it ended meanwhile: the look sees how). A rate limit waits as any step's does; a key
 * refused or a service gone ends the deployment as elsewhere (deployTask.ts).
 */
export function stopMayBeRetried(err: unknown): boolean {
  if (!(err instanceof RenderApiError)) return false;
  return (err.retryable && err.kind !== 'rate_limited') || err.kind === 'bad_request' || err.kind === 'conflict';
}

/**
 * Before a named commit is asked for: the service's first deploy building another commit (`head`) is
 * out of the way. Still running: it is stopped (the record goes on, noted when an earlier stop had
 * failed), or, Render failing to, the look is noted once and repeated after the returned delay (ms):
 * the head is never left to go live first while it can still be stopped. Ended: the record goes on,
 * noted if the head went live meanwhile (the commit is deployed over it). Null: the deployment ended
 * elsewhere (canceled, revoked) before the stop or while noting.
 */
export async function branchHeadOutOfTheWay(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient, head: Deploy): Promise<DeploymentRecord | number | null> {
  const noted = (note: string) => ctx.deployments.update(rec.id, {}, [{ status: rec.status, source: 'orchestrator', note }]);
  const failedBefore = rec.timeline.find((e) => e.note?.startsWith(NOT_STOPPED));
  if (!isInProgressOnRender(head.status)) {
    if (head.status !== 'live' && head.status !== 'deactivated') return rec;
    return noted(`${headName(head, 'The')} went live before it could be stopped; commit ${short(commitToBuild(rec))} is deployed over it now`);
  }
  // Ended while the look at the service's deploys was on its way: a sign-out (or the key cleared or
  // replaced) makes no call with the key after it; a user's cancel is carried out by the job
  // (deployTask.ts runEnded, canceledAsk.ts), which checks the key is still the session's first.
  const still = await ctx.deployments.get(rec.id).catch(() => null);
  if (!still || isTerminal(still.status)) return null;
  try {
    await render.cancelDeploy(rec.serviceId!, head.id);
  } catch (err) {
    if (!stopMayBeRetried(err)) throw err;
    const at = failedBefore ? Date.parse(failedBefore.at) : ctx.clock.now();
    // A bound, as the watch has: past it the commit is asked for anyway, and goes live after the head.
    if (ctx.clock.now() - at > ctx.watch.maxMs) return noted(`Render never stopped ${headName(head)}; commit ${short(commitToBuild(rec))} is asked for now, and goes live after it`);
    if (!failedBefore && !await noted(headNotStopped(head, rec, err))) return null;
    // The watch's cadence (renderDeploy.ts watch), from the first failure.
    const { initialMs, factor, maxDelayMs } = ctx.watch;
    return Math.min(maxDelayMs, Math.round(initialMs + (factor - 1) * Math.max(0, ctx.clock.now() - at)));
  }
  return failedBefore ? noted(`${headName(head, 'The')} is stopped`) : rec;
}
