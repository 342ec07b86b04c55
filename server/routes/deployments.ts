import type Router from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { AppError, errors } from '../errors.js';
import { keyStillHeld } from '../deployments/logTailKey.js';
import { requireCsrf } from '../middleware/security.js';
import { requireRenderKey, requireUser, withRenderKey, type RenderKeyState, type SignedInState } from '../middleware/context.js';
import { takesNoBody, validate } from '../middleware/validate.js';
import { answerWithdrawn, callerRender, deployRequester, heldCallerRender, whileKeyHeld, type CallerRender } from '../render/forRequest.js';
import { RenderApiError, RenderKeyWithdrawn } from '../render/errors.js';
import type { RenderClient } from '../render/client.js';
import { answerDeploymentStarted, DeploymentPageView, DeploymentView, presentDeployment } from '../presenters/deployment.js';
import { LogPageView } from '../presenters/logs.js';
import { documented } from '../openapi/describe.js';
import { DeployBody, envVarList, IDEMPOTENCY_ERRORS, IDEMPOTENCY_HEADERS, idempotencyKeyOf, PageQuery } from '../deployments/input.js';
import type { DeploymentRecord } from '../deployments/types.js';
import { LogPageQuery } from '../deployments/logs.js';
import { deploymentLogFile, deploymentLogPage, LOG_BUDGET_WAIT_MS } from '../deployments/logReads.js';
import { cancelDeployment } from '../deployments/cancel.js';
import { noteTelemetryTarget } from '../telemetry/middleware.js';
import { retiredDeps } from '../deployments/retiredSecrets.js';
import { createPageSecrets } from '../deployments/pageSecrets.js';
import { formatUs } from '../deployments/logWindows.js';

