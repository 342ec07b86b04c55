import { requireService } from '../access.js';
import { CANCELABLE } from '../deploy-engine.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { enumArrayParam, paginate, withinBounds } from '../pagination.js';
import { presentDeploy } from '../present.js';
import { isObject, jsonBody, type RouteDef } from '../router.js';
import { deploysOf, type AccountRec, type DeployRec } from '../state.js';
import { assertSpec, serviceRoute, type RouteDeps } from './deps.js';

/** Deploys: trigger (201, or 202 with an empty body when queued), list, retrieve, cancel, rollback (docs/render-api.md §6). */

const STATUSES = [
  'created', 'queued', 'build_in_progress', 'update_in_progress', 'live', 'deactivated',
  'build_failed', 'update_failed', 'canceled', 'pre_deploy_in_progress', 'pre_deploy_failed',
] as const;

const CREATE_BODY = '/paths/~1services~1{serviceId}~1deploys/post/requestBody/content/application~1json/schema';
const ROLLBACK_BODY = '/paths/~1services~1{serviceId}~1rollback/post/requestBody/content/application~1json/schema';

export function deployRoutes({ state, engine, spec }: RouteDeps): RouteDef[] {
  const requireDeploy = (account: AccountRec, serviceId: string, deployId: string): DeployRec => {
    requireService(state, account, serviceId);
    const d = state.deploys.get(deployId);
    if (!d || d.serviceId !== serviceId) throw notFound(deployId);
    return d;
  };

  return [
    serviceRoute(state, 'GET', '/services/{serviceId}/deploys', (svc, { query }) => {
      const statuses = enumArrayParam(query, 'status', STATUSES);
      const list = deploysOf(state, svc.id)
        .filter((d) => statuses.length === 0 || statuses.includes(d.status))
        .filter((d) => withinBounds(query, 'created', d.createdUs)
          && withinBounds(query, 'updated', d.updatedUs)
          && withinBounds(query, 'finished', d.finishedUs));
      return { status: 200, body: paginate(list, query, 'deploy', presentDeploy, { order: 'desc' }) };
    }),
    serviceRoute(state, 'POST', '/services/{serviceId}/deploys', (svc, ctx) => {
      const body = jsonBody(ctx) ?? {};
      if (!isObject(body)) throw badRequest('request body must be a JSON object');
      assertSpec(spec.checkPointer(CREATE_BODY, body));
      if (body.deployMode !== undefined && (body.commitId !== undefined || body.imageUrl !== undefined || body.clearCache !== undefined)) {
        throw badRequest('deployMode cannot be combined with commitId, imageUrl or clearCache');
      }
      if (body.imageUrl !== undefined && !svc.image) throw badRequest('imageUrl is only supported for image-backed services');
      if (body.commitId !== undefined && !svc.repo) throw badRequest('commitId is only supported for services built from a repository');
      if (body.commitId !== undefined && svc.type === 'cron_job') throw badRequest('commitId is not supported for cron jobs');
      if (typeof body.commitId === 'string' && !/^[0-9a-f]{7,40}$/i.test(body.commitId)) throw badRequest(`invalid commitId: ${body.commitId}`);
      if (svc.suspended === 'suspended') throw conflict('cannot deploy a suspended service; resume it first');
      const queued = engine.hasActive(svc.id);
      const deploy = engine.create(svc, {
        trigger: 'api',
        ...(typeof body.commitId === 'string' ? { commitId: body.commitId } : {}),
        clearCache: body.clearCache === 'clear',
        ...(body.deployMode === 'deploy_only' ? { deployMode: 'deploy_only' as const } : {}),
      });
      // Render answers "202 Queued" with no body when another deploy is running (docs/render-api.md §6.3).
      return queued ? { status: 202 } : { status: 201, body: presentDeploy(deploy) };
    }),
    {
      method: 'GET',
      route: '/services/{serviceId}/deploys/{deployId}',
      handler: ({ account, params }) => ({
        status: 200,
        body: presentDeploy(requireDeploy(account, params.serviceId ?? '', params.deployId ?? '')),
      }),
    },
    {
      method: 'POST',
      route: '/services/{serviceId}/deploys/{deployId}/cancel',
      handler: ({ account, params }) => {
        const d = requireDeploy(account, params.serviceId ?? '', params.deployId ?? '');
        // "Cancel an in-progress deploy for a service. Not supported for cron jobs." (spec/render-openapi.json)
        if (state.services.get(d.serviceId)?.type === 'cron_job') throw badRequest('canceling a deploy is not supported for cron jobs');
        if (!CANCELABLE.has(d.status)) throw badRequest(`deploy ${d.id} cannot be canceled: its status is ${d.status}`);
        engine.cancel(d);
        return { status: 200, body: presentDeploy(d) };
      },
    },
    serviceRoute(state, 'POST', '/services/{serviceId}/rollback', (svc, ctx) => {
      const body = jsonBody(ctx);
      assertSpec(spec.checkPointer(ROLLBACK_BODY, body ?? null));
      const targetId = String((body as { deployId: string }).deployId);
      const target = state.deploys.get(targetId);
      if (!target || target.serviceId !== svc.id) throw notFound(targetId);
      if (target.status !== 'live' && target.status !== 'deactivated') {
        throw badRequest(`cannot roll back to deploy ${target.id}: it never went live`);
      }
      if (svc.suspended === 'suspended') throw badRequest('cannot deploy a suspended service; resume it first');
      const deploy = engine.create(svc, { trigger: 'rollback', rollbackOf: target });
      return { status: 201, body: presentDeploy(deploy) };
    }),
  ];
}
