import type Router from '@koa/router';
import type Koa from 'koa';
import type { DefaultState } from 'koa';
import type { RouterMiddleware } from '@koa/router';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { AppError, errors } from '../errors.js';
import { RenderApiError, RenderKeyWithdrawn } from '../render/errors.js';
import { requireCsrf } from '../middleware/security.js';
import { requireRenderKey, requireUser, type RenderKeyState } from '../middleware/context.js';
import { pathParam, takesNoBody, validate } from '../middleware/validate.js';
import { githubRepoOf, suggestFreeName } from '../render/serviceNames.js';
import { answerWithdrawn, callerRender, deployRequester, heldCallerRender, sessionAfterWithdrawal, whileKeyHeld, type CallerRender } from '../render/forRequest.js';
import type { Deploy, Service } from '../render/types.js';
import { presentService, ServiceView, type PresentedService } from '../presenters/service.js';
import { isGone, loadServiceOverview, loadServicesNamed, workspaceStillSeen } from '../render/serviceOverview.js';
import { answerDeploymentStarted, DeploymentView } from '../presenters/deployment.js';
import { serviceToDeploy, type ServiceToDeploy } from '../deployments/requests.js';
import { endDeploymentsOfDeletedService } from '../deployments/serviceDeleted.js';
import { asciiLowercase, commitShaField, IDEMPOTENCY_ERRORS, IDEMPOTENCY_HEADERS, idempotencyKeyOf, SERVICE_NAME } from '../deployments/input.js';
import type { SettingsAction } from './serviceSettings/scope.js';
import { documented, view } from '../openapi/describe.js';
import { serviceMessage } from '../events/serviceEvents.js';
import { RENDER_REFUSALS } from '../middleware/errorHandler.js';

/** Render service ids (web services and friends, cron jobs): anything else cannot be one of theirs. */
export const SERVICE_ID = /^(srv|crn)-[0-9a-z]{20}$/;
const DEPLOY_ID = /^dep-[0-9a-z]{20}$/;

const NameCheckQuery = z.object({
  name: z.string().trim().overwrite(asciiLowercase).regex(SERVICE_NAME, 'name: 1–63 lowercase letters, digits and hyphens, not starting or ending with a hyphen'),
  owner_id: z.string().trim().regex(/^(tea|usr|own)-[0-9a-z]{20}$/, 'owner_id must be a Render workspace id (tea-…)').optional(),
}).strict();

const ServiceLookupQuery = z.object({
  name: z.string().trim().overwrite(asciiLowercase).regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'name: 1–63 lowercase letters, digits and hyphens, not starting or ending with a hyphen')
    .describe('The service name, as a deploy names it (project_name): compared lowercased and exactly'),
}).strict();

export const RollbackBody = z.object({
  deploy_id: z.string().trim().regex(DEPLOY_ID, 'deploy_id must be a Render deploy id (dep-…)'),
  _csrf: z.string().optional(),
}).strict();

export const RedeployBody = z.object({
  /** Deploy exactly this commit of the service's branch (CI: the pushed one), not the branch's head. */
  commit_sha: commitShaField().optional().describe('Optional: a full 40-hex commit SHA in the history of the service\'s branch, deployed instead of the branch\'s head (Render\'s commitId). Not for cron jobs.'),
  _csrf: z.string().optional(),
}).strict();

const ServiceListView = view('ServiceList', z.object({ services: z.array(ServiceView) }));
const ServiceActionView = view('ServiceActionResult', z.object({ ok: z.literal(true), service: ServiceView }));
const NameCheckView = view('NameCheck', z.object({
  name: z.string(),
  available: z.boolean(),
  /** A free name like the one asked for, when it is taken. */
  suggestion: z.string().nullable(),
  existing: z.object({ id: z.string(), repo: z.string().nullable(), branch: z.string().nullable() }).nullable(),
}));

export type ServiceAction = 'redeploy' | 'rollback' | 'suspend' | 'resume' | 'delete' | SettingsAction;

const SERVICE_NOT_FOUND = errors.notFound('Service').message;

/** A malformed id is a 404 like any id that is not theirs, before a Render call is spent on it. */
export const serviceIdParam = () => pathParam('id', SERVICE_ID, () => errors.notFound('Service'));

