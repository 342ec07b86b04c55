import { requireOwner, visibleOwnerIds } from '../access.js';
import { arrayParam, paginate } from '../pagination.js';
import { presentOwner } from '../present.js';
import type { RouteDef } from '../router.js';
import type { WorkspaceRec } from '../state.js';
import type { RouteDeps } from './deps.js';

/** GET /users, GET /owners, GET /owners/{ownerId} (docs/render-api.md §3). */
export function ownerRoutes({ state }: RouteDeps): RouteDef[] {
  return [
    {
      method: 'GET',
      route: '/users',
      handler: ({ account }) => ({ status: 200, body: { email: account.email, name: account.name } }),
    },
    {
      method: 'GET',
      route: '/owners',
      handler: ({ account, query }) => {
        const names = arrayParam(query, 'name');
        const emails = arrayParam(query, 'email');
        const owners = visibleOwnerIds(account)
          .map((id) => state.workspaces.get(id))
          .filter((w): w is WorkspaceRec => Boolean(w))
          .filter((w) => (names.length === 0 || names.includes(w.name)) && (emails.length === 0 || emails.includes(w.email)))
          .sort((a, b) => a.seq - b.seq);
        return { status: 200, body: paginate(owners, query, 'owner', presentOwner, { order: 'asc' }) };
      },
    },
    {
      method: 'GET',
      route: '/owners/{ownerId}',
      handler: ({ account, params }) => {
        // "If you provide a user ID, this endpoint returns the user's default workspace."
        const ownerId = params.ownerId === account.id ? (visibleOwnerIds(account)[0] ?? '') : (params.ownerId ?? '');
        return { status: 200, body: presentOwner(requireOwner(state, account, ownerId)) };
      },
    },
  ];
}
