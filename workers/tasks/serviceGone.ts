import { RenderApiError, type RenderClient } from '../../server/render/client.js';
import type { DeploymentRecord, DeploymentFailure } from '../../server/deployments/types.js';
import { serviceDeletedFailure } from '../../server/deployments/serviceDeleted.js';
import type { WorkerContext } from '../context.js';

/**
 * A step's 404 from Render, when the deployment's service itself is what Render no longer has: it was
 * deleted (on Render's dashboard, by another client of the key) between the click and the worker, or
 * while its deploy ran. The deployment ends saying so instead of "Render refused the request: not
 * found", and every deployment of the service learns it, as the web does when it meets such a 404
 * (server/routes/services.ts forgetDeletedService; the next service list would, later). Null when the
 * 404 was about something else, or Render still has the service. The same end as the web gives them when
 * it learns of the delete first (server/deployments/serviceDeleted.ts: a delete through the app, a cancel).
 * A 404 for a service whose workspace the key no longer sees (the user removed from it on Render) ends it
 * `workspace_not_seen`, nothing marked deleted.
 *
 * Throws what Render answered its checks instead (a 5xx, a 429, the key's budget spent, a cut connection):
 * the run handles that as its failure (retried, or waited out), where it used to keep the 404 as it was and
 * end the deployment "Render refused the request: not found" for a service that was deleted, or still there.
 */
export async function serviceGoneFailure(ctx: WorkerContext, render: RenderClient, rec: DeploymentRecord, err: unknown): Promise<DeploymentFailure | null> {
  if (!(err instanceof RenderApiError) || err.kind !== 'not_found') return null;
  // This run may have recorded the service after the record it started with.
  const serviceId = (await ctx.deployments.get(rec.id).catch(() => null))?.serviceId ?? rec.serviceId;
  if (!serviceId || !(await answersNotFound(render.getService(serviceId)))) return null; // still there, or not known: the 404 as it was
  // Its workspace gone from the key's sight (the user removed from it on Render): a 404 about access, not a
  // deletion, said as such (it read "Render refused the request: not found: srv-…").
  const seen = new Set((await render.listOwners()).map((o) => o.id));
  if (!seen.has(rec.request.ownerId)) {
    return { code: 'workspace_not_seen', message: `Your Render key no longer sees this service's workspace (${rec.request.ownerId}): were you removed from it on Render? The service was not deleted, but this deploy cannot be followed with this key. Connect a key that sees that workspace to see how it went.` };
  }
  // Best effort: the next service list marks them too.
  await ctx.deployments.markServiceDeleted(rec.userId, serviceId).catch(() => 0);
  return serviceDeletedFailure(serviceId);
}

/** True when Render answers 404, false when it answers; any other failure is thrown (not an answer either way). */
async function answersNotFound(ask: Promise<unknown>): Promise<boolean> {
  try {
    await ask;
    return false;
  } catch (err) {
    if (err instanceof RenderApiError && err.kind === 'not_found') return true;
    throw err;
  }
}
