import { randomBytes } from 'node:crypto';
import { requireOwnerForCreate, requireService, visibleOwnerIds } from '../access.js';
import { newId } from '../clock.js';
import { unlinkFromEnvGroups } from './env-groups.js';
import { badRequest, conflict } from '../errors.js';
import { arrayParam, enumArrayParam, paginate, withinBounds } from '../pagination.js';
import { presentService } from '../present.js';
import { instanceOf } from '../records.js';
import { isObject, objectBody, type RouteDef } from '../router.js';
import { applyServicePatch, assertPlanAllowed, buildService } from '../service-builder.js';
import { nextSeq, type EnvVarRec, type ServiceRec, type SimState } from '../state.js';
import { assertSpec, serviceRoute, type RouteDeps } from './deps.js';

/** Services: list/create/retrieve/update/delete, suspend/resume/restart (docs/render-api.md §5). */

const SERVICE_TYPES = ['static_site', 'web_service', 'private_service', 'background_worker', 'cron_job'] as const;
const RUNTIMES = ['docker', 'elixir', 'go', 'node', 'python', 'ruby', 'rust', 'image'] as const;
const REGIONS = ['frankfurt', 'oregon', 'ohio', 'singapore', 'virginia'] as const;
const SCALE_BODY = '/paths/~1services~1{serviceId}~1scale/post/requestBody/content/application~1json/schema';
/** Render's dashboard offers up to 100 instances for manual scaling. */
const MAX_INSTANCES = 100;

