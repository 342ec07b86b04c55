import type Router from '@koa/router';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { errors } from '../errors.js';
import { requireCsrf } from '../middleware/security.js';
import { requireRenderKey, requireUser, withRenderKey, type SignedInState } from '../middleware/context.js';
import { validate } from '../middleware/validate.js';
import { callerRender } from '../render/forRequest.js';
import { RenderApiError } from '../render/errors.js';
import { DeploymentPageView, DeploymentView, presentDeployment } from '../presenters/deployment.js';
import { LogPageView } from '../presenters/logs.js';
import { documented } from '../openapi/describe.js';
import { DeployBody, envVarList, IDEMPOTENCY_KEY, PageQuery } from '../deployments/input.js';
import { isTerminal, type DeploymentRecord } from '../deployments/types.js';
import { removeDeployJob } from '../queues/deployQueue.js';
import { LogPageQuery, loadLogSource, logText, readLogPage } from '../deployments/logs.js';
import type Koa from 'koa';
import { discardKeySessionOf } from '../bearer/keySessions.js';
import { noteTelemetryTarget } from '../telemetry/middleware.js';

const CANCELABLE = ['created', 'build_in_progress', 'update_in_progress', 'pre_deploy_in_progress', 'queued'];
const LOG_PAGE_BUDGET_WAIT_MS = 8_000;
const LOG_DOWNLOAD_BUDGET_WAIT_MS = 65_000;

