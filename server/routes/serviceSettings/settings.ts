import type Router from '@koa/router';
import { z } from 'zod';
import type { AppDeps } from '../../deps.js';
import { AppError, errors, reworded } from '../../errors.js';
import { RENDER_REFUSALS, toAppError } from '../../middleware/errorHandler.js';
import { cronSchedule, RENDER_PLANS } from '../../deployments/input.js';
import { SERVICE_TYPE_PRESETS } from '../../stacks/serviceTypes.js';
import { validate } from '../../middleware/validate.js';
import type { RenderClient } from '../../render/client.js';
import { RenderKeyWithdrawn } from '../../render/errors.js';
import { answerWithdrawn } from '../../render/forRequest.js';
import type { Service, ServicePATCH } from '../../render/types.js';
import { NoQuery } from './keyedItems.js';
import { plainRender, type settingsScope } from './scope.js';
import { documented } from '../../openapi/describe.js';
import { readBackFailed } from '../services.js';
import { ServiceSettingsEnvelope, type ServiceSettingsView } from './views.js';
import { previewOf } from '../../presenters/service.js';
import { dashboardUrlOf, withoutUserInfo } from '../../render/serviceNames.js';

type ServiceType = Service['type'];
/** Which setting each service type has on Render (spec: the *DetailsPATCH schemas; scale: REFERENCE-backed docs/render-api.md). */
const HAS: Record<'previews' | 'plan' | 'healthCheckPath' | 'numInstances' | 'schedule', ReadonlySet<ServiceType>> = {
  previews: new Set(['web_service', 'static_site', 'private_service', 'background_worker']),
  plan: new Set(['web_service', 'private_service', 'background_worker', 'cron_job']),
  healthCheckPath: new Set(['web_service']),
  numInstances: new Set(['web_service', 'private_service', 'background_worker']),
  schedule: new Set(['cron_job']),
};
export const MAX_INSTANCES = 100;
const HEALTH_PATH = /^\/[\x21-\x7e]{0,255}$/;

const SettingsPatch = z.object({
  auto_deploy: z.boolean('auto_deploy is true or false').optional(),
  previews: z.enum(['off', 'manual', 'automatic'], 'Pull request previews are off, manual or automatic.').optional(),
  num_instances: z.number('Enter a whole number of instances.').int('Enter a whole number of instances.')
    .min(1, 'At least 1 instance (suspend the service to stop it).').max(MAX_INSTANCES, `At most ${MAX_INSTANCES} instances.`).optional(),
  plan: z.enum(RENDER_PLANS, `Choose one of Render's instance types: ${RENDER_PLANS.join(', ')}.`).optional(),
  health_check_path: z.string('The health check path is text.')
    .refine((v) => v === '' || HEALTH_PATH.test(v), 'A health check path starts with / and has no spaces (at most 256 characters); leave it empty to turn the check off.').optional(),
  /** A cron job's schedule: the deploy form's rule and words (deployments/input.ts, deployments/cron.ts). */
  schedule: cronSchedule.optional(),
  _csrf: z.string().optional(),
}).strict().refine((b) => Object.keys(b).some((k) => k !== '_csrf'), 'Nothing to change: send at least one setting.');
type Patch = z.infer<typeof SettingsPatch>;

/** Render's instance types for a type of service: the free one only where Render has it (web services). */
const plansFor = (type: ServiceType) => RENDER_PLANS.filter((p) => p !== 'free' || SERVICE_TYPE_PRESETS[type]?.freePlan === true);

const details = (svc: Service) => (svc.serviceDetails ?? {}) as Record<string, unknown>;
const str = (v: unknown) => (typeof v === 'string' && v ? v : null);

/**
 * What the settings page shows; a whitelist of the service's fields. `previewServices` null: not read
 * (a save's answer, whose [] said the service had none).
 */
