import { ApiError, badRequest, notFound } from '../errors.js';
import { arrayParam, parseLimit, withinBounds } from '../pagination.js';
import { presentEnvGroup, presentEnvGroupMeta } from '../present.js';
import { objectBody, type RouteDef } from '../router.js';
import { requireOwnerForCreate, requireService, visibleOwnerIds } from '../access.js';
import { newId } from '../clock.js';
import { envGroupsOf, nextSeq, type AccountRec, type EnvGroupRec, type SecretFileRec, type SimState } from '../state.js';
import { assertSpec, type RouteDeps } from './deps.js';
import { envVarsFromInput } from './services.js';

/**
 * Environment groups (docs/render-api.md §7): env vars and secret files shared by the services linked
 * to a group. The list answers `envGroupMeta` items as a bare array, newest first (no `{envGroup, cursor}`
 * wrappers, so no cursor to page on: the spec's `cursor` parameter is accepted and has nothing to name;
 * `createdBefore` and the other time bounds filter as the services list's do); one
 * group is read with its values, which the audit log records as `ViewEnvVarValuesEvent` naming the
 * group (`metadata.envGroup`: Render's docs do not say which field names it; the watch, server/sentinel,
 * matches any metadata value that is the id of a group it read).
 */
export function envGroupRoutes(deps: RouteDeps): RouteDef[] {
  const { state, clock, recorder, spec } = deps;
  const groupRoute = (method: string, route: string, handler: (g: EnvGroupRec, ctx: Parameters<RouteDef['handler']>[0]) => ReturnType<RouteDef['handler']>): RouteDef =>
    ({ method, route, handler: (ctx) => handler(requireEnvGroup(state, ctx.account, ctx.params.envGroupId ?? ''), ctx) });
  /** A service the group may link: one of the caller's, in the group's workspace (400 otherwise, as for a create's body). */
  const linkable = (account: AccountRec, ownerId: string, serviceId: string) => {
    let svc;
    try { svc = requireService(state, account, serviceId); } catch (err) {
      if (err instanceof ApiError && err.status === 404) throw badRequest(`invalid serviceId: ${serviceId}`);
      throw err;
    }
    if (svc.ownerId !== ownerId) throw badRequest(`service ${serviceId} is not in the env group's workspace`);
    return svc.id;
  };

  return [
    {
      method: 'GET',
      route: '/env-groups',
      handler: ({ account, query }) => {
        const limit = parseLimit(query);
        const names = arrayParam(query, 'name');
        const ownerIds = arrayParam(query, 'ownerId');
        // The simulator's groups belong to no environment: asked for some, none matches.
        const environmentIds = arrayParam(query, 'environmentId');
        const visible = new Set(visibleOwnerIds(account));
        const list = envGroupsOf(state)
          .filter((g) => visible.has(g.ownerId))
          .filter((g) => ownerIds.length === 0 || ownerIds.includes(g.ownerId))
          .filter((g) => names.length === 0 || names.includes(g.name))
          .filter(() => environmentIds.length === 0)
          .filter((g) => withinBounds(query, 'created', g.createdUs) && withinBounds(query, 'updated', g.updatedUs))
          .sort((a, b) => b.seq - a.seq)
          .slice(0, limit);
        return { status: 200, body: list.map((g) => presentEnvGroupMeta(g, state.services)) };
      },
    },
    {
      method: 'POST',
      route: '/env-groups',
      handler: (ctx) => {
        const { account } = ctx;
        const body = objectBody(ctx);
        assertSpec(spec.check('envGroupPOSTInput', body));
        const ownerId = String(body.ownerId);
        requireOwnerForCreate(state, account, ownerId);
        const name = String(body.name).trim();
        if (!name) throw badRequest('name must not be empty');
        const serviceIds = [...new Set(Array.isArray(body.serviceIds) ? body.serviceIds.map(String) : [])].map((id) => linkable(account, ownerId, id));
        const nowUs = clock.nowUs();
        const group: EnvGroupRec = {
          seq: nextSeq(state), id: newId('evg'), name, ownerId, createdUs: nowUs, updatedUs: nowUs,
          envVars: envVarsFromInput(body.envVars, state), secretFiles: secretFilesFromInput(body.secretFiles, state), serviceIds,
        };
        envGroupsOf(state).push(group);
        return { status: 201, body: presentEnvGroup(group, state.services) };
      },
    },
    groupRoute('GET', '/env-groups/{envGroupId}', (g, { account }) => {
      recorder.audit({ ownerId: g.ownerId, event: 'ViewEnvVarValuesEvent', actor: account, metadata: { envGroup: g.id, envGroupName: g.name } });
      return { status: 200, body: presentEnvGroup(g, state.services) };
    }),
    groupRoute('DELETE', '/env-groups/{envGroupId}', (g, { account }) => {
      state.envGroups = envGroupsOf(state).filter((x) => x.id !== g.id);
      recorder.audit({ ownerId: g.ownerId, event: 'DeleteEnvGroupEvent', actor: account, metadata: { envGroup: g.id, envGroupName: g.name } });
      return { status: 204 };
    }),
    groupRoute('POST', '/env-groups/{envGroupId}/services/{serviceId}', (g, { account, params }) => {
      const serviceId = linkable(account, g.ownerId, params.serviceId ?? '');
      if (!g.serviceIds.includes(serviceId)) g.serviceIds.push(serviceId);
      g.updatedUs = clock.nowUs();
      return { status: 200, body: presentEnvGroup(g, state.services) };
    }),
    groupRoute('DELETE', '/env-groups/{envGroupId}/services/{serviceId}', (g, { params }) => {
      const serviceId = params.serviceId ?? '';
      if (!g.serviceIds.includes(serviceId)) throw notFound(serviceId);
      g.serviceIds = g.serviceIds.filter((id) => id !== serviceId);
      g.updatedUs = clock.nowUs();
      return { status: 204 };
    }),
  ];
}

/** 404 unless the key may see the group's workspace (as for a service: docs/render-api.md §3). */
function requireEnvGroup(state: SimState, account: AccountRec, id: string): EnvGroupRec {
  const group = envGroupsOf(state).find((g) => g.id === id);
  if (!group || !visibleOwnerIds(account).includes(group.ownerId)) throw notFound(id);
  return group;
}

/** `secretFileInput[]` → records (validated against the spec by the caller). */
function secretFilesFromInput(input: unknown, state: SimState): SecretFileRec[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) throw badRequest('secretFiles must be an array');
  const seen = new Set<string>();
  return input.map((item: { name?: unknown; content?: unknown }) => {
    if (typeof item.name !== 'string' || !item.name || typeof item.content !== 'string') throw badRequest('each secret file needs a name and content');
    if (seen.has(item.name)) throw badRequest(`duplicate secret file name: ${item.name}`);
    seen.add(item.name);
    return { seq: nextSeq(state), name: item.name, content: item.content };
  });
}

/** Unlinks a deleted service from every group (Render's groups list only services that exist). */
export function unlinkFromEnvGroups(state: SimState, serviceId: string): void {
  for (const g of envGroupsOf(state)) if (g.serviceIds.includes(serviceId)) g.serviceIds = g.serviceIds.filter((id) => id !== serviceId);
}
