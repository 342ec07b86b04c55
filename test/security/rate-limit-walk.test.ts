import test from 'ava';
import type Router from '@koa/router';
import { startStack, type Stack } from '../helpers/stack.js';
import type { Agent, AgentResponse } from '../helpers/agent.js';
import {
  addPrivateRepo, plantFinding, plantSettings, ATTACK_UA, discoverRoutes, requestFor, serviceWithLiveDeploy, snapshot, specsFor, uncatalogued,
  type RouteSpec, type Tenant, type TenantIds,
} from '../helpers/attack.js';
import { createRenderClient } from '../../server/render/client.js';
import type { RouteLimitName } from '../../server/security/routeLimits.js';

// Serial: the checks compare whole-Redis snapshots and the global audit head.
// Issue 11 part 4: every state-changing route (walked from the app's router, so a new route cannot
// be forgotten) and the expensive GitHub reads have a limit. Each route gets a fresh tenant on its
// own client IP; the route is called for real until it answers 429, then the next call is checked:
// 429 rate_limited with Retry-After and our error shape, and nothing changed — the tenant's state,
// the durable Redis keys, the Render account, and the audit trail (no entry appended).

const LIMIT = 3;
const SMALL = { points: LIMIT, durationSec: 600 };
const ROOMY = { points: 10_000, durationSec: 600 };

let stack: Stack;
let routes: RouteSpec[];
let unknown: string[];
test.before(async () => {
  let router: Router | undefined;
  const limits: Partial<Record<RouteLimitName, typeof SMALL>> = {
    keySetup: SMALL, keySetupPerUser: SMALL, keyClear: SMALL, serviceLookups: SMALL, signOut: SMALL, deploys: SMALL, lifecycle: SMALL, serviceSettings: SMALL, githubReads: SMALL, detect: SMALL, sentinelSettings: SMALL, sentinelTest: SMALL,
    // Sign-in is limited per IP and tested in rateLimits.test.ts; here tenants sign in again and again.
    signInStart: ROOMY, signInCallback: ROOMY,
  };
  stack = await startStack({
    env: { TRUST_PROXY: 'true' },
    appOptions: { onRouter: (r) => { router = r; }, security: { limits } },
    renderOptions: { rateLimits: { read: { limit: 100_000 }, write: { limit: 100_000 }, createService: { limit: 10_000 } } },
  });
  for (let i = 0; i < 100 && (await fetch(`${stack.url}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 20));
  const discovered = discoverRoutes(router!);
  unknown = uncatalogued(discovered);
  routes = unknown.length ? [] : specsFor(discovered);
});
test.after.always(async () => { await stack?.close(); });

let tenantNo = 0;
/** A tenant with a key, a private repo, a live Render service and a deployment record, on its own IP. */
async function freshTenant(): Promise<{ tn: Tenant; ids: TenantIds }> {
  const n = tenantNo++;
  const login = `walker${n}`;
  const apiKey = `rnd_walker${n}${'W'.repeat(24)}`;
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} workspace` }] });
  const agent = stack.agent({ 'user-agent': ATTACK_UA, 'x-forwarded-for': `198.51.100.${n + 1}` });
  await stack.signIn(agent, login);
  const setup = await agent.post('/api/render/setup', { api_key: apiKey });
  if (setup.status !== 200) throw new Error(`setup: ${setup.status} ${setup.text}`);
  const userId = (await agent.get('/api/session')).json.user.id as number;
  const tn: Tenant = { login, agent, apiKey, accountId: account.id, ownerId: setup.json.owners[0].id, userId, render: createRenderClient({ baseUrl: stack.render.url, apiKey }) };
  addPrivateRepo(stack, login, 'app');
  const svc = await serviceWithLiveDeploy(tn, `${login}-web`);
  const dep = await agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: 'app' });
  if (dep.status !== 202) throw new Error(`deploy: ${dep.status} ${dep.text}`);
  const findingId = await plantFinding(stack, userId, svc.serviceId);
  return { tn, ids: { deploymentId: dep.json.id, ...svc, repoOwner: login, repoName: 'app', ownerId: tn.ownerId, apiKey, findingId, ...await plantSettings(tn, svc.serviceId) } };
}

async function call(agent: Agent, spec: RouteSpec, ids: TenantIds): Promise<AgentResponse<any>> {
  const req = requestFor(spec, ids);
  return agent.request(req.method, req.path, req.json === undefined ? {} : { json: req.json });
}

/** Logout ends the session it is sent in: sign in again (same user, same IP) before each one. */
async function reSignIn(tn: Tenant) {
  tn.agent.jar.clear();
  await stack.signIn(tn.agent, tn.login);
}

const auditHead = async (userId: number) => stack.redis.client.hget(`${stack.redis.prefix}:audit:user:${userId}:head`, 'seq');