/** Deploy requests and the caller's deployment records. Someone else's id is a 404, like a missing one. */
export function deploymentRoutes(router: Router, deps: AppDeps) {
  const { deployments, deployRequests } = deps;
  // A log read's "now", the end of a live or running deploy's window: the last microsecond of the current
  // millisecond. Render stamps lines to the microsecond; cut at the millisecond, the lines stamped earlier in
  // it were left out of a read that came after them (a download made right after the lines lacked its last).
  const nowIso = () => formatUs(deps.clock.now() * 1000 + 999);
  const pageSecrets = createPageSecrets({ clock: deps.clock, retired: retiredDeps(deps) });
  /** The values a log read redacts with: read from Render with the caller's key, or (`fresh` false) kept from its last read. */
  const secretsFor = (state: RenderKeyState, fresh: boolean) => pageSecrets.source({ userId: state.user.id, keyFingerprint: state.render.keyFingerprint }, fresh);

  const loadOwn = async (ctx: Koa.ParameterizedContext<Koa.DefaultState & SignedInState, { params: Record<string, string> }>): Promise<DeploymentRecord> => {
    const rec = await deployments.getForUser(String(ctx.params.id), ctx.state.user.id);
    // The UI's marker counts on its reads only: it never sends it with a write (a cancel of someone else's id).
    if (!rec) { await deps.security.notFound(ctx, 'deployment', { openedFromAddress: ctx.method === 'GET' && ctx.get('x-opened-from') === 'address' }); throw errors.notFound('Deployment'); }
    return rec;
  };

  router.post('/api/render/deploy', documented({
    summary: 'Deploy a repository to a new Render service (answers at once; follow the deployment)', tag: 'deployments',
    responses: { 202: DeploymentView },
    headers: IDEMPOTENCY_HEADERS, errors: [...IDEMPOTENCY_ERRORS],
  }), requireUser(), requireCsrf(), deps.rateLimits.guard('deploys'), requireRenderKey(), validate({ body: DeployBody }), async (ctx) => {
    const body = ctx.input.body;
    noteTelemetryTarget(ctx, { repo: body.github_repo });
    const { render } = ctx.state;
    const idem = idempotencyKeyOf(ctx.get('idempotency-key'));
    const ownerId = body.owner_id ?? render.owners[0]?.id;
    if (!ownerId || !render.owners.some((o) => o.id === ownerId)) throw errors.validation('owner_id is not one of the workspaces your Render key can use');
    const envVars = envVarList(body);
    // The audit heads are read with the record's writes, in their round trip.
    deps.audit.prefetch(ctx.state.user.id);
    // Its record stored after the key left the session (cleared, replaced or signed out in another tab since
    // this request read it) is ended at once and never runs (requests.ts start): answered as a request sent now.
    const who = deployRequester(deps, { userId: ctx.state.user.id, sessionRef: deps.sessions.refOf(ctx.state.sessionId), keyFingerprint: render.keyFingerprint });
    const { record, replayed } = await deployRequests.requestDeploy(
      who,
      {
        githubRepo: body.github_repo, serviceName: body.project_name, branch: body.branch ?? null, ownerId,
        ...(body.commit_sha ? { commitSha: body.commit_sha } : {}),
        region: body.region, plan: body.plan, envVarKeys: envVars.map((v) => v.key),
        buildCommand: body.build_command ?? null, startCommand: body.start_command ?? null,
        ...(body.service_type ? { serviceType: body.service_type, schedule: body.schedule ?? null } : {}),
      },
      envVars,
      idem,
    ).catch(async (err: unknown) => {
      if (err instanceof RenderKeyWithdrawn) await answerWithdrawn(deps, who, 'Your Render key changed while this deploy was being made: it was stopped, and nothing was sent to Render with the old key. Try again with the key connected now.');
      throw err;
    });
    if (!replayed) await deps.security.recordAudit(ctx, { userId: record.userId, action: 'deploy_requested', outcome: 'success', detail: { deploymentId: record.id, serviceId: record.serviceId ?? undefined } });
    answerDeploymentStarted(ctx, record, { replayed });
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
  }), requireUser(), requireCsrf(), deps.rateLimits.guard('lifecycle'), takesNoBody(), async (ctx) => {
    const rec = await loadOwn(ctx);
    // Render is called only for a deploy it has, and each call only while the session still holds the key:
    // a key withdrawn in another tab while the deploy's read was at Render cancels nothing with it.
    let caller: CallerRender | null = null;
    const canceled = await cancelDeployment(deps, rec, () => (caller = heldCallerRender(deps, withRenderKey(ctx.state))).client, () => caller?.keyFingerprint).catch(async (err: unknown) => {
      // Withdrawn before a call, or while the last one was at Render: that sign-out, clear or replace ended the
      // deployment (revocation.ts), which is why the cancel found it ended. Either way answered as a request sent now.
      const withdrawn = err instanceof RenderKeyWithdrawn || (caller !== null && err instanceof AppError && err.code === 'deployment_finished'
        && !(await keyStillHeld(deps, [caller.sessionRef], caller.userId, caller.keyFingerprint)));
      if (withdrawn && caller) await answerWithdrawn(deps, caller, 'Your Render key changed while this cancel was at Render: nothing more was sent with the old key. Check the deployment, then try again.');
      throw err;
    });
    await deps.security.recordAudit(ctx, { userId: rec.userId, action: 'lifecycle', outcome: 'success', detail: { lifecycleAction: 'cancel', deploymentId: rec.id, serviceId: rec.serviceId ?? undefined } });
    ctx.body = presentDeployment(canceled);
  });

  /**
   * A log read, each of its Render calls made only while this request's session still holds its key: a
   * read waits for the key's log budget at each page (a download of 500 pages, minutes), and a key
   * withdrawn meanwhile (sign-out, cleared, replaced) is not used again (SECURITY.md). The body is sent
   * whole at the end, so a read stopped that way sends no log (whileKeyHeld says how it is answered).
   */
  async function readWhileKeyHeld<T>(state: RenderKeyState, rec: DeploymentRecord, budgetWaitMs: number, read: (client: RenderClient) => Promise<T>): Promise<T> {
    return whileKeyHeld(deps, callerRender(deps, state, { budgetWaitMs }), read, 'Your Render key changed while the log was being read. Try again.').catch((err: unknown) => {
      // A deploy in a workspace this key does not see: Render's 404 says nothing of a deletion, and an API
      // client told only "Resource not found." had no way to know what to do (the UI works it out itself).
      if (err instanceof RenderApiError && (err.kind === 'not_found' || err.kind === 'forbidden') && !state.render.owners.some((o) => o.id === rec.request.ownerId)) {
        const notSeen = errors.notSeenByThisKey('logs');
        throw err.kind === 'not_found' ? notSeen : errors.renderForbidden(notSeen.message);
      }
      throw err;
    });
  }

  // Logs of this deploy only (server/deployments/logReads.ts), a page at a time: newest first, older
  // ones through nextCursor (those reuse the values the newest was redacted with: deployments/pageSecrets.ts).
  router.get('/api/render/deployments/:id/logs', documented({ summary: 'A page of this deploy\'s log lines (redacted), newest page first', tag: 'deployments', responses: { 200: LogPageView }, errors: ['log_redaction_incomplete'] }), requireUser(), requireRenderKey(), validate({ query: LogPageQuery }), async (ctx) => {
    const rec = await loadOwn(ctx);
    ctx.body = (await readWhileKeyHeld(ctx.state, rec, LOG_BUDGET_WAIT_MS.page, (client) => deploymentLogPage(client, rec, ctx.input.query, nowIso(), secretsFor(ctx.state, !ctx.input.query.cursor)))) satisfies LogPageView;
  });

  // The whole log as text, redacted like the pages.
  router.get('/api/render/deployments/:id/logs.txt', documented({
    summary: 'This deploy\'s whole log as a text download (redacted)', tag: 'deployments',
    responses: { 200: { contentType: 'text/plain', description: 'Every line of every phase, oldest first.' } }, errors: ['log_redaction_incomplete'],
  }), requireUser(), requireRenderKey(), async (ctx) => {
    const rec = await loadOwn(ctx);
    const { filename, text } = await readWhileKeyHeld(ctx.state, rec, LOG_BUDGET_WAIT_MS.download, (client) => deploymentLogFile(client, rec, nowIso(), secretsFor(ctx.state, true)));
    ctx.type = 'text/plain; charset=utf-8';
    ctx.set('Content-Disposition', `attachment; filename="${filename}"`);
    ctx.body = text;
  });
}