/** Deploy requests and the caller's deployment records. Someone else's id is a 404, like a missing one. */
export function deploymentRoutes(router: Router, deps: AppDeps) {
  const { deployments, deploymentService } = deps;
  const nowIso = () => new Date(deps.clock.now()).toISOString();

  const loadOwn = async (ctx: Koa.ParameterizedContext<Koa.DefaultState & SignedInState, { params: Record<string, string> }>): Promise<DeploymentRecord> => {
    const rec = await deployments.getForUser(String(ctx.params.id), ctx.state.user.id);
    if (!rec) { await deps.security.notFound(ctx, 'deployment'); throw errors.notFound('Deployment'); }
    return rec;
  };

  router.post('/api/render/deploy', documented({
    summary: 'Deploy a repository to a new Render service (answers at once; follow the deployment)', tag: 'deployments',
    responses: { 202: DeploymentView },
    headers: { 'Idempotency-Key': 'Optional, 1–255 of letters, digits and ._:-; a retry with the same key and body answers with the same deployment (Idempotent-Replayed: true).' },
    errors: ['idempotency_key_reused', 'idempotency_in_progress'],
  }), requireUser(), requireCsrf(), deps.rateLimits.guard('deploys'), requireRenderKey(), validate({ body: DeployBody }), async (ctx) => {
    const body = ctx.input.body;
    noteTelemetryTarget(ctx, { repo: body.github_repo });
    const { render } = ctx.state;
    const idem = ctx.get('idempotency-key');
    if (idem && !IDEMPOTENCY_KEY.test(idem)) throw errors.validation('Idempotency-Key: 1–255 characters of letters, digits and ._:-');
    const ownerId = body.owner_id ?? render.owners[0]?.id;
    if (!ownerId || !render.owners.some((o) => o.id === ownerId)) throw errors.validation('owner_id is not one of the workspaces your Render key can use');
    const envVars = envVarList(body);
    const { record, replayed } = await deploymentService.requestDeploy(
      { userId: ctx.state.user.id, sessionRef: deps.sessions.refOf(ctx.state.sessionId), keyFingerprint: render.keyFingerprint },
      {
        githubRepo: body.github_repo, serviceName: body.project_name, branch: body.branch ?? null, ownerId,
        region: body.region, plan: body.plan, envVarKeys: envVars.map((v) => v.key),
        buildCommand: body.build_command ?? null, startCommand: body.start_command ?? null,
        ...(body.service_type ? { serviceType: body.service_type, schedule: body.schedule ?? null } : {}),
      },
      envVars,
      idem || undefined,
    );
    if (!replayed) await deps.security.recordAudit(ctx, { userId: record.userId, action: 'deploy_requested', outcome: 'success', detail: { deploymentId: record.id, serviceId: record.serviceId ?? undefined } });
    ctx.status = 202;
    ctx.set('Location', `/api/render/deployments/${record.id}`);
    if (replayed) ctx.set('Idempotent-Replayed', 'true');
    ctx.body = presentDeployment(record);
  });

  router.get('/api/render/my-deployments', documented({ summary: 'The caller\'s deployments, newest first', tag: 'deployments', responses: { 200: DeploymentPageView } }), requireUser(), validate({ query: PageQuery }), async (ctx) => {
    const q = ctx.input.query;
    const page = await deployments.listForUser(ctx.state.user.id, { limit: q.limit, cursor: q.cursor ?? null });
    ctx.body = { deployments: page.items.map(presentDeployment), nextCursor: page.nextCursor } satisfies z.infer<typeof DeploymentPageView>;
  });

  router.get('/api/render/deployments/:id', documented({ summary: 'One of the caller\'s deployments', tag: 'deployments', responses: { 200: DeploymentView } }), requireUser(), async (ctx) => {
    ctx.body = presentDeployment(await loadOwn(ctx));
  });

  router.post('/api/render/deployments/:id/cancel', documented({
    summary: 'Cancel a deployment that has not finished', tag: 'deployments', responses: { 200: DeploymentView },
    errors: ['deployment_finished', 'render_unavailable', 'render_rate_limited'],
  }), requireUser(), requireCsrf(), deps.rateLimits.guard('lifecycle'), async (ctx) => {
    const rec = await loadOwn(ctx);
    if (isTerminal(rec.status)) throw errors.conflict('deployment_finished', `This deployment already ended (${rec.status}).`);
    if (rec.serviceId && rec.deployId) {
      const { client } = callerRender(deps, withRenderKey(ctx.state));
      const deploy = await client.getDeploy(rec.serviceId, rec.deployId);
      if (deploy.status && CANCELABLE.includes(deploy.status)) {
        await client.cancelDeploy(rec.serviceId, rec.deployId).catch(async (err: unknown) => {
          // It ended on Render between our look and the cancel (Render answers 400): say so, change nothing.
          if (!(err instanceof RenderApiError) || err.status !== 400) throw err;
          const now = await client.getDeploy(rec.serviceId!, rec.deployId!);
          if (now.status && CANCELABLE.includes(now.status)) throw err;
          throw errors.conflict('deployment_finished', `This deploy already ended on Render (${now.status ?? 'finished'}).`);
        });
      }
    }
    await deploymentService.markCanceled(rec.id);
    await removeDeployJob(deps.queue, rec.id);
    await discardKeySessionOf(deps, rec.id); // a per-request key (X-Render-Api-Key) ends with its deploy
    await deps.security.recordAudit(ctx, { userId: rec.userId, action: 'lifecycle', outcome: 'success', detail: { lifecycleAction: 'cancel', deploymentId: rec.id, serviceId: rec.serviceId ?? undefined } });
    ctx.body = presentDeployment((await deployments.get(rec.id))!);
  });

  // Logs of this deploy only (server/deployments/logWindows.ts), a page at a time: newest first, older
  // ones through nextCursor. Waiting for the shared budget a little longer than other reads: the
  // panel would rather load slowly than show an error.
  router.get('/api/render/deployments/:id/logs', documented({ summary: 'A page of this deploy\'s log lines (redacted), newest page first', tag: 'deployments', responses: { 200: LogPageView } }), requireUser(), requireRenderKey(), validate({ query: LogPageQuery }), async (ctx) => {
    const rec = await loadOwn(ctx);
    const src = await loadLogSource(callerRender(deps, ctx.state, { budgetWaitMs: LOG_PAGE_BUDGET_WAIT_MS }).client, rec);
    ctx.body = (src ? await readLogPage(src, ctx.input.query, nowIso()) : { logs: [], hasMore: false, nextCursor: null, phases: [], deployStatus: null }) satisfies LogPageView;
  });

  // The whole log as text: every page of every phase, redacted like the JSON. Each page may wait for
  // budget (a log of 2,000 lines is 20 Render calls of Render's ~30 a minute).
  router.get('/api/render/deployments/:id/logs.txt', documented({
    summary: 'This deploy\'s whole log as a text download (redacted)', tag: 'deployments',
    responses: { 200: { contentType: 'text/plain', description: 'Every line of every phase, oldest first.' } },
  }), requireUser(), requireRenderKey(), async (ctx) => {
    const rec = await loadOwn(ctx);
    const src = await loadLogSource(callerRender(deps, ctx.state, { budgetWaitMs: LOG_DOWNLOAD_BUDGET_WAIT_MS }).client, rec);
    let text = `# ${rec.request.serviceName} · deployment ${rec.id}${rec.deployId ? ` · Render deploy ${rec.deployId}` : ''}\n`;
    if (src) for await (const chunk of logText(src, nowIso())) text += chunk;
    else text += 'Render has not started this deploy yet.\n';
    ctx.type = 'text/plain; charset=utf-8';
    ctx.set('Content-Disposition', `attachment; filename="deployment-${rec.id}.log.txt"`);
    ctx.body = text;
  });
}
