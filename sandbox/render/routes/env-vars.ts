import { badRequest } from '../errors.js';
import { encodeCursor } from '../pagination.js';
import { presentEnvVar } from '../present.js';
import { jsonBody, objectBody, type RouteDef } from '../router.js';
import { nextSeq, type EnvVarRec, type ServiceRec } from '../state.js';
import { assertSpec, serviceRoute, type RouteDeps } from './deps.js';
import { envVarsFromInput, generateSecretValue } from './services.js';
import { itemAudit, namedItemRoutes, type NamedItems } from './named-items.js';

const ENV_VARS: NamedItems<EnvVarRec> = {
  path: 'env-vars', param: 'envVarKey', auditKey: 'key', listKey: 'envVar',
  viewEvent: 'ViewEnvVarValuesEvent', deleteEvent: 'DeleteEnvVarsEvent',
  nameOf: (e) => e.key, items: (svc) => svc.envVars, setItems: (svc, items) => { svc.envVars = items; }, present: presentEnvVar,
};

/**
 * Service env vars (docs/render-api.md §7): PUT on the collection replaces the whole set; the per-key
 * routes upsert/delete one. Reading values is audited as ViewEnvVarValuesEvent (docs/render-api.md §10).
 * None of these starts a deploy.
 */
export function envVarRoutes(deps: RouteDeps): RouteDef[] {
  const { state, clock, recorder, spec } = deps;
  const audit = itemAudit(recorder, 'env_vars');

  const withCursor = (svc: ServiceRec) => svc.envVars.map((e) => ({ envVar: presentEnvVar(e), cursor: encodeCursor(e.seq) }));

  return [
    ...namedItemRoutes(deps, ENV_VARS),
    serviceRoute(state, 'PUT', '/services/{serviceId}/env-vars', (svc, ctx) => {
      const body = jsonBody(ctx);
      if (!Array.isArray(body)) throw badRequest('request body must be an array of env vars');
      assertSpec(spec.check('envVarInputArray', body));
      svc.envVars = envVarsFromInput(body, state);
      svc.updatedUs = clock.nowUs();
      audit(svc, ctx.account, 'UpdateEnvVarsEvent');
      return { status: 200, body: withCursor(svc) };
    }),
    serviceRoute(state, 'PUT', '/services/{serviceId}/env-vars/{envVarKey}', (svc, ctx) => {
      const key = ctx.params.envVarKey ?? '';
      const body = objectBody(ctx);
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
    }),
  ];
}
