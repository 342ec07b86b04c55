import { RenderApiError, type RenderClient } from '../../server/render/client.js';
import { isGone, seenWorkspaces } from '../../server/render/serviceOverview.js';
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
 */
export async function serviceGoneFailure(ctx: WorkerContext, render: RenderClient, rec: DeploymentRecord, err: unknown): Promise<DeploymentFailure | null> {
  if (!(err instanceof RenderApiError) || err.kind !== 'not_found') return null;
  // This run may have recorded the service after the record it started with.
  const serviceId = (await ctx.deployments.get(rec.id).catch(() => null))?.serviceId ?? rec.serviceId;
  if (!serviceId || !(await isGone(render, serviceId))) return null; // still there, or not known: the 404 as it was
  // Its workspace gone from the key's sight (the user removed from it on Render): a 404 about access, not a
  // deletion, said as such (it read "Render refused the request: not found: srv-…").
  const seen = await seenWorkspaces(render);
  if (seen === null) return null; // Render did not say which workspaces the key sees: neither is known, the 404 as it was
  if (!seen.has(rec.request.ownerId)) {
    return { code: 'workspace_not_seen', message: `Your Render key no longer sees this service's workspace (${rec.request.ownerId}): were you removed from it on Render? The service was not deleted, but this deploy cannot be followed with this key. Connect a key that sees that workspace to see how it went.` };
  }
  // Best effort: the next service list marks them too.
  await ctx.deployments.markServiceDeleted(rec.userId, serviceId).catch(() => 0);
  return serviceDeletedFailure(serviceId);
}
