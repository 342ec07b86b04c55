import { z } from 'zod';
import { DeployBody, hasLoneSurrogate, IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_RULE, PageQuery, SERVICE_ID } from '../deployments/input.js';
import { LogPageQuery } from '../deployments/logs.js';
import { RedeployBody, RollbackBody } from '../routes/services.js';
import { BlueprintQuery, DetectQuery } from '../routes/detect.js';
import type { RouteCall } from './dispatch.js';

/**
 * The MCP tools: each one is a REST route of this app, run in-process as the caller
 * (server/mcp/dispatch.ts), so scoping, validation, rate limits, lock-out and audit are the route's own.
 * Input schemas are the routes' zod schemas; path ids become named arguments.
 */

export interface ToolSpec {
  name: string;
  description: string;
  schema: z.ZodType;
  /** MCP annotations: what a client may assume before calling. */
  annotations: { readOnlyHint: boolean; destructiveHint: boolean; idempotentHint?: boolean; openWorldHint: boolean };
  /** The REST request for validated-as-given arguments (ids go into the path, the rest as query or body). */
  request(args: Record<string, unknown>): RouteCall;
}

// A lone UTF-16 surrogate has no UTF-8 form: the id could not go into the route's path (encodeURIComponent throws).
const DeploymentRef = z.object({
  deployment_id: z.string().trim().min(1).max(200)
    .refine((v) => !hasLoneSurrogate(v), 'deployment_id holds half of a UTF-16 surrogate pair, which no deployment id has')
    .describe('A deployment id from deploy_repo or list_deployments'),
});
const ServiceRef = z.object({ service_id: z.string().trim().regex(SERVICE_ID, 'service_id must be a Render service id (srv-… or, for a cron job, crn-…)').describe('A Render service id (srv-…, or crn-… for a cron job) from list_services') });
/**
 * The REST route's Idempotency-Key header as an argument (deploy_repo, redeploy, rollback): an AI client
 * that lost an answer and calls again gets the deployment its first call made, not a second deploy. It
 * goes to the route as that header, so the claim, replay, conflicts and per-user scope are the route's own.
 */
const IdempotencyArg = z.object({
  idempotency_key: z.string().regex(IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_RULE).optional()
    .describe(`Optional, ${IDEMPOTENCY_KEY_RULE}. Pick a new one per deploy you mean and send it again when you retry a call whose answer you lost: the same key with the same arguments answers with the deployment the first call made (for 24 hours) instead of deploying again; with different arguments it is refused (idempotency_key_reused).`),
});
const idempotencyHeader = (a: Record<string, unknown>): Pick<RouteCall, 'headers'> =>
  typeof a.idempotency_key === 'string' ? { headers: { 'idempotency-key': a.idempotency_key } } : {};
const RepoRef = z.object({ github_repo: DeployBody.shape.github_repo.describe('owner/name of a GitHub repository you can read') });

const enc = encodeURIComponent;
/**
 * An id argument as its schema validated it (ServiceRef, DeploymentRef trim): the route's path parameter
 * is not trimmed, so an id sent with spaces around it, accepted here, was a 404 (and a counted probe).
 */
const idIn = (v: unknown) => enc(String(v).trim());
const without = (args: Record<string, unknown>, ...keys: string[]) => Object.fromEntries(Object.entries(args).filter(([k]) => !keys.includes(k)));
/** github_repo as its schema validated it (DeployBody trims it), as idIn: the route reads owner and name from the path as sent. */
const repoPath = (args: Record<string, unknown>) => String(args.github_repo).trim().split('/').map(enc).join('/');

const READ = { readOnlyHint: true, destructiveHint: false, openWorldHint: true } as const;
const CHANGE = { readOnlyHint: false, destructiveHint: false, openWorldHint: true } as const;
const DESTRUCTIVE = { readOnlyHint: false, destructiveHint: true, openWorldHint: true } as const;