export function serviceRoutes(deps: RouteDeps): RouteDef[] {
  const { state, clock, engine, recorder, spec } = deps;

  return [
    {
      method: 'GET',
      route: '/services',
      handler: ({ account, query }) => {
        const names = arrayParam(query, 'name');
        const types = enumArrayParam(query, 'type', SERVICE_TYPES);
        const envs = enumArrayParam(query, 'env', RUNTIMES);
        const regions = enumArrayParam(query, 'region', REGIONS);
        const suspended = enumArrayParam(query, 'suspended', ['suspended', 'not_suspended']);
        const ownerIds = arrayParam(query, 'ownerId');
        const environmentIds = arrayParam(query, 'environmentId');
        const visible = new Set(visibleOwnerIds(account));
        const list = [...state.services.values()]
          .filter((s) => visible.has(s.ownerId))
          .filter((s) => names.length === 0 || names.includes(s.name))
          .filter((s) => types.length === 0 || types.includes(s.type))
          .filter((s) => envs.length === 0 || envs.includes(String(s.details.runtime)))
          .filter((s) => regions.length === 0 || regions.includes(String(s.details.region)))
          .filter((s) => suspended.length === 0 || suspended.includes(s.suspended))
          .filter((s) => ownerIds.length === 0 || ownerIds.includes(s.ownerId))
          .filter((s) => environmentIds.length === 0 || (s.environmentId !== null && environmentIds.includes(s.environmentId)))
          .filter((s) => withinBounds(query, 'created', s.createdUs) && withinBounds(query, 'updated', s.updatedUs))
          // includePreviews defaults to true (docs/render-api.md); a preview is a service with a parentServer.
          .filter((s) => query.get('includePreviews') !== 'false' || !isObject(s.details.parentServer))
          .sort((a, b) => b.seq - a.seq);
        return { status: 200, body: paginate(list, query, 'service', presentService, { order: 'desc' }) };
      },
    },
    {
      method: 'POST',
      route: '/services',
      handler: (ctx) => {
        const body = objectBody(ctx);
        const seq = nextSeq(state);
        const nowUs = clock.nowUs();
        // Render gives cron jobs crn- ids (docs/render-api.md, "Service types").
        const svc = buildService(spec, state, { body, id: newId(body.type === 'cron_job' ? 'crn' : 'srv'), seq, nowUs });
        requireOwnerForCreate(state, ctx.account, svc.ownerId);
        if (svc.image && svc.image.ownerId !== svc.ownerId) throw badRequest('image.ownerId must match ownerId');
        if (nameTaken(state, svc.ownerId, svc.name)) {
          throw conflict(`a service named "${svc.name}" already exists in this workspace`);
        }
        assertPlanAllowed(isObject(body.serviceDetails) ? body.serviceDetails : {}, svc.type, deps.freePlanAllowed, ctx.account.hasPaymentInfo);
        svc.envVars = envVarsFromInput(body.envVars, state);
        state.services.set(svc.id, svc);
        recorder.audit({ ownerId: svc.ownerId, event: 'CreateServerEvent', actor: ctx.account, metadata: { service: svc.id, serviceName: svc.name } });
        const deploy = engine.create(svc, { trigger: 'api' });
        return { status: 201, body: { service: presentService(svc), deployId: deploy.id } };
      },
    },
    {
      method: 'GET',
      route: '/services/{serviceId}',
      handler: ({ account, params }) => ({ status: 200, body: presentService(requireService(state, account, params.serviceId ?? '')) }),
    },
    serviceRoute(state, 'PATCH', '/services/{serviceId}', (svc, ctx) => {
      const body = objectBody(ctx);
      if (typeof body.name === 'string' && body.name !== svc.name && nameTaken(state, svc.ownerId, body.name)) {
        throw conflict(`a service named "${body.name}" already exists in this workspace`);
      }
      // Validate on a copy so a 400 leaves the service untouched.
      const draft: ServiceRec = { ...svc, details: structuredClone(svc.details) };
      const { renamed } = applyServicePatch(spec, draft, body);
      Object.assign(svc, draft, { updatedUs: clock.nowUs() });
      if (renamed) {
        recorder.audit({ ownerId: svc.ownerId, event: 'UpdateServiceNameEvent', actor: ctx.account, metadata: { service: svc.id, serviceName: svc.name } });
      }
      return { status: 200, body: presentService(svc) };
    }),
    serviceRoute(state, 'DELETE', '/services/{serviceId}', (svc, { account }) => {
      engine.dropService(svc.id);
      for (const [id, d] of state.deploys) if (d.serviceId === svc.id) state.deploys.delete(id);
      state.logs = state.logs.filter((l) => l.resourceId !== svc.id);
      state.events = state.events.filter((e) => e.serviceId !== svc.id);
      state.services.delete(svc.id);
      unlinkFromEnvGroups(state, svc.id);
      recorder.audit({ ownerId: svc.ownerId, event: 'DeleteServerEvent', actor: account, metadata: { service: svc.id, serviceName: svc.name } });
      return { status: 204 };
    }),
    serviceRoute(state, 'POST', '/services/{serviceId}/suspend', (svc, { account }) => {
      if (svc.suspended !== 'suspended') {
        svc.suspended = 'suspended';
        svc.suspenders = ['user'];
        svc.updatedUs = clock.nowUs();
        recorder.log({ resourceId: svc.id, ownerId: svc.ownerId, message: '==> Service suspended', type: 'app' });
        recorder.event(svc.id, 'service_suspended');
      }
      recorder.audit({ ownerId: svc.ownerId, event: 'SuspendServiceEvent', actor: account, metadata: { service: svc.id } });
      return { status: 202 };
    }),
    serviceRoute(state, 'POST', '/services/{serviceId}/resume', (svc, { account }) => {
      if (svc.suspended === 'suspended') {
        svc.suspended = 'not_suspended';
        svc.suspenders = [];
        svc.updatedUs = clock.nowUs();
        recorder.event(svc.id, 'service_resumed');
        engine.create(svc, { trigger: 'service_resumed' });
      }
      recorder.audit({ ownerId: svc.ownerId, event: 'ResumeServiceEvent', actor: account, metadata: { service: svc.id } });
      return { status: 202 };
    }),
    // 202 with an empty body (docs/render-api.md §5.4). Only services that run instances can scale.
    serviceRoute(state, 'POST', '/services/{serviceId}/scale', (svc, ctx) => {
      const body = objectBody(ctx);
      assertSpec(spec.checkPointer(SCALE_BODY, body));
      if (svc.type === 'static_site' || svc.type === 'cron_job') throw badRequest(`${svc.type} cannot be scaled`);
      const n = body.numInstances;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_INSTANCES) throw badRequest(`numInstances must be an integer from 1 to ${MAX_INSTANCES}`);
      svc.details.numInstances = n;
      svc.updatedUs = clock.nowUs();
      recorder.audit({ ownerId: svc.ownerId, event: 'ScaleServiceEvent', actor: ctx.account, metadata: { service: svc.id, numInstances: String(n) } });
      return { status: 202 };
    }),
    serviceRoute(state, 'POST', '/services/{serviceId}/restart', (svc) => {
      if (svc.type === 'cron_job') throw badRequest('restart is not supported for cron jobs');
      if (svc.suspended === 'suspended') throw badRequest('cannot restart a suspended service');
      recorder.log({ resourceId: svc.id, ownerId: svc.ownerId, message: '==> Restarting service...', type: 'app', instance: instanceOf(svc.id) });
      return { status: 200 };
    }),
  ];
}

function nameTaken(state: SimState, ownerId: string, name: string): boolean {
  for (const s of state.services.values()) if (s.ownerId === ownerId && s.name === name) return true;
  return false;
}

/** `envVarInputArray` → records (already validated against the spec by the caller). */
export function envVarsFromInput(input: unknown, state: SimState): EnvVarRec[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) throw badRequest('envVars must be an array');
  const seen = new Set<string>();
  return input.map((item: unknown) => {
    if (!isObject(item) || typeof item.key !== 'string' || !item.key) throw badRequest('each env var needs a non-empty key');
    if (seen.has(item.key)) throw badRequest(`duplicate env var key: ${item.key}`);
    seen.add(item.key);
    let value: string;
    if (typeof item.value === 'string') value = item.value;
    else if (item.generateValue === true) value = generateSecretValue();
    else throw badRequest(`env var ${item.key} needs a value or generateValue: true`);
    return { seq: nextSeq(state), key: item.key, value };
  });
}

/** What `generateValue: true` produces: a random 256-bit base64 string. */
export function generateSecretValue(): string {
  return randomBytes(32).toString('base64');
}
