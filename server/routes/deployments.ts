import type Router from '@koa/router';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { errors } from '../errors.js';
import { getSession } from '../sessions/middleware.js';
import { requireCsrf, requireUser } from '../middleware/security.js';
import { validateBody, validateQuery } from '../middleware/validate.js';
import { callerRender, requireRenderKey } from '../render/forRequest.js';
import { presentDeployment } from '../presenters/deployment.js';
import { DeployBody, envVarList, IDEMPOTENCY_KEY, PageQuery } from '../deployments/input.js';
import { isTerminal, type DeploymentRecord } from '../deployments/types.js';
import { redactSecrets } from '../deployments/redact.js';
import type Koa from 'koa';

export interface DeploymentRouteHooks {
  deployGuards?: Koa.Middleware[];
  onDeployRequested?(ctx: Koa.Context, rec: DeploymentRecord): Promise<void> | void;
  onNotFound?(ctx: Koa.Context, what: string): Promise<void> | void;
  /** After a deployment was canceled by its owner (audit trail). */
  onCanceled?(ctx: Koa.Context, rec: DeploymentRecord): Promise<void> | void;
}

/** Deploy requests and the caller's deployment records. Someone else's id is a 404, like a missing one. */
export function deploymentRoutes(router: Router, deps: AppDeps, hooks: DeploymentRouteHooks = {}) {
  const { deployments, deploymentService } = deps;

  const loadOwn = async (ctx: Koa.Context): Promise<DeploymentRecord> => {
    const rec = await deployments.getForUser(String(ctx.params.id), getSession(ctx).user!.id);
    if (!rec) { await hooks.onNotFound?.(ctx, 'deployment'); throw errors.notFound('Deployment'); }
    return rec;
  };

  router.post('/api/render/deploy', requireUser(), requireCsrf(), deps.rateLimits.guard('deploys'), ...(hooks.deployGuards ?? []), requireRenderKey(), validateBody(DeployBody), async (ctx) => {
    const body = ctx.state.body as DeployBody;
    const sess = getSession(ctx);
    const render = sess.render!;
    const idem = ctx.get('idempotency-key');
    if (idem && !IDEMPOTENCY_KEY.test(idem)) throw errors.validation('Idempotency-Key: 1–255 characters of letters, digits and ._:-');
    const ownerId = body.owner_id ?? render.owners[0]?.id;
    if (!ownerId || !render.owners.some((o) => o.id === ownerId)) throw errors.validation('owner_id is not one of the workspaces your Render key can use');
    const envVars = envVarList(body);
    const { record, replayed } = await deploymentService.requestDeploy(
      { userId: sess.user!.id, sessionRef: deps.sessions.refOf(ctx.session!.externalKey as string), keyFingerprint: render.keyFingerprint },
      {
        githubRepo: body.github_repo, serviceName: body.project_name, branch: body.branch ?? null, ownerId,
        region: body.region, plan: body.plan, envVarKeys: envVars.map((v) => v.key),
        buildCommand: body.build_command ?? null, startCommand: body.start_command ?? null,
      },
      envVars,
      idem || undefined,
    );
    if (!replayed) await hooks.onDeployRequested?.(ctx, record);
    ctx.status = 202;
    ctx.set('Location', `/api/render/deployments/${record.id}`);
    if (replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.body = presentDeployment(record);
  });

  router.get('/api/render/my-deployments', requireUser(), validateQuery(PageQuery), async (ctx) => {
    const q = ctx.state.query as z.infer<typeof PageQuery>;
    const page = await deployments.listForUser(getSession(ctx).user!.id, { limit: q.limit, cursor: q.cursor ?? null });
    ctx.body = { deployments: page.items.map(presentDeployment), nextCursor: page.nextCursor };
  });

  router.get('/api/render/deployments/:id', requireUser(), async (ctx) => {
    ctx.body = presentDeployment(await loadOwn(ctx));
  });

  router.post('/api/render/deployments/:id/cancel', requireUser(), requireCsrf(), deps.rateLimits.guard('lifecycle'), async (ctx) => {
    const rec = await loadOwn(ctx);
    if (isTerminal(rec.status)) throw errors.conflict('deployment_finished', `This deployment already ended (${rec.status}).`);
    if (rec.serviceId && rec.deployId) {
      const { client } = callerRender(deps, ctx);
      const deploy = await client.getDeploy(rec.serviceId, rec.deployId);
      if (deploy.status && ['created', 'build_in_progress', 'update_in_progress', 'pre_deploy_in_progress', 'queued'].includes(deploy.status)) {
        await client.cancelDeploy(rec.serviceId, rec.deployId);
      }
    }
    await deploymentService.markCanceled(rec.id);
    await deps.queue.remove(rec.id).catch(() => 0);
    await hooks.onCanceled?.(ctx, rec);
    ctx.body = presentDeployment((await deployments.get(rec.id))!);
  });

  router.get('/api/render/deployments/:id/logs', requireUser(), requireRenderKey(), async (ctx) => {
    const rec = await loadOwn(ctx);
    if (!rec.serviceId) { ctx.body = { logs: [], hasMore: false }; return; }
    const { client } = callerRender(deps, ctx);
    const since = new Date(Date.parse(rec.createdAt) - 60_000).toISOString();
    const until = rec.finishedAt ? new Date(Date.parse(rec.finishedAt) + 5 * 60_000).toISOString() : new Date(deps.clock.now()).toISOString();
    const [page, envVars] = await Promise.all([
      client.listLogs({ ownerId: rec.request.ownerId, resource: [rec.serviceId], startTime: since, endTime: until, direction: 'forward', limit: 100 }),
      client.listEnvVars(rec.serviceId).catch(() => []),
    ]);
    const secrets = envVars.map((v) => v.value).filter((v): v is string => typeof v === 'string');
    ctx.body = {
      logs: page.logs.map((l) => ({
        id: l.id, timestamp: l.timestamp, message: redactSecrets(l.message, secrets),
        type: l.labels.find((x) => x.name === 'type')?.value ?? null,
        level: l.labels.find((x) => x.name === 'level')?.value ?? null,
      })),
      hasMore: page.hasMore,
    };
  });
}
