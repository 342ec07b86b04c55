// Render calls only tests make (the product never reads the key's user, restarts a service, pages the
// service list by hand or collects a whole log window): built here from the product's own request
// primitives, so the contract suite still checks them against Render's spec.
import { createRenderCalls, createRenderClient, type CursorPage, type ListLogsParams, type LogEntry, type LogPagingOptions, type RenderClient, type RenderClientOptions, type Service, type User } from '../../server/render/client.js';
import { serviceRoute } from '../../server/render/calls.js';
import { servicesQuery, type ListServicesFilter } from '../../server/render/resources/services.js';

interface ListServicesPageParams extends Pick<ListServicesFilter, 'ownerId' | 'name' | 'type'> {
  cursor?: string | null;
  /** Page size, 1–100 (default 20). */
  limit?: number | null;
}

export interface TestRenderClient extends RenderClient {
  getUser(): Promise<User>;
  listServicesPage(params?: ListServicesPageParams): Promise<CursorPage<Service>>;
  restartService(serviceId: string): Promise<void>;
  /** All entries from up to `maxPages` pages; `hasMore` says whether Render had more. */
  collectLogs(params: ListLogsParams, options?: LogPagingOptions): Promise<{ logs: LogEntry[]; hasMore: boolean }>;
}

export function createTestRenderClient(opts: RenderClientOptions): TestRenderClient {
  const client = createRenderClient(opts);
  const calls = createRenderCalls(opts);
  return {
    ...client,
    getUser: () => calls.object<User>({ method: 'GET', route: '/users' }),
    listServicesPage({ cursor, limit, ...filter } = {}) {
      return calls.cursorPage<Service>({ method: 'GET', route: '/services', query: servicesQuery(filter) }, 'service', { cursor, limit });
    },
    async restartService(serviceId) {
      await calls.send(serviceRoute('POST', '/services/{serviceId}/restart', serviceId));
    },
    async collectLogs(params, options) {
      const logs: LogEntry[] = [];
      let hasMore = false;
      for await (const page of client.logPages(params, options)) {
        logs.push(...page.logs);
        hasMore = page.hasMore;
      }
      return { logs, hasMore };
    },
  };
}