export function presentSettings(svc: Service, previewServices: PreviewScan | null): ServiceSettingsView {
  const d = details(svc);
  const autoscaling = d.autoscaling as { enabled?: boolean; min?: number; max?: number } | undefined;
  return {
    id: svc.id, name: svc.name, type: svc.type, repo: svc.repo ? withoutUserInfo(svc.repo) : null, branch: svc.branch ?? null,
    imageBacked: !svc.repo, suspended: svc.suspended === 'suspended', dashboardUrl: dashboardUrlOf(svc.dashboardUrl),
    url: str(d.url), region: str(d.region), runtime: str(d.runtime),
    autoDeploy: svc.autoDeploy === 'yes',
    previews: HAS.previews.has(svc.type) ? ((d.previews as { generation?: string } | undefined)?.generation ?? 'off') : null,
    plan: HAS.plan.has(svc.type) ? str(d.plan) : null,
    healthCheckPath: HAS.healthCheckPath.has(svc.type) ? (typeof d.healthCheckPath === 'string' ? d.healthCheckPath : '') : null,
    numInstances: HAS.numInstances.has(svc.type) && typeof d.numInstances === 'number' ? d.numInstances : null,
    schedule: HAS.schedule.has(svc.type) ? (typeof d.schedule === 'string' ? d.schedule : '') : null,
    autoscaling: autoscaling?.enabled ? { min: autoscaling.min ?? null, max: autoscaling.max ?? null } : null,
    plans: plansFor(svc.type), maxInstances: MAX_INSTANCES,
    previewServices: previewServices && previewServices.found.map((p) => ({ id: p.id, name: p.name, url: str(details(p).url), dashboardUrl: dashboardUrlOf(p.dashboardUrl) })),
    previewServicesComplete: previewServices && previewServices.complete,
  };
}

/** How many of the workspace's services (of the type, made after the service) are read looking for its previews. */
const PREVIEW_SCAN_CAP = 500;

interface PreviewScan { found: Service[]; complete: boolean }

/**
 * A service's pull request previews: services of their own whose parentServer is this one. Render's list
 * cannot filter by parent, so it is narrowed to what a preview must be (the parent's type, made after it)
 * and read up to a cap; `complete` false says the cap was reached and more previews may exist.
 */
async function previewsOf(client: RenderClient, service: Service): Promise<PreviewScan> {
  if (!HAS.previews.has(service.type)) return { found: [], complete: true };
  const candidates = await client.listServices({
    ownerId: [service.ownerId], type: [service.type], includePreviews: true,
    createdAfter: service.createdAt,
    // One past the cap: exactly the cap's worth of services is a complete look.
    limit: PREVIEW_SCAN_CAP + 1,
  });
  return {
    found: candidates.filter((s) => previewOf(s)?.id === service.id),
    complete: candidates.length <= PREVIEW_SCAN_CAP,
  };
}

/** A setting this type of service does not have is a field error, before Render is asked. */
function refuseMissing(svc: Service, patch: Patch) {
  const checks: Array<[keyof Patch, keyof typeof HAS, string]> = [
    ['previews', 'previews', 'Cron jobs have no pull request previews.'],
    ['plan', 'plan', 'Static sites have no instance type to change.'],
    ['health_check_path', 'healthCheckPath', 'Only web services have a health check path.'],
    ['num_instances', 'numInstances', 'Static sites and cron jobs have no instance count.'],
    ['schedule', 'schedule', 'Only cron jobs have a schedule.'],
  ];
  for (const [field, has, message] of checks) if (patch[field] !== undefined && !HAS[has].has(svc.type)) throw errors.validation(message, { field });
  if (patch.plan !== undefined && !plansFor(svc.type).includes(patch.plan)) {
    // As the deploy form words it (deployments/input.ts): Render refuses it, so it is not asked.
    throw errors.validation(`Render has no free instance type for a ${SERVICE_TYPE_PRESETS[svc.type]?.label.toLowerCase() ?? svc.type}: choose Starter or above.`, { field: 'plan' });
  }
  if (patch.num_instances !== undefined && (details(svc).autoscaling as { enabled?: boolean } | undefined)?.enabled) {
    throw errors.validation('Autoscaling is on for this service: Render sets the instance count. Change the autoscaling range in the Render Dashboard.', { field: 'num_instances' });
  }
}

/** The PATCH body for everything but the instance count, or null when only the count changes. */
function servicePatch(patch: Patch): ServicePATCH | null {
  const sd: Record<string, unknown> = {};
  if (patch.previews !== undefined) sd.previews = { generation: patch.previews };
  if (patch.plan !== undefined) sd.plan = patch.plan;
  if (patch.health_check_path !== undefined) sd.healthCheckPath = patch.health_check_path;
  if (patch.schedule !== undefined) sd.schedule = patch.schedule;
  const body: Record<string, unknown> = {};
  if (patch.auto_deploy !== undefined) body.autoDeploy = patch.auto_deploy ? 'yes' : 'no';
  if (Object.keys(sd).length) body.serviceDetails = sd;
  return Object.keys(body).length ? body : null;
}