const scopeOf = (caller: CallerRender) => ({ userId: caller.userId, keyFingerprint: caller.keyFingerprint, ownerIds: caller.ownerIds });

/**
 * Render no longer knows a service our records point at, in a workspace this key sees: it was deleted
 * (on Render's dashboard, say). Its deployments say so from now on, instead of offering a redeploy, and
 * the caller's cached service list is dropped. "Sees" is asked of Render (one GET /owners): the session's
 * workspaces are those of the key's setup, and one the user has left on Render since answers 404 for
 * services that still exist.
 */
export async function forgetDeletedService(deps: AppDeps, caller: RenderKeyState, serviceId: string) {
  const ownerId = (await deps.deployments.servicesOfUser(caller.user.id))[serviceId];
  if (ownerId && caller.render.owners.some((o) => o.id === ownerId)
    && await workspaceStillSeen(heldCallerRender(deps, caller).client, ownerId).catch(() => false)) {
    await deps.deployments.markServiceDeleted(caller.user.id, serviceId);
  }
  // The cached list may still show it (up to its 20 s): the next read asks Render, as after a delete here.
  await deps.upstream.serviceCache.invalidate({ userId: caller.user.id, keyFingerprint: caller.render.keyFingerprint });
}

/** The audit entry of an action on a service (lifecycle or settings). */
/** `deploymentId`: the deployment a redeploy or rollback started, so that the entry leads to it. */
export async function auditServiceAction(deps: AppDeps, ctx: Koa.Context, caller: CallerRender, action: ServiceAction, serviceId: string, deploymentId?: string) {
  await deps.security.recordAudit(ctx, { userId: caller.userId, action: 'lifecycle', outcome: 'success', detail: { lifecycleAction: action, serviceId, ...(deploymentId ? { deploymentId } : {}) } });
}

/**
 * After a change to a service (lifecycle or settings): the cached service list is stale, the audit trail
 * records it, and the caller's other tabs hear of it on their own channel (ids and the action only) to
 * read it again. Published after the invalidation, so what they read is the change.
 */
export async function serviceChanged(deps: AppDeps, ctx: Koa.Context, caller: CallerRender, action: ServiceAction, serviceId: string, deploymentId?: string) {
  await deps.upstream.serviceCache.invalidate(scopeOf(caller));
  await auditServiceAction(deps, ctx, caller, action, serviceId, deploymentId);
  // The change is made: a lost publish leaves the other tabs as stale as before, not the answer failed.
  await deps.redis.publish(deps.deployments.keys.channel(caller.userId), serviceMessage(serviceId, action)).catch((err: unknown) => {
    ctx.state.log?.warn({ err: { message: (err as Error).message } }, 'services: could not publish the change to the live channel');
  });
}

/**
 * After a change Render made: a failed read of the result (Render failing, or rate-limited, just then)
 * answers with what the change is known to have left, logged, instead of failing a request whose change
 * was made (and audited). A 404 still fails: the service was deleted meanwhile.
 */
export const readBackFailed = <T>(ctx: Koa.Context, action: ServiceAction, known: T) => (err: unknown): T => {
  if (err instanceof RenderApiError && err.kind === 'not_found') throw err;
  ctx.state.log?.warn({ err: { message: (err as Error).message }, action }, 'services: the change was made; reading it back failed');
  return known;
};

/**
 * The caller's Render services and their lifecycle, always through the caller's own key: Render
 * itself answers 404 for a service that key cannot see (mapped to our 404), and we also hide
 * services outside the workspaces this session was set up with.
 */
