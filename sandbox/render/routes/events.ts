import { requireService } from '../access.js';
import { notFound } from '../errors.js';
import { arrayParam, paginate, timeParam } from '../pagination.js';
import { presentEvent } from '../present.js';
import type { RouteDef } from '../router.js';
import { serviceRoute, type RouteDeps } from './deps.js';

/**
 * Service events (docs/render-api.md §11): build_started/ended, pre_deploy_started/ended,
 * deploy_started/ended, server_available, service_suspended/resumed — a polling alternative to
 * webhooks. Newest first, cursor pagination.
 */
export function eventRoutes({ state }: RouteDeps): RouteDef[] {
  return [
    serviceRoute(state, 'GET', '/services/{serviceId}/events', (svc, { query }) => {
      const types = arrayParam(query, 'type');
      const startUs = timeParam(query, 'startTime');
      const endUs = timeParam(query, 'endTime');
      const events = state.events
        .filter((e) => e.serviceId === svc.id)
        .filter((e) => types.length === 0 || types.includes(e.type))
        .filter((e) => (startUs === undefined || e.us >= startUs) && (endUs === undefined || e.us <= endUs))
        .sort((a, b) => b.seq - a.seq);
      return { status: 200, body: paginate(events, query, 'event', presentEvent, { order: 'desc' }) };
    }),
    {
      method: 'GET',
      route: '/events/{eventId}',
      handler: ({ account, params }) => {
        const id = params.eventId ?? '';
        const event = state.events.find((e) => e.id === id);
        if (!event) throw notFound(id);
        try {
          requireService(state, account, event.serviceId);
        } catch {
          throw notFound(id); // never reveal that someone else's event exists
        }
        return { status: 200, body: presentEvent(event) };
      },
    },
  ];
}