/** The service as Render has it after `body` and a scale to `numInstances` were accepted (for a failed read-back). */
function applied(svc: Service, body: ServicePATCH | null, numInstances: number | undefined): Service {
  const { serviceDetails: sd, ...top } = (body ?? {}) as Record<string, unknown> & { serviceDetails?: Record<string, unknown> };
  return {
    ...svc, ...top,
    serviceDetails: { ...details(svc), ...sd, ...(numInstances !== undefined ? { numInstances } : {}) },
  } as Service;
}

/** The PATCH-able settings of a service as the patch names them (undefined: the service has none). */
function patchableOf(svc: Service): Omit<Patch, 'num_instances' | '_csrf'> {
  const d = details(svc);
  return {
    auto_deploy: svc.autoDeploy === 'yes',
    previews: (d.previews as { generation?: Patch['previews'] } | undefined)?.generation ?? 'off',
    plan: typeof d.plan === 'string' ? d.plan as Patch['plan'] : undefined,
    health_check_path: typeof d.healthCheckPath === 'string' ? d.healthCheckPath : '',
    schedule: typeof d.schedule === 'string' ? d.schedule : undefined,
  };
}

/**
 * What to put back when a later step fails: each field this save changed, to what it was before, but
 * only while it still holds what this save wrote. Render has no conditional PATCH, so this is read just
 * before; a service changed at all since this save's own PATCH gets nothing put back (putBack).
 * `now` null (it could not be read): every field this save changed goes back.
 */
function undoPatch(before: Service, now: Service | null, patch: Patch): ServicePATCH | null {
  const was = patchableOf(before);
  const is = now ? patchableOf(now) : null;
  const back: Record<string, unknown> = {};
  for (const field of ['auto_deploy', 'previews', 'plan', 'health_check_path', 'schedule'] as const) {
    const wrote = patch[field];
    if (wrote === undefined || was[field] === undefined || was[field] === wrote) continue;
    if (is && is[field] !== wrote) continue;
    back[field] = was[field];
  }
  return servicePatch(back);
}

/**
 * After a failed scale: this save's other fields back to what they were (see undoPatch). False, and
 * nothing put back, when the service changed since this save's own PATCH (`wroteAt`, the updatedAt of its
 * answer; Render moves it on every change): a writer outside this app (Render's Dashboard, another client
 * of the key) may have set a field to the very value this save wrote and been told it was made, and the
 * field alone cannot tell that apart from this save's write. This app's own saves cannot come between:
 * they wait for the service's settings turn.
 */
async function putBack(client: RenderClient, before: Service, patch: Patch, wroteAt: string | undefined): Promise<boolean> {
  const now = await client.getService(before.id).catch(() => null);
  if (now && wroteAt !== undefined && now.updatedAt !== wroteAt) return false;
  const undo = undoPatch(before, now, patch);
  if (undo) await client.updateService(before.id, undo);
  return true;
}

/**
 * The turn every settings save of a service takes (inItemTurn, across web processes): a save that fails
 * halfway puts its fields back, and another save in between (answered 200) would have them put back too
 * when it wrote the same value. Held past the most a save's calls take inside it (a read, the PATCH, the
 * scale, a read and the put-back PATCH: five at Render's 15 s and a 2 s budget wait each); a save that
 * waits 20 s for it is refused 409, nothing changed.
 */
const SETTINGS_TURN = 'settings';
const SETTINGS_TURN_MS = 120_000;
const TURN_TAKEN = 'Another save of this service\'s settings is still on its way to Render; nothing was changed. Try again in a few seconds.';

const FIELD_WORDS: Record<'auto_deploy' | 'previews' | 'plan' | 'health_check_path' | 'schedule', string> = {
  auto_deploy: 'auto-deploy', previews: 'pull request previews', plan: 'instance type', health_check_path: 'health check path', schedule: 'schedule',
};

/**
 * The message without its closing "Nothing was changed." (and the ; or . before it), ending in a full stop.
 * String steps, not a regex: `\s*` before a fixed tail backtracks over a long run of spaces
 * (test/security/regex-safety).
 */
function withoutNothingChanged(message: string): string {
  const TAIL = 'nothing was changed';
  let rest = message.endsWith('.') ? message.slice(0, -1) : message;
  if (!rest.toLowerCase().endsWith(TAIL)) return message;
  rest = rest.slice(0, -TAIL.length).trimEnd();
  if (rest.endsWith(';') || rest.endsWith('.')) rest = rest.slice(0, -1);
  return `${rest}.`;
}

