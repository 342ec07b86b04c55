// Services: the list and one service, creating, changing, deleting, suspending, scaling, its events.
import type { DatedPage } from '../pagination.js';
import { QueryBuilder, type Many } from '../query.js';
import { isObject, serviceRoute, type RenderCalls } from '../calls.js';
import type { Region, Service, ServiceAndDeploy, ServiceEvent, ServicePATCH, ServicePOST, ServiceType } from '../types.js';

export interface ListServicesFilter {
  ownerId?: Many<string>;
  name?: Many<string>;
  type?: Many<ServiceType>;
  region?: Many<Region>;
  suspended?: Many<'suspended' | 'not_suspended'>;
  environmentId?: Many<string>;
  includePreviews?: boolean | null;
  /** Only services created after this time (ISO 8601). */
  createdAfter?: string;
  /** Cap on the total number of services returned (not the page size). */
  limit?: number | null;
}

export interface ServicesApi {
  listServices(filter?: ListServicesFilter): Promise<Service[]>;
  /** listServices with Render's clock at the answer (the Date header of its last page; no `nextCursor`): Sentinel's windows end by it. */
  listServicesDated(filter?: ListServicesFilter): Promise<DatedPage<Service>>;
  /** One page of a workspace's services under one name, with Render's clock at the answer (its Date header): createdAt compares with that, not ours. */
  listServicesNamed(ownerId: string, name: string, limit: number): Promise<DatedPage<Service>>;
  getService(serviceId: string): Promise<Service>;
  /** Creating a service starts its first deploy; `deployId` names it. */
  createService(body: ServicePOST): Promise<ServiceAndDeploy>;
  /** Does not deploy by itself (docs/render-api.md §5.4). */
  updateService(serviceId: string, patch: ServicePATCH): Promise<Service>;
  deleteService(serviceId: string): Promise<void>;
  suspendService(serviceId: string): Promise<void>;
  resumeService(serviceId: string): Promise<void>;
  /** 202, empty: sets the instance count (not with autoscaling). */
  scaleService(serviceId: string, numInstances: number): Promise<void>;
  /** One page of a service's events (newest first), optionally since startTime; with Render's clock at the answer (its Date header). */
  listServiceEvents(serviceId: string, params?: { startTime?: string | null; endTime?: string | null; limit?: number | null; cursor?: string | null }): Promise<DatedPage<ServiceEvent>>;
}

export function servicesApi(calls: RenderCalls): ServicesApi {
  const { send } = calls;
  const action = (route: '/services/{serviceId}/suspend' | '/services/{serviceId}/resume') => async (serviceId: string) => {
    await send(serviceRoute('POST', route, serviceId));
  };
  return {
    listServices({ limit: cap, ...filter } = {}) {
      return calls.listAll<Service>({ method: 'GET', route: '/services', query: servicesQuery(filter) }, 'service', cap);
    },
    listServicesDated({ limit: cap, ...filter } = {}) {
      return calls.datedListAll<Service>({ method: 'GET', route: '/services', query: servicesQuery(filter) }, 'service', cap);
    },
    listServicesNamed: (ownerId, name, limit) =>
      calls.datedCursorPage<Service>({ method: 'GET', route: '/services', query: servicesQuery({ ownerId, name }) }, 'service', { limit }),
    getService: (serviceId) => calls.object<Service>(serviceRoute('GET', '/services/{serviceId}', serviceId)),
    createService: (body) => calls.shaped<ServiceAndDeploy>({ method: 'POST', route: '/services', json: body }, '{service, deployId}', (created) => isObject(created.service)),
    updateService: (serviceId, patch) => calls.object<Service>({ ...serviceRoute('PATCH', '/services/{serviceId}', serviceId), json: patch }),
    async deleteService(serviceId) {
      await send(serviceRoute('DELETE', '/services/{serviceId}', serviceId));
    },
    suspendService: action('/services/{serviceId}/suspend'),
    resumeService: action('/services/{serviceId}/resume'),
    async scaleService(serviceId, numInstances) {
      await send({ ...serviceRoute('POST', '/services/{serviceId}/scale', serviceId), json: { numInstances } });
    },
    listServiceEvents(serviceId, params = {}) {
      const query = new QueryBuilder().set('startTime', params.startTime).set('endTime', params.endTime);
      return calls.datedCursorPage<ServiceEvent>({ ...serviceRoute('GET', '/services/{serviceId}/events', serviceId), query }, 'event', params);
    },
  };
}

/** Shared filter params are comma-separated (style form, explode false). */
export function servicesQuery(filter: Omit<ListServicesFilter, 'limit'>): QueryBuilder {
  return new QueryBuilder()
    .commaSeparated('name', filter.name)
    .commaSeparated('type', filter.type)
    .commaSeparated('ownerId', filter.ownerId)
    .commaSeparated('region', filter.region)
    .commaSeparated('suspended', filter.suspended)
    .commaSeparated('environmentId', filter.environmentId)
    .set('includePreviews', filter.includePreviews)
    .set('createdAfter', filter.createdAfter);
}
