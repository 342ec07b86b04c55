import { requireOwner } from '../access.js';
import { formatUs } from '../clock.js';
import { badRequest, notFound } from '../errors.js';
import { arrayParam, parseLimit, timeParam } from '../pagination.js';
import { presentLog } from '../present.js';
import type { RouteDef } from '../router.js';
import type { LogRec } from '../state.js';
import type { RouteDeps } from './deps.js';

/**
 * GET /logs (docs/render-api.md §8): `ownerId` and `resource` required; a time window (default the last
 * hour) paged by time: while `hasMore`, pass `nextStartTime`/`nextEndTime` back as
 * `startTime`/`endTime`. Timestamps are unique microseconds, so a page boundary never drops
 * or repeats an entry.
 */

const LABEL_FILTERS = ['instance', 'host', 'statusCode', 'method', 'level', 'type', 'task', 'taskRun', 'path'] as const;
const HOUR_US = 3_600_000_000;

export function logRoutes({ state, clock }: RouteDeps): RouteDef[] {
  return [
    {
      method: 'GET',
      route: '/logs',
      handler: ({ account, query }) => {
        const ownerId = query.get('ownerId');
        if (!ownerId) throw badRequest('ownerId is required');
        requireOwner(state, account, ownerId);
        const resources = arrayParam(query, 'resource');
        if (resources.length === 0) throw badRequest('resource is required');
        for (const id of resources) {
          const svc = state.services.get(id);
          if (svc && svc.ownerId !== ownerId) {
            if (account.workspaceIds.includes(svc.ownerId)) throw badRequest('all resources must belong to the same owner');
            throw notFound(id);
          }
          if (!svc && !state.logs.some((l) => l.resourceId === id && l.ownerId === null)) throw notFound(id);
        }
        const direction = query.get('direction') ?? 'backward';
        if (direction !== 'forward' && direction !== 'backward') throw badRequest(`invalid direction: ${direction}`);
        const limit = parseLimit(query);
        const endUs = timeParam(query, 'endTime') ?? clock.nowUs();
        const startUs = timeParam(query, 'startTime') ?? endUs - HOUR_US;
        if (startUs > endUs) throw badRequest('startTime must be before endTime');

        const filters = LABEL_FILTERS.map((name) => [name, arrayParam(query, name)] as const).filter(([, v]) => v.length > 0);
        const texts = arrayParam(query, 'text').map(wildcard);
        const wanted = new Set(resources);
        const matching = state.logs
          .filter((l) => wanted.has(l.resourceId) && l.us >= startUs && l.us <= endUs)
          .filter((l) => filters.every(([name, values]) => values.includes(l.labels[name] ?? '')))
          .filter((l) => texts.length === 0 || texts.some((re) => re.test(l.message)))
          .sort((a, b) => (direction === 'forward' ? a.us - b.us : b.us - a.us));
        const page = matching.slice(0, limit);
        const hasMore = matching.length > page.length;
        const last: LogRec | undefined = page[page.length - 1];
        let nextStart = startUs;
        let nextEnd = endUs;
        if (last && direction === 'backward') nextEnd = last.us - 1;
        if (last && direction === 'forward') nextStart = last.us + 1;
        return {
          status: 200,
          body: {
            hasMore,
            nextStartTime: formatUs(nextStart),
            nextEndTime: formatUs(nextEnd),
            logs: page.map(presentLog),
          },
        };
      },
    },
  ];
}

/**
 * Render's `text` filter allows wildcards; here `*` matches anything and the rest is literal, case
 * insensitive. The pieces between stars are found in order with indexOf (leftmost is always right for
 * an unanchored match), not with a built regex: `a*a*a*…` as `a.*a.*a.*` backtracks polynomially.
 */
function wildcard(pattern: string): { test(text: string): boolean } {
  const pieces = pattern.toLowerCase().split('*');
  return {
    test(text) {
      const haystack = text.toLowerCase();
      let from = 0;
      for (const piece of pieces) {
        const at = haystack.indexOf(piece, from);
        if (at === -1) return false;
        from = at + piece.length;
      }
      return true;
    },
  };
}
