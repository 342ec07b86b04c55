import { RenderApiError, type RenderClient } from '../../server/render/client.js';
import { isGone } from '../../server/render/serviceOverview.js';
import type { DeploymentRecord, DeploymentFailure } from '../../server/deployments/types.js';
import type { WorkerContext } from '../context.js';

/**
 * A step's 404 from Render, when the deployment's service itself is what Render no longer has: it was
 * deleted (on Render's dashboard, by another client of the key) between the click and the worker, or
 * while its deploy ran. The deployment ends saying so instead of "Render refused the request: not
 * found", and every deployment of the service learns it, as the web does when it meets such a 404
 * (server/routes/services.ts forgetDeletedService; the next service list would, later). Null when the
 * 404 was about something else, or Render still has the service.
 */
export async function serviceGoneFailure(ctx: WorkerContext, render: RenderClient, rec: DeploymentRecord, err: unknown): Promise<DeploymentFailure | null> {
  if (!(err instanceof RenderApiError) || err.kind !== 'not_found') return null;
  // This run may have recorded the service after the record it started with.
  const serviceId = (await ctx.deployments.get(rec.id).catch(() => null))?.serviceId ?? rec.serviceId;
  if (!serviceId || !(await isGone(render, serviceId))) return null; // still there, or not known: the 404 as it was
  // Best effort: the next service list marks them too.
  await ctx.deployments.markServiceDeleted(rec.userId, serviceId).catch(() => 0);
  return { code: 'service_deleted', message: `The service was deleted on Render (${serviceId}), so this deploy cannot go on. Deploy the repository again to create a new service.` };
}
