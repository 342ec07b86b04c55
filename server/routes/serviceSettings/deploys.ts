import type Router from '@koa/router';
import type Koa from 'koa';
import type { SignedInState } from '../../middleware/context.js';
import { z } from 'zod';
import type { AppDeps } from '../../deps.js';
import { validate } from '../../middleware/validate.js';
import { answerDeploymentStarted } from '../../presenters/deployment.js';
import { serviceToDeploy } from '../../deployments/requests.js';
import { IDEMPOTENCY_ERRORS, IDEMPOTENCY_HEADERS, idempotencyKeyOf } from '../../deployments/input.js';
import type { Deploy } from '../../render/types.js';
import { type settingsScope } from './scope.js';
import { documented } from '../../openapi/describe.js';
import { answerWithdrawn, deployRequester } from '../../render/forRequest.js';
import { RenderKeyWithdrawn } from '../../render/errors.js';
import { DeploymentView } from '../../presenters/deployment.js';
import { DeployHistoryView, type DeployHistoryEntryView } from './views.js';
import { queryWholeNumber } from '../../middleware/queryNumber.js';
import { text } from '../../presenters/service.js';

const HistoryQuery = z.object({
  limit: queryWholeNumber({ min: 1, max: 100, default: 20 }),
  cursor: z.string().max(200).regex(/^[A-Za-z0-9_=-]{1,200}$/, 'cursor is the nextCursor of a previous page').optional(),
}).strict();

const ClearCacheBody = z.object({
  clear_cache: z.boolean('clear_cache is true or false'),
  _csrf: z.string().optional(),
}).strict();

/** Statuses Render counts as a deploy that ran: only those can be rolled back to. */
const WENT_LIVE = new Set(['live', 'deactivated']);

function firstLine(text: unknown): string | null {
  if (typeof text !== 'string' || !text) return null;
  const line = text.split('\n', 1)[0]!.trim();
  if (line.length <= 120) return line;
  // Not half of a surrogate pair at the cut (an emoji in a commit message): it would show as U+FFFD.
  const end = /[\uD800-\uDBFF]/.test(line[118]!) ? 118 : 119;
  return `${line.slice(0, end)}…`;
}

/** One row of a service's deploy history: Render's own status, and what the page may offer for it. */
function presentHistoryEntry(d: Deploy, liveId: string | null): DeployHistoryEntryView {
  return {
    // Each field only as the view's type says: a commit id Render sent as a number emptied the page's whole history.
    id: d.id, status: text(d.status), trigger: text(d.trigger),
    commitId: text(d.commit?.id), commitMessage: firstLine(d.commit?.message),
    createdAt: text(d.createdAt), finishedAt: text(d.finishedAt),
    current: d.id === liveId,
    rollbackable: WENT_LIVE.has(d.status ?? '') && d.id !== liveId,
  };
}

/** Per-service deploy history (Render's statuses, deactivated included) and the clear-cache redeploy. */
export function deployRoutes(router: Router, deps: AppDeps, scope: ReturnType<typeof settingsScope>) {
  const path = '/api/render/services/:id/deploys';
  // A malformed Idempotency-Key is refused before the service is read on Render; so is an ask made again
  // with the key of one that made a deployment answered with it, as the lifecycle redeploy's is
  // (services.ts answeredBefore): a service deleted since is no 404 for it.
  // After validate() (the body) and serviceIdParam() (the id).
  const idempotencyKeyHeader: Koa.Middleware<SignedInState> = async (ctx, next) => {
    const idempotencyKey = idempotencyKeyOf(ctx.get('idempotency-key'));
    const { body } = ctx.input as { body: z.infer<typeof ClearCacheBody> };
    const { id } = ctx.params as { id: string };
    const earlier = await deps.deployRequests.replayedServiceDeploy(ctx.state.user.id, 'redeploy', id, undefined, { clearCache: body.clear_cache, idempotencyKey });
    if (earlier) return answerDeploymentStarted(ctx, earlier, { replayed: true });
    await next();
  };

  router.get(path, documented({ summary: 'A service\'s deploy history as Render has it (which one is live, which can be rolled back to)', tag: 'service-settings', responses: { 200: DeployHistoryView } }), ...scope.read, validate({ query: HistoryQuery }), scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    const q = ctx.input.query;
    const [page, live] = await Promise.all([
      caller.client.listDeploysPage(service.id, { limit: q.limit, cursor: q.cursor ?? null }),
      caller.client.listDeploys(service.id, { status: 'live', limit: 1 }),
    ]);
    const liveId = live[0]?.id ?? null;
    ctx.body = { deploys: page.items.map((d) => presentHistoryEntry(d, liveId)), nextCursor: page.nextCursor ?? null, autoDeploy: service.autoDeploy === 'yes' };
  });

  // A redeploy like the lifecycle one (same limit, a deployment record the worker runs, the same
  // Idempotency-Key), optionally without Render's build cache.
  router.post(path, documented({ summary: 'Redeploy, optionally without Render\'s build cache', tag: 'service-settings', description: 'A suspended service is refused with 409 service_suspended, nothing made: resume it first.', responses: { 202: DeploymentView }, headers: IDEMPOTENCY_HEADERS, errors: ['service_suspended', ...IDEMPOTENCY_ERRORS] }), ...scope.write('lifecycle'), validate({ body: ClearCacheBody }, { messages: 'as-written' }), idempotencyKeyHeader, scope.ownService, async (ctx) => {
    const { caller, service } = ctx.state.own;
    const { clear_cache: clearCache } = ctx.input.body;
    const idempotencyKey = idempotencyKeyOf(ctx.get('idempotency-key'));
    // Its record stored after the key left the session (cleared, replaced, signed out while the service was
    // read at Render) is ended at once and never runs (requests.ts start): answered as a request sent now.
    const { record, replayed } = await deps.deployRequests.requestServiceDeploy(deployRequester(deps, caller), 'redeploy', serviceToDeploy(service), undefined, { clearCache, idempotencyKey }).catch(async (err: unknown) => {
      if (err instanceof RenderKeyWithdrawn) await answerWithdrawn(deps, caller, 'Your Render key changed while this redeploy was being made: it was stopped, and nothing was sent to Render with the old key. Try again with the key connected now.');
      throw err;
    });
    // Its entry leads to the deployment, as the lifecycle redeploy's does.
    if (!replayed) await scope.changed(ctx, clearCache ? 'clear_cache_redeploy' : 'redeploy', record.id);
    answerDeploymentStarted(ctx, record, { replayed });
  });
}
