import { requireOwner } from '../access.js';
import { badRequest, forbidden } from '../errors.js';
import { paginate, timeParam } from '../pagination.js';
import { presentAudit } from '../present.js';
import type { RouteDef } from '../router.js';
import type { RouteDeps } from './deps.js';

/** GET /owners/{ownerId}/audit-logs (docs/render-api.md §10): cursor pagination, limit up to 1000, newest first by default. */
export function auditLogRoutes({ state }: RouteDeps): RouteDef[] {
  return [
    {
      method: 'GET',
      route: '/owners/{ownerId}/audit-logs',
      handler: ({ account, params, query }) => {
        const owner = requireOwner(state, account, params.ownerId ?? '');
        // Plans without the audit-log API (the per-account plan switch) answer 403.
        if (account.auditLogs === false) throw forbidden();
        const direction = query.get('direction') ?? 'backward';
        if (direction !== 'forward' && direction !== 'backward') throw badRequest(`invalid direction: ${direction}`);
        const startUs = timeParam(query, 'startTime');
        const endUs = timeParam(query, 'endTime');
        const entries = state.audit
          .filter((a) => a.ownerId === owner.id)
          .filter((a) => (startUs === undefined || a.us >= startUs) && (endUs === undefined || a.us <= endUs))
          .sort((a, b) => (direction === 'forward' ? a.seq - b.seq : b.seq - a.seq));
        const order = direction === 'forward' ? 'asc' : 'desc';
        return { status: 200, body: paginate(entries, query, 'auditLog', presentAudit, { order, maxLimit: 1000 }) };
      },
    },
  ];
}
