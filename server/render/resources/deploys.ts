// A service's deploys: triggering one, finding a queued one, the history, one deploy, cancel, rollback.
import type { DatedPage } from '../pagination.js';
import { QueryBuilder, type Many } from '../query.js';
import { isObject, serviceRoute, type RenderCalls } from '../calls.js';
import { parseJsonBody, unexpectedShape, type RenderRequest } from '../transport.js';
import type { Deploy, DeployStatus, TriggerDeployBody } from '../types.js';

export interface ListDeploysParams {
  /** Cap on the total number of deploys returned (newest first). */
  limit?: number | null;
  status?: Many<DeployStatus>;
}

export interface ListDeploysPageParams {
  cursor?: string | null;
  /** Page size, 1–100 (default 20). */
  limit?: number | null;
  status?: Many<DeployStatus>;
}

export type TriggerDeployResult = { kind: 'created'; deploy: Deploy } | { kind: 'queued' };

export interface DeploysApi {
  /** 201 → the new deploy; 202 with an empty body → queued behind a running one (docs/render-api.md §6.3). */
  triggerDeploy(serviceId: string, body?: TriggerDeployBody): Promise<TriggerDeployResult>;
  listDeploys(serviceId: string, params?: ListDeploysParams): Promise<Deploy[]>;
  /** One page, newest first, with Render's clock at the answer (its Date header): createdAt compares with that, not ours. */
  listDeploysPage(serviceId: string, params?: ListDeploysPageParams): Promise<DatedPage<Deploy>>;
  getDeploy(serviceId: string, deployId: string): Promise<Deploy>;
  cancelDeploy(serviceId: string, deployId: string): Promise<Deploy>;
  rollbackDeploy(serviceId: string, deployId: string): Promise<Deploy>;
}

export function deploysApi(calls: RenderCalls): DeploysApi {
  const deploys = (serviceId: string, status?: Many<DeployStatus>): RenderRequest =>
    ({ ...serviceRoute('GET', '/services/{serviceId}/deploys', serviceId), query: new QueryBuilder().repeated('status', status) });
  const oneDeploy = (route: '/services/{serviceId}/deploys/{deployId}' | '/services/{serviceId}/deploys/{deployId}/cancel', method: 'GET' | 'POST') =>
    (serviceId: string, deployId: string) => calls.object<Deploy>(serviceRoute(method, route, serviceId, { deployId }));
  return {
    async triggerDeploy(serviceId, body = {}) {
      const request: RenderRequest = { ...serviceRoute('POST', '/services/{serviceId}/deploys', serviceId), json: body };
      const raw = await calls.send(request);
      // 202 "Queued" normally has an empty body: another deploy is running (docs/render-api.md §6.3).
      if (raw.status === 202) return { kind: 'queued' };
      const deploy = parseJsonBody(raw, request);
      if (!isObject(deploy) || typeof deploy.id !== 'string') throw unexpectedShape(raw, request, 'a deploy');
      return { kind: 'created', deploy: deploy as Deploy };
    },
    listDeploys: (serviceId, params = {}) => calls.listAll<Deploy>(deploys(serviceId, params.status), 'deploy', params.limit),
    listDeploysPage: (serviceId, params = {}) => calls.datedCursorPage<Deploy>(deploys(serviceId, params.status), 'deploy', params),
    getDeploy: oneDeploy('/services/{serviceId}/deploys/{deployId}', 'GET'),
    cancelDeploy: oneDeploy('/services/{serviceId}/deploys/{deployId}/cancel', 'POST'),
    async rollbackDeploy(serviceId, deployId) {
      if (!deployId) throw new TypeError('Render client: deployId must be a non-empty id');
      return calls.object<Deploy>({ ...serviceRoute('POST', '/services/{serviceId}/rollback', serviceId), json: { deployId } });
    },
  };
}