export const TOOLS: ToolSpec[] = [
  {
    name: 'list_services', description: 'Your Render services in the workspaces your Render key can use.', schema: z.object({}).strict(), annotations: READ,
    request: () => ({ method: 'GET', path: '/api/render/services' }),
  },
  {
    name: 'list_deployments', description: 'Deployments you requested through this orchestrator, newest first (limit, cursor).', schema: PageQuery.strict(), annotations: READ,
    request: (a) => ({ method: 'GET', path: '/api/render/my-deployments', query: a }),
  },
  {
    name: 'get_deployment', description: 'One of your deployments: status, phase history, service URL.', schema: DeploymentRef.strict(), annotations: READ,
    request: (a) => ({ method: 'GET', path: `/api/render/deployments/${idIn(a.deployment_id)}` }),
  },
  {
    name: 'get_deployment_logs', description: 'A page of a deployment\'s build and runtime log lines, redacted: the newest page first, its lines oldest first; pass the answer\'s nextCursor as cursor for the page before it.',
    schema: LogPageQuery.extend(DeploymentRef.shape), annotations: READ,
    request: (a) => ({ method: 'GET', path: `/api/render/deployments/${idIn(a.deployment_id)}/logs`, query: without(a, 'deployment_id') }),
  },
  {
    name: 'detect_stack', description: 'Detect a repository\'s stack (runtime, build and start commands) as a deploy would.',
    schema: DetectQuery.extend(RepoRef.shape).strict(), annotations: READ,
    request: (a) => ({ method: 'GET', path: `/api/github/repos/${repoPath(a)}/detect`, query: without(a, 'github_repo') }),
  },
  {
    name: 'validate_blueprint', description: 'Validate a repository\'s render.yaml with Render\'s Blueprint validation, without deploying.',
    schema: BlueprintQuery.extend(RepoRef.shape), annotations: READ,
    request: (a) => ({ method: 'GET', path: `/api/github/repos/${repoPath(a)}/blueprint`, query: without(a, 'github_repo') }),
  },
  {
    name: 'deploy_repo', description: 'Deploy a GitHub repository to your Render account. Returns at once with the deployment id; follow it with get_deployment.',
    schema: DeployBody.safeExtend(IdempotencyArg.shape), annotations: CHANGE,
    request: (a) => ({
      method: 'POST', path: '/api/render/deploy', body: without(a, 'idempotency_key'), ...idempotencyHeader(a),
    }),
  },
  {
    name: 'redeploy', description: 'Deploy one of your services again: the latest commit of its branch, or the commit named by commit_sha (a full SHA on that branch; if that commit or a newer one is already live, or that commit or a newer one is being deployed, nothing is deployed and the deployment ends canceled, newer_commit_live, commit_already_live, commit_already_deploying or newer_commit_deploying, with nothingToDeploy true). A suspended service is refused (service_suspended): resume it first with resume_service.',
    schema: RedeployBody.extend(ServiceRef.shape).extend(IdempotencyArg.shape).strict(), annotations: CHANGE,
    request: (a) => ({ method: 'POST', path: `/api/render/services/${idIn(a.service_id)}/redeploy`, body: without(a, 'service_id', 'idempotency_key'), ...idempotencyHeader(a) }),
  },
  {
    name: 'cancel_deployment', description: 'Cancel one of your unfinished deployments.', schema: DeploymentRef.strict(), annotations: DESTRUCTIVE,
    request: (a) => ({ method: 'POST', path: `/api/render/deployments/${idIn(a.deployment_id)}/cancel`, body: {} }),
  },
  {
    name: 'rollback', description: 'Roll a service back to an earlier deploy that went live; the one live now is refused (deploy_not_rollbackable): redeploy builds it again. A suspended service is refused (service_suspended): resume it first with resume_service.', schema: RollbackBody.extend(ServiceRef.shape).extend(IdempotencyArg.shape), annotations: DESTRUCTIVE,
    request: (a) => ({ method: 'POST', path: `/api/render/services/${idIn(a.service_id)}/rollback`, body: without(a, 'service_id', 'idempotency_key'), ...idempotencyHeader(a) }),
  },
  {
    name: 'suspend_service', description: 'Suspend one of your services (it stops serving until resumed).', schema: ServiceRef.strict(), annotations: DESTRUCTIVE,
    request: (a) => ({ method: 'POST', path: `/api/render/services/${idIn(a.service_id)}/suspend`, body: {} }),
  },
  {
    name: 'resume_service', description: 'Resume one of your suspended services.', schema: ServiceRef.strict(), annotations: CHANGE,
    request: (a) => ({ method: 'POST', path: `/api/render/services/${idIn(a.service_id)}/resume`, body: {} }),
  },
];

/** The JSON Schema a client sees: the REST schema's input side, without the browser-only _csrf field. */
export function inputJsonSchema(schema: z.ZodType): { type: 'object'; properties?: Record<string, object>; required?: string[] } {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { type?: string; properties?: Record<string, object>; required?: string[] };
  const properties = { ...json.properties };
  delete properties._csrf;
  return { ...json, type: 'object', properties, ...(json.required ? { required: json.required.filter((k) => k !== '_csrf') } : {}) };
}
