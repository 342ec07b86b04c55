import type Koa from 'koa';
import { z } from 'zod';
import type { DeploymentRecord } from '../deployments/types.js';
import { isTerminal, nothingToDeploy, ORCHESTRATOR_PHASES, RENDER_PROGRESS, TERMINAL_STATUSES } from '../deployments/types.js';
import { view } from '../openapi/describe.js';
import { withoutUserInfo } from '../render/serviceNames.js';

const DeploymentStatus = z.enum([...ORCHESTRATOR_PHASES, ...RENDER_PROGRESS, ...TERMINAL_STATUSES]);

/** What a client sees of a deployment (GET /api/openapi.json documents it under this name). */
export const DeploymentView = view('Deployment', z.object({
  id: z.string(),
  kind: z.enum(['deploy', 'redeploy', 'rollback']),
  status: DeploymentStatus,
  finished: z.boolean(),
  request: z.object({
    githubRepo: z.string(),
    serviceName: z.string(),
    branch: z.string().nullable(),
    ownerId: z.string(),
    region: z.string().nullable(),
    plan: z.string().nullable(),
    envVarKeys: z.array(z.string()),
    buildCommand: z.string().nullable(),
    startCommand: z.string().nullable(),
    serviceType: z.string().nullable(),
    schedule: z.string().nullable(),
    /** The commit asked for (commit_sha), or null: the branch's head when the deploy started. */
    commitSha: z.string().nullable(),
  }),
  stack: z.object({
    stack: z.string(), runtime: z.string(), serviceType: z.string(), buildCommand: z.string(),
    startCommand: z.string().nullable(), reason: z.string(), fromBlueprint: z.boolean(),
    schedule: z.string().nullable(), publishPath: z.string().nullable(), dockerfilePath: z.string().nullable(),
  }).nullable(),
  commitSha: z.string().nullable(),
  renderCommitId: z.string().nullable(),
  serviceId: z.string().nullable(),
  deployId: z.string().nullable(),
  dashboardUrl: z.string().nullable(),
  serviceUrl: z.string().nullable(),
  failure: z.object({ code: z.string(), message: z.string(), suggestedName: z.string().optional() }).nullable(),
  /**
   * Ended without deploying anything because this commit, or a newer one, is already live or being
   * deployed (a redeploy with commit_sha; failure says which): an outcome, not a failure of the commit.
   */
  nothingToDeploy: z.boolean(),
  replacedBy: z.object({ deploymentId: z.string().nullable(), deployId: z.string().nullable(), at: z.string() }).nullable(),
  serviceDeleted: z.boolean(),
  timeline: z.array(z.object({ status: DeploymentStatus, at: z.string(), source: z.enum(['orchestrator', 'render']), note: z.string().nullable() })),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().nullable(),
}), 'A deployment: one request to get a repository running on the caller\'s Render account, and what happened to it.');
export type DeploymentView = z.infer<typeof DeploymentView>;

/**
 * The answer to a request that started a deployment (deploy, redeploy, rollback): 202, where to
 * follow it (Location), and the deployment as presented. A replayed Idempotency-Key says so.
 */
export function answerDeploymentStarted(ctx: Pick<Koa.Context, 'status' | 'set' | 'body'>, rec: DeploymentRecord, opts: { replayed?: boolean } = {}): void {
  ctx.status = 202;
  ctx.set('Location', `/api/render/deployments/${rec.id}`);
  if (opts.replayed) ctx.set('Idempotent-Replayed', 'true');
  ctx.body = presentDeployment(rec);
}

/** What a client may see of a deployment: never the session ref or the key fingerprint. */
export function presentDeployment(rec: DeploymentRecord): DeploymentView {
  return {
    id: rec.id,
    kind: rec.kind,
    status: rec.status,
    finished: isTerminal(rec.status),
    request: {
      // Records from before user info was dropped at their making (requests.ts) may hold a token in it.
      githubRepo: withoutUserInfo(rec.request.githubRepo),
      serviceName: rec.request.serviceName,
      branch: rec.request.branch,
      ownerId: rec.request.ownerId,
      region: rec.request.region || null,
      plan: rec.request.plan || null,
      envVarKeys: rec.request.envVarKeys,
      buildCommand: rec.request.buildCommand,
      startCommand: rec.request.startCommand,
      serviceType: rec.request.serviceType ?? null,
      schedule: rec.request.schedule ?? null,
      commitSha: rec.request.commitSha ?? null,
    },
    // Field by field: the record's stack summary may carry more than a client should see.
    stack: rec.stack ? {
      stack: rec.stack.stack, runtime: rec.stack.runtime, serviceType: rec.stack.serviceType, buildCommand: rec.stack.buildCommand,
      startCommand: rec.stack.startCommand, reason: rec.stack.reason, fromBlueprint: rec.stack.fromBlueprint,
      schedule: rec.stack.schedule ?? null, publishPath: rec.stack.publishPath ?? null, dockerfilePath: rec.stack.dockerfilePath ?? null,
    } : null,
    commitSha: rec.commitSha,
    renderCommitId: rec.renderCommitId ?? null,
    serviceId: rec.serviceId,
    deployId: rec.deployId,
    dashboardUrl: rec.dashboardUrl,
    serviceUrl: rec.serviceUrl,
    failure: rec.failure ? { code: rec.failure.code, message: rec.failure.message, ...(rec.failure.suggestedName ? { suggestedName: rec.failure.suggestedName } : {}) } : null,
    nothingToDeploy: nothingToDeploy(rec),
    replacedBy: rec.replacedBy ? { deploymentId: rec.replacedBy.deploymentId, deployId: rec.replacedBy.deployId, at: rec.replacedBy.at } : null,
    serviceDeleted: Boolean(rec.serviceDeletedAt),
    timeline: rec.timeline.map((t) => ({ status: t.status, at: t.at, source: t.source, note: t.note ?? null })),
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt,
    finishedAt: rec.finishedAt,
  };
}

export const DeploymentPageView = view('DeploymentPage', z.object({ deployments: z.array(DeploymentView), nextCursor: z.string().nullable() }));