function assertLimited(t: import('ava').ExecutionContext, label: string, res: AgentResponse<any>) {
  t.is(res.status, 429, `${label}: ${res.status} ${res.text.slice(0, 200)}`);
  t.is(res.json?.error?.code, 'rate_limited', label);
  t.true(typeof res.json?.error?.message === 'string' && res.json.error.message.length > 20, `${label}: a sentence, not a bare code`);
  t.true(Number(res.headers.get('retry-after')) >= 1, `${label}: Retry-After ${res.headers.get('retry-after')}`);
  t.true(String(res.headers.get('content-type')).startsWith('application/json'), label);
}

/** Call the route until it is refused (at most a few more calls than its limit); returns how many got through. */
async function exhaust(tn: Tenant, spec: RouteSpec, ids: TenantIds, logout: boolean): Promise<number> {
  for (let i = 0; i < LIMIT + 3; i++) {
    if (logout) await reSignIn(tn);
    const res = await call(tn.agent, spec, ids);
    if (res.status === 429) return i;
  }
  return -1;
}

test.serial('the router walk knows every route', (t) => {
  t.deepEqual(unknown, [], 'describe new routes in ROUTE_CATALOG (test/helpers/attackRoutes.ts)');
  t.true(routes.length > 20);
});

test.serial('every state-changing route answers 429 after its limit, with our error shape and no side effects', async (t) => {
  t.timeout(180_000);
  const targets = routes.filter((r) => r.access === 'user' && r.method !== 'GET');
  t.true(targets.length >= 10, `found ${targets.map((r) => `${r.method} ${r.path}`).join(', ')}`);
  for (const spec of targets) {
    const label = `${spec.method} ${spec.path}`;
    const { tn, ids } = await freshTenant();
    const logout = spec.path === '/api/auth/logout';
    const through = await exhaust(tn, spec, ids, logout);
    t.true(through >= 0 && through <= LIMIT, `${label}: no 429 after ${LIMIT + 3} calls`);
    if (logout) await reSignIn(tn);
    const before = await snapshot(stack, [tn]);
    const headBefore = await auditHead(tn.userId);
    const renderCalls = stack.render.calls.length;
    assertLimited(t, label, await call(tn.agent, spec, ids));
    t.deepEqual(await snapshot(stack, [tn]), before, `${label}: the refused call changed something`);
    t.is(await auditHead(tn.userId), headBefore, `${label}: the refused call was audited`);
    // The snapshot itself reads Render (GETs); the refused call must not have reached Render at all.
    t.is(stack.render.calls.slice(renderCalls).filter((c) => c.method !== 'GET').length, 0, `${label}: reached Render`);
  }
});

test.serial('GitHub reads and stack detection have per-user limits; other users are unaffected', async (t) => {
  t.timeout(60_000);
  const reads = routes.filter((r) => r.method === 'GET' && r.path.startsWith('/api/github/'));
  t.deepEqual(reads.map((r) => r.path).sort(), ['/api/github/repos', '/api/github/repos/:owner/:repo/blueprint', '/api/github/repos/:owner/:repo/branches', '/api/github/repos/:owner/:repo/detect']);
  const { tn, ids } = await freshTenant();
  // repos and branches share one budget (githubReads); detection has its own.
  for (const path of ['/api/github/repos', '/api/github/repos/:owner/:repo/detect']) {
    const spec = reads.find((r) => r.path === path)!;
    t.true((await exhaust(tn, spec, ids, false)) >= 0, `${path} was never limited`);
    assertLimited(t, path, await call(tn.agent, spec, ids));
  }
  assertLimited(t, 'branches', await call(tn.agent, reads.find((r) => r.path.endsWith('/branches'))!, ids));
  // Blueprint validation reads repository files too: it spends the detection budget.
  assertLimited(t, 'blueprint', await call(tn.agent, reads.find((r) => r.path.endsWith('/blueprint'))!, ids));
  const other = await freshTenant();
  // The tenant's repo has no render.yaml: blueprint validation answers 404 blueprint_not_found, not 429.
  for (const spec of reads) t.is((await call(other.tn.agent, spec, other.ids)).status, spec.path.endsWith('/blueprint') ? 404 : 200, `${spec.path} for another user`);
});

test.serial('a no-op records nothing: clearing a key that is not set appends no audit entry', async (t) => {
  const { tn } = await freshTenant();
  t.is((await tn.agent.post('/api/render/clear-credentials')).status, 200);
  const head = await auditHead(tn.userId);
  const global = await stack.redis.client.hget(`${stack.redis.prefix}:audit:global:head`, 'seq');
  const res = await tn.agent.post('/api/render/clear-credentials');
  t.is(res.status, 200);
  t.false(res.json.configured);
  t.is(await auditHead(tn.userId), head, 'no entry in the user\'s trail');
  t.is(await stack.redis.client.hget(`${stack.redis.prefix}:audit:global:head`, 'seq'), global, 'no entry in the global chain');
});