export function serviceRoutes(router: Router, deps: AppDeps) {
  const cache = deps.upstream.serviceCache;
  // A 404 from here on (Render's for an id this key cannot see, or ours for another workspace) is reported.
  // Render's is the service's: "Service not found.", as ours and the settings routes' (settingsScope) say,
  // so another tenant's id, a deleted one and one outside the session's workspaces answer alike.
  // Ours is the service's alone: a rollback's "Deploy not found." (a deploy the caller's own service does not
  // have) says nothing about anyone's ids, and a user retrying one is no prober.
  const reportNotFound: RouterMiddleware<DefaultState & RenderKeyState> = async (ctx, next) => {
    try { await next(); } catch (err) {
      // The key withdrawn in another tab while a call of this route was at Render (heldCallerRender).
      if (err instanceof RenderKeyWithdrawn) await answerWithdrawn(deps, { sessionRef: deps.sessions.refOf(ctx.state.sessionId), userId: ctx.state.user.id });
      const renderNotFound = err instanceof RenderApiError && err.kind === 'not_found';
      if (renderNotFound || (err instanceof AppError && err.status === 404 && err.message === SERVICE_NOT_FOUND)) await deps.security.notFound(ctx, 'service');
      if (!renderNotFound) throw err;
      await forgetDeletedService(deps, ctx.state, String(ctx.params.id));
      throw errors.notFound('Service');
    }
  };
  const lifecycle = [requireUser(), requireCsrf(), serviceIdParam(), requireRenderKey(), deps.rateLimits.guard('lifecycle'), reportNotFound] as const;

  /** The service, if the caller's key sees it in one of the session's workspaces; else 404. */
  async function loadOwn(caller: CallerRender, serviceId: string): Promise<Service> {
    const svc = await caller.client.getService(serviceId);
    if (!caller.ownerIds.includes(svc.ownerId)) throw errors.notFound('Service');
    return svc;
  }

  /**
   * A redeploy's or rollback's deployment, asked for with the caller's key. Its record stored after that
   * key left the session (cleared, replaced, signed out while the service was read at Render) is ended
   * at once and never runs (requests.ts start): answered as a request sent now would be.
   */
  async function requestServiceDeploy(caller: CallerRender, kind: 'redeploy' | 'rollback', service: ServiceToDeploy, rollbackToDeployId: string | undefined, opts: { idempotencyKey?: string; commitSha?: string }) {
    return deps.deployRequests.requestServiceDeploy(deployRequester(deps, caller), kind, service, rollbackToDeployId, opts).catch(async (err: unknown) => {
      if (err instanceof RenderKeyWithdrawn) await answerWithdrawn(deps, caller, `Your Render key changed while this ${kind === 'rollback' ? 'rollback' : 'redeploy'} was being made: it was stopped, and nothing was sent to Render with the old key. Try again with the key connected now.`);
      throw err;
    });
  }

  /**
   * A redeploy or rollback asked again with the Idempotency-Key of one that made a deployment: answered
   * with that deployment (Idempotent-Replayed), before the service is read on Render. Read first, a
   * service deleted since (its whole point, maybe: CI's retry after a lost answer) made the retry a 404,
   * and the client never learnt of the deployment it started. Keys stay per user and the fingerprint is
   * the claim's (requests.ts replayedServiceDeploy); true when answered.
   */
  async function answeredBefore(ctx: Koa.Context, caller: CallerRender, serviceId: string, kind: 'redeploy' | 'rollback', rollbackToDeployId: string | undefined, opts: { idempotencyKey?: string; commitSha?: string }): Promise<boolean> {
    const earlier = await deps.deployRequests.replayedServiceDeploy(caller.userId, kind, serviceId, rollbackToDeployId, opts);
    if (!earlier) return false;
    answerDeploymentStarted(ctx, earlier, { replayed: true });
    return true;
  }

  /**
   * Before each Render call of a list load: a session that asked for it (`askers`, the starter's key is
   * the load's; every asker's is the same, the list being per key) still holds that key. The load may
   * outlive its starter's consent (others join it; a refresh behind a stale list has nobody waiting), so
   * a key withdrawn by all of them (sign-out, cleared, replaced) stops it: no further call with it. Through
   * the session cache (no round trip on a hit; every session end is fenced); one found without the key
   * is dropped, not asked again.
   */
  async function heldByAnAsker(caller: CallerRender, askers: Set<string>): Promise<void> {
    for (const ref of askers) {
      const sess = await deps.sessions.loadByRef(ref);
      if (sess?.user?.id === caller.userId && sess.render?.keyFingerprint === caller.keyFingerprint) return;
      askers.delete(ref);
    }
    throw new RenderKeyWithdrawn();
  }

  const listOwn = (caller: CallerRender) => caller.ownerIds.length === 0 ? Promise.resolve([]) : cache.get(scopeOf(caller), (askers) =>
    loadServiceOverview({ client: caller.clientWhile(() => heldByAnAsker(caller, askers)), ownerIds: caller.ownerIds, userId: caller.userId, now: () => deps.clock.now() }, deps.deployments, { redis: deps.redis, prefix: deps.config.redisPrefix }), caller.sessionRef);

  /**
   * The caller's list. A load this request waited for that stopped because no session asking for it
   * still held the key answers this request as one sent now would be: its session signed out, 401; its
   * key cleared, render_key_missing; another key connected, that key's list.
   */
  async function listAsNow(state: RenderKeyState): Promise<{ caller: CallerRender; services: PresentedService[] }> {
    for (let tries = 0; ; tries++) {
      const caller = callerRender(deps, state);
      try {
        return { caller, services: await listOwn(caller) };
      } catch (err) {
        if (!(err instanceof RenderKeyWithdrawn)) throw err;
        const now = await sessionAfterWithdrawal(deps, caller);
        // Keys replaced again and again while lists load: a retry later, not a loop here.
        if (tries >= 2) throw errors.renderUnavailable('Your Render key changed while the list was loading. Try again.');
        state = { ...state, session: now, render: now.render };
      }
    }
  }

  router.get('/api/render/services', documented({ summary: 'The caller\'s Render services (in the workspaces of their key), with each one\'s latest deploy', tag: 'services', responses: { 200: ServiceListView } }), requireUser(), requireRenderKey(), async (ctx) => {
    ctx.body = { services: (await listAsNow(ctx.state)).services } satisfies z.infer<typeof ServiceListView>;
  });

  // CI (scripts/ci-deploy.mjs) finds its one service by name. The whole list above reads every service's
  // latest deploy (one Render GET each, from the key's budget): this asks Render for the services of that
  // name alone (one list call) and reads the latest deploy of those only. Not cached, and it never
  // touches the cached list: a filtered answer is no list of all the caller's services.
  router.get('/api/render/services/lookup', documented({
    summary: 'The caller\'s Render services of one name (in the workspaces of their key), with each one\'s latest deploy',
    description: 'For API clients that want one service (CI): Render is asked for the services of that name only, and only their latest deploy is read, '
      + 'so a call costs a Render list call and a deploy read per match, not one per service of the key. The name is compared lowercased and exactly; '
      + 'a name in several workspaces lists one service per workspace. Not cached: the answer is Render\'s at the time of the call.',
    tag: 'services', responses: { 200: ServiceListView },
  }), requireUser(), requireRenderKey(), deps.rateLimits.guard('serviceLookups'), validate({ query: ServiceLookupQuery }), async (ctx) => {
    // Its deploy reads follow the list call: each only while the session still holds the key.
    const caller = callerRender(deps, ctx.state);
    const services = caller.ownerIds.length === 0 ? [] : await whileKeyHeld(deps, caller, (client) =>
      loadServicesNamed({ client, ownerIds: caller.ownerIds, userId: caller.userId }, ctx.input.query.name, { redis: deps.redis, prefix: deps.config.redisPrefix }),
    'Your Render key changed while the services were being looked up. Try again.');
    ctx.body = { services } satisfies z.infer<typeof ServiceListView>;
  });

  // The deploy form asks as the user types: is this name free in the workspace (names are unique per
  // workspace on Render), and if not, which one is. Served from the cached list: no Render call per keystroke.
  router.get('/api/render/services/name-check', documented({ summary: 'Is this service name free in the workspace (and if not, a free one)', tag: 'services', responses: { 200: NameCheckView } }), requireUser(), requireRenderKey(), validate({ query: NameCheckQuery }), async (ctx) => {
    const q = ctx.input.query;
    const caller = callerRender(deps, ctx.state);
    const ownerId = q.owner_id ?? caller.ownerIds[0];
    if (!ownerId || !caller.ownerIds.includes(ownerId)) throw errors.validation('owner_id is not one of the workspaces your Render key can use');
    const listed = await listAsNow(ctx.state);
    // Another key connected while the list loaded: the workspace is checked against that key's.
    if (!listed.caller.ownerIds.includes(ownerId)) throw errors.validation('owner_id is not one of the workspaces your Render key can use');
    const inWorkspace = listed.services.filter((s) => s.ownerId === ownerId);
    const taken = inWorkspace.find((s) => s.name === q.name);
    ctx.body = {
      name: q.name,
      available: !taken,
      suggestion: taken ? suggestFreeName(q.name, new Set(inWorkspace.map((s) => s.name))) : null,
      existing: taken ? { id: taken.id, repo: taken.repo, branch: taken.branch } : null,
    } satisfies z.infer<typeof NameCheckView>;
  });

  // Redeploy and rollback take an Idempotency-Key as deploy does: a client whose answer was lost (a
  // dropped connection, a proxy's timeout) asks again with it and gets the deployment the first ask made,
  // not a second deploy on Render.
  router.post('/api/render/services/:id/redeploy', documented({
    summary: 'Deploy the service again from its branch: its head, or the commit named by commit_sha', tag: 'services',
    description: 'With commit_sha, the worker first checks with your GitHub token that the commit is in the history of the service\'s branch; '
      + 'if not, the deployment fails with commit_not_found or commit_not_on_branch before anything is asked of Render. '
      + 'A commit that is already live, or older than the live one (behind it on the branch), or being deployed on the service, or older than one that is, '
      + 'is not deployed: the deployment ends canceled with commit_already_live, newer_commit_live, commit_already_deploying (no commit status: the deploy in flight posts it) '
      + 'or newer_commit_deploying, naming the newer commit, and nothingToDeploy true (older code on purpose is a rollback). '
      + 'The Idempotency-Key covers the commit: the same key with another commit is idempotency_key_reused. '
      + 'A suspended service is refused with 409 service_suspended, nothing made: resume it first.',
    responses: { 202: DeploymentView }, headers: IDEMPOTENCY_HEADERS, errors: ['service_suspended', ...IDEMPOTENCY_ERRORS],
  }), ...lifecycle, validate({ body: RedeployBody }), async (ctx) => {
    const { commit_sha: commitSha } = ctx.input.body;
    const idempotencyKey = idempotencyKeyOf(ctx.get('idempotency-key'));
    const caller = heldCallerRender(deps, ctx.state);
    if (await answeredBefore(ctx, caller, String(ctx.params.id), 'redeploy', undefined, { idempotencyKey, ...(commitSha ? { commitSha } : {}) })) return;
    const svc = await loadOwn(caller, String(ctx.params.id));
    // Render's Trigger deploy takes a commitId only for a service built from a repository, and none for cron
    // jobs; the commit is checked on GitHub first, so the repository must be a GitHub one (not GitLab's).
    if (commitSha && (svc.type === 'cron_job' || !githubRepoOf(svc.repo) || !svc.branch)) {
      throw errors.validation(svc.type === 'cron_job'
        ? 'commit_sha cannot be used with a cron job: Render deploys only its branch\'s head. Redeploy without commit_sha.'
        : 'commit_sha needs a service built from a GitHub repository branch; this one is not. Redeploy without commit_sha.');
    }
    const { record, replayed } = await requestServiceDeploy(caller, 'redeploy', serviceToDeploy(svc), undefined, { idempotencyKey, ...(commitSha ? { commitSha } : {}) });
    if (!replayed) await serviceChanged(deps, ctx, caller, 'redeploy', svc.id, record.id);
    answerDeploymentStarted(ctx, record, { replayed });
  });

  router.post('/api/render/services/:id/rollback', documented({
    summary: 'Roll the service back to one of its deploys that went live', tag: 'services',
    description: 'A deploy that never went live, or the one live now, is deploy_not_rollbackable; a suspended service is refused with 409 service_suspended, nothing made: resume it first.',
    responses: { 202: DeploymentView }, headers: IDEMPOTENCY_HEADERS, errors: ['deploy_not_rollbackable', 'service_suspended', ...IDEMPOTENCY_ERRORS],
  }), ...lifecycle, validate({ body: RollbackBody }), async (ctx) => {
    const { deploy_id: deployId } = ctx.input.body;
    const idempotencyKey = idempotencyKeyOf(ctx.get('idempotency-key'));
    const caller = heldCallerRender(deps, ctx.state);
    if (await answeredBefore(ctx, caller, String(ctx.params.id), 'rollback', deployId, { idempotencyKey })) return;
    const svc = await loadOwn(caller, String(ctx.params.id));
    // Render answers 404 unless the deploy belongs to this service: a 404 about the deploy, not a deleted
    // service (as a RenderApiError, reportNotFound would mark the service's deployments deleted). Unless
    // the service was deleted since loadOwn found it (Render's dashboard, another tab): Render is asked
    // once whether it is still there, and if not, the 404 is the service's, with reportNotFound's records.
    const target = await caller.client.getDeploy(svc.id, deployId).catch(async (err: unknown) => {
      if (!(err instanceof RenderApiError && err.kind === 'not_found')) throw err;
      throw await isGone(caller.client, svc.id) ? err : errors.notFound('Deploy');
    });
    if (target.status !== 'live' && target.status !== 'deactivated') {
      throw errors.conflict('deploy_not_rollbackable', 'Only a deploy that went live can be rolled back to.');
    }
    // `live` is the service's current deploy alone (those before it are `deactivated`): Render would build it
    // again and restart the service for nothing. The history marks it `rollbackable: false` (deploys.ts).
    if (target.status === 'live') {
      throw errors.conflict('deploy_not_rollbackable', 'This deploy is the one live now: there is nothing to roll back to. Pick an earlier deploy that went live, or redeploy the service to build it again.');
    }
    const { record, replayed } = await requestServiceDeploy(caller, 'rollback', serviceToDeploy(svc), deployId, { idempotencyKey });
    if (!replayed) await serviceChanged(deps, ctx, caller, 'rollback', svc.id, record.id);
    answerDeploymentStarted(ctx, record, { replayed });
  });

  for (const action of ['suspend', 'resume'] as const) {
    router.post(`/api/render/services/:id/${action}`, documented({ summary: action === 'suspend' ? 'Suspend the service' : 'Resume a suspended service', tag: 'services', responses: { 200: ServiceActionView }, errors: RENDER_REFUSALS }), ...lifecycle, takesNoBody(), async (ctx) => {
      const caller = heldCallerRender(deps, ctx.state);
      const svc = await loadOwn(caller, String(ctx.params.id));
      if (action === 'suspend') await caller.client.suspendService(svc.id);
      else await caller.client.resumeService(svc.id);
      await serviceChanged(deps, ctx, caller, action, svc.id);
      // Done on Render: a failed read-back must not answer "try again" for it. The service as loaded, in
      // the state Render accepted, with its latest deploy unknown (state 'unknown' unless suspended).
      const [after, latest] = await Promise.all([
        caller.client.getService(svc.id).catch(readBackFailed<Service>(ctx, action, { ...svc, suspended: action === 'suspend' ? 'suspended' : 'not_suspended' })),
        caller.client.listDeploys(svc.id, { limit: 1 }).then((l) => l[0] ?? null, readBackFailed<Deploy | null | undefined>(ctx, action, undefined)),
      ]);
      ctx.body = { ok: true, service: presentService(after, latest) } satisfies z.infer<typeof ServiceActionView>;
    });
  }

  router.delete('/api/render/services/:id', documented({ summary: 'Delete the service on Render (its deployments say so from then on)', tag: 'services', responses: { 204: null }, errors: RENDER_REFUSALS }), ...lifecycle, takesNoBody(), async (ctx) => {
    const caller = heldCallerRender(deps, ctx.state);
    const svc = await loadOwn(caller, String(ctx.params.id));
    await caller.client.deleteService(svc.id);
    // Its deployments now say "service deleted" (and offer no redeploy).
    await deps.deployments.markServiceDeleted(caller.userId, svc.id);
    // Those still on their way end now, as the worker would end them at its next look (up to 15 s away),
    // rather than say "Building" meanwhile and post their commit's failure late, perhaps after a new
    // service of the same name went live with that commit. A worker run mid-step on one stops at its next
    // write (serviceDeleted.ts). The delete is done on Render: a failure here is logged, not answered, and
    // the worker's look ends them as before (workers/tasks/serviceGone.ts).
    await endDeploymentsOfDeletedService(deps, caller.userId, svc.id).catch((err: unknown) => {
      ctx.state.log?.warn({ err: { message: (err as Error).message } }, 'services: could not end the deleted service\'s deployments');
    });
    await serviceChanged(deps, ctx, caller, 'delete', svc.id);
    ctx.status = 204;
  });
}
