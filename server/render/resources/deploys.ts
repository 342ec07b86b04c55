// A service's deploys: triggering one, finding a queued one, the history, one deploy, cancel, rollback.
import type { DatedPage } from '../pagination.js';
import { QueryBuilder, type Many } from '../query.js';
import { isObject, serviceRoute, type RenderCalls } from '../calls.js';
import { parseJsonBody, unexpectedShape, type RenderRequest } from '../transport.js';
import { RenderApiError } from '../errors.js';
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

/**
 * What a deploy answer must hold before anything reads it: a non-empty string `id` and a `status` word.
 * The spec requires only `id`, but every reader acts on `status` (the worker records it and ends the
 * deployment on a terminal one) and on `id` (the record's deployId is overwritten with it): a 200 of
 * another shape (a proxy's, a Render bug's) read as a deploy ended a deployment `live` while Render was
 * still building, with no deploy id or another deploy's. Such an answer is a retryable `bad_response`
 * instead (the worker retries it as an upstream failure: workers/tasks/upstreamFailures.ts). A status
 * Render may add later is any other word, let through (the watch keeps the record's status for one it
 * does not know); only a name every object inherits (`constructor`, `__proto__`, ...) is refused, as
 * it would read as a value of any plain lookup table of statuses.
 */
export function isDeployAnswer(body: Record<string, unknown>): boolean {
  const { id, status } = body;
  return typeof id === 'string' && id !== '' && typeof status === 'string' && status !== '' && !(status in Object.prototype);
}

const DEPLOY_SHAPE = 'a deploy with an id and a status';

export function deploysApi(calls: RenderCalls): DeploysApi {
  const deploys = (serviceId: string, status?: Many<DeployStatus>): RenderRequest =>
    ({ ...serviceRoute('GET', '/services/{serviceId}/deploys', serviceId), query: new QueryBuilder().repeated('status', status) });
  // The deploy asked for, by id: an answer naming another deploy (or none) is not its state.
  const oneDeploy = (route: '/services/{serviceId}/deploys/{deployId}' | '/services/{serviceId}/deploys/{deployId}/cancel', method: 'GET' | 'POST') =>
    (serviceId: string, deployId: string) => calls.shaped<Deploy>(serviceRoute(method, route, serviceId, { deployId }),
      `${DEPLOY_SHAPE}, the one asked for`, (body) => isDeployAnswer(body) && body.id === deployId);
  // Every item of a deploy list (the worker takes its own deploy, and that deploy's status, from one).
  const listed = <T extends Deploy[] | { items: Deploy[] }>(request: RenderRequest, answer: T): T => {
    const items = Array.isArray(answer) ? answer : answer.items;
    if (!items.every((item) => isDeployAnswer(item as Record<string, unknown>))) {
      throw new RenderApiError({ kind: 'bad_response', method: request.method, route: request.route, detail: `expected list items each ${DEPLOY_SHAPE}` });
    }
    return answer;
  };
  return {
    async triggerDeploy(serviceId, body = {}) {
      const request: RenderRequest = { ...serviceRoute('POST', '/services/{serviceId}/deploys', serviceId), json: body };
      const raw = await calls.send(request);
      // 202 "Queued" normally has an empty body: another deploy is running (docs/render-api.md §6.3).
      if (raw.status === 202) return { kind: 'queued' };
      const deploy = parseJsonBody(raw, request);
      if (!isObject(deploy) || !isDeployAnswer(deploy)) throw unexpectedShape(raw, request, DEPLOY_SHAPE);
      return { kind: 'created', deploy: deploy as Deploy };
    },
    async listDeploys(serviceId, params = {}) {
      const request = deploys(serviceId, params.status);
      return listed(request, await calls.listAll<Deploy>(request, 'deploy', params.limit));
    },
    async listDeploysPage(serviceId, params = {}) {
      const request = deploys(serviceId, params.status);
      return listed(request, await calls.datedCursorPage<Deploy>(request, 'deploy', params));
    },
    getDeploy: oneDeploy('/services/{serviceId}/deploys/{deployId}', 'GET'),
    cancelDeploy: oneDeploy('/services/{serviceId}/deploys/{deployId}/cancel', 'POST'),
    async rollbackDeploy(serviceId, deployId) {
      if (!deployId) throw new TypeError('Render client: deployId must be a non-empty id');
      return calls.shaped<Deploy>({ ...serviceRoute('POST', '/services/{serviceId}/rollback', serviceId), json: { deployId } }, DEPLOY_SHAPE, isDeployAnswer);
    },
  };
}