/**
 * The scale failed and putting the save's other fields back failed too: the error says which of them
 * stayed changed on Render, instead of its own "Nothing was changed".
 */
function halfApplied(err: unknown, before: Service, patch: Patch): unknown {
  const known = toAppError(err);
  if (!known) return err;
  const was = patchableOf(before);
  const kept = (Object.keys(FIELD_WORDS) as Array<keyof typeof FIELD_WORDS>)
    .filter((f) => patch[f] !== undefined && patch[f] !== was[f]).map((f) => FIELD_WORDS[f]);
  const said = withoutNothingChanged(known.message);
  return reworded(known,
    `${said} The other settings of this save (${kept.join(', ')}) were changed on Render and could not be put back: check them, and save again.`,
    known.details ?? { field: 'num_instances' });
}

/** Auto-deploy, PR previews, instance count, plan, health check and (a cron job's) schedule of one service. */
export function settingsRoutes(router: Router, deps: AppDeps, scope: ReturnType<typeof settingsScope>) {
  const path = '/api/render/services/:id/settings';

  router.get(path, documented({ summary: 'A service\'s settings: auto-deploy, previews, instances, plan, health check, a cron job\'s schedule', tag: 'service-settings', responses: { 200: ServiceSettingsEnvelope } }), ...scope.read, validate({ query: NoQuery }), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    ctx.body = { settings: presentSettings(service, await previewsOf(caller.client, service)) };
  });

  router.patch(path, documented({ summary: 'Change some settings (all or nothing)', tag: 'service-settings', responses: { 200: ServiceSettingsEnvelope }, errors: [...RENDER_REFUSALS, 'item_change_in_progress'] }), ...scope.write(), validate({ body: SettingsPatch }, { messages: 'as-written' }), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    const patch = ctx.input.body;
    refuseMissing(service, patch);
    const body = servicePatch(patch);
    const mayPutBack = body !== null && patch.num_instances !== undefined;
    // One save of the service's settings at a time (SETTINGS_TURN). A key withdrawn while it waited stops
    // it before any call (whileKeyHeld: nothing was changed).
    const before = await scope.whileKeyHeld(caller, (client) => scope.inItemTurn(service.id, SETTINGS_TURN, async () => {
      // What a put-back restores: read in the turn, as a save that ran while this one waited left it.
      const before = mayPutBack ? await client.getService(service.id) : service;
      let sent = false;
      try {
        let wroteAt: string | undefined;
        if (body) {
          const wrote = await plainRender('these settings', Object.keys(patch).find((k) => k !== '_csrf' && k !== 'num_instances') ?? null, () => client.updateService(service.id, body), { quote: true });
          sent = true;
          wroteAt = wrote.updatedAt;
        }
        if (patch.num_instances !== undefined) {
          try {
            await plainRender('the instance count', 'num_instances', () => client.scaleService(service.id, patch.num_instances!), { quote: true });
          } catch (err) {
            // Nothing half-applied: the fields changed a moment ago go back to what they were, unless the
            // service changed since (putBack): then the answer says which stayed changed.
            const undone = !body || await putBack(client, before, patch, wroteAt).then((put) => {
              if (!put) ctx.state.log.warn('settings: not put back after a failed scale: the service changed on Render meanwhile');
              return put;
            }, (undoErr: unknown) => {
              ctx.state.log.warn({ err: { message: (undoErr as Error).message } }, 'settings: could not undo after a failed scale');
              return false;
            });
            // Left changed on Render: recorded (audit, the cached list, other tabs) as the change it partly is.
            if (!undone) await scope.changed(ctx, 'settings_update').catch(() => undefined);
            throw undone ? err : halfApplied(err, before, patch);
          }
        }
        return before;
      } catch (err) {
        // Withdrawn after this save's PATCH was made: not "nothing was changed" (whileKeyHeld) but the
        // words of a request stopped at Render (check the service).
        if (sent && err instanceof RenderKeyWithdrawn) await answerWithdrawn(deps, caller);
        throw err;
      }
    }, SETTINGS_TURN_MS)).catch((err: unknown) => {
      throw err instanceof AppError && err.code === 'item_change_in_progress' ? reworded(err, TURN_TAKEN) : err;
    });
    await scope.changed(ctx, 'settings_update');
    // Made on Render: a failed read-back answers with the service as read before the save and this change applied.
    const after = await caller.client.getService(service.id).catch(readBackFailed(ctx, 'settings_update', applied(before, body, patch.num_instances)));
    ctx.body = { settings: presentSettings(after, null) };
  });
}
