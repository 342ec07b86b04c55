import { requireService } from '../access.js';
import { badRequest, notFound } from '../errors.js';
import { encodeCursor, paginate } from '../pagination.js';
import { presentEnvVar } from '../present.js';
import { isObject, jsonBody, type RouteDef } from '../router.js';
import { nextSeq, type AccountRec, type ServiceRec } from '../state.js';
import { assertSpec, type RouteDeps } from './deps.js';
import { envVarsFromInput, generateSecretValue } from './services.js';

/**
 * Service env vars (docs/render-api.md §7): PUT on the collection replaces the whole set; the per-key
 * routes upsert/delete one. Reading values is audited as ViewEnvVarValuesEvent (docs/render-api.md §10).
 * None of these starts a deploy.
 */
export function envVarRoutes({ state, clock, recorder, spec }: RouteDeps): RouteDef[] {
  const audit = (svc: ServiceRec, account: AccountRec, event: string, extra: Record<string, string> = {}) =>
    recorder.audit({ ownerId: svc.ownerId, event, actor: account, metadata: { service: svc.id, field: 'env_vars', ...extra } });

  const withCursor = (svc: ServiceRec) => svc.envVars.map((e) => ({ envVar: presentEnvVar(e), cursor: encodeCursor(e.seq) }));

  return [
    {
      method: 'GET',
      route: '/services/{serviceId}/env-vars',
      handler: ({ account, params, query }) => {
        const svc = requireService(state, account, params.serviceId ?? '');
        const page = paginate(svc.envVars, query, 'envVar', presentEnvVar, { order: 'asc' });
        audit(svc, account, 'ViewEnvVarValuesEvent');
        return { status: 200, body: page };
      },
    },
    {
      method: 'PUT',
      route: '/services/{serviceId}/env-vars',
      handler: (ctx) => {
        const svc = requireService(state, ctx.account, ctx.params.serviceId ?? '');
        const body = jsonBody(ctx);
        if (!Array.isArray(body)) throw badRequest('request body must be an array of env vars');
        assertSpec(spec.check('envVarInputArray', body));
        svc.envVars = envVarsFromInput(body, state);
        svc.updatedUs = clock.nowUs();
        audit(svc, ctx.account, 'UpdateEnvVarsEvent');
        return { status: 200, body: withCursor(svc) };
      },
    },
    {
      method: 'GET',
      route: '/services/{serviceId}/env-vars/{envVarKey}',
      handler: ({ account, params }) => {
        const svc = requireService(state, account, params.serviceId ?? '');
        const env = svc.envVars.find((e) => e.key === params.envVarKey);
        if (!env) throw notFound(params.envVarKey ?? '');
        audit(svc, account, 'ViewEnvVarValuesEvent', { key: env.key });
        return { status: 200, body: presentEnvVar(env) };
      },
    },
    {
      method: 'PUT',
      route: '/services/{serviceId}/env-vars/{envVarKey}',
      handler: (ctx) => {
        const svc = requireService(state, ctx.account, ctx.params.serviceId ?? '');
        const key = ctx.params.envVarKey ?? '';
        const body = jsonBody(ctx);
        if (!isObject(body)) throw badRequest('request body must be a JSON object');
        assertSpec(spec.check('addUpdateEnvVarInput', body));
        let value: string;
        if (typeof body.value === 'string') value = body.value;
        else if (body.generateValue === true) value = generateSecretValue();
        else throw badRequest('provide value or generateValue: true');
        const existing = svc.envVars.find((e) => e.key === key);
        if (existing) existing.value = value;
        else svc.envVars.push({ seq: nextSeq(state), key, value });
        svc.updatedUs = clock.nowUs();
        audit(svc, ctx.account, existing ? 'UpdateEnvVarsEvent' : 'CreateEnvVarsEvent', { key });
        return { status: 200, body: { key, value } };
      },
    },
    {
      method: 'DELETE',
      route: '/services/{serviceId}/env-vars/{envVarKey}',
      handler: ({ account, params }) => {
        const svc = requireService(state, account, params.serviceId ?? '');
        const key = params.envVarKey ?? '';
        const before = svc.envVars.length;
        svc.envVars = svc.envVars.filter((e) => e.key !== key);
        if (svc.envVars.length === before) throw notFound(key);
        svc.updatedUs = clock.nowUs();
        audit(svc, account, 'DeleteEnvVarsEvent', { key });
        return { status: 204 };
      },
    },
  ];
}
