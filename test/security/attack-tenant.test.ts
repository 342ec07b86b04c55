import test from 'ava';
import { randomBytes } from 'node:crypto';
import { dumpRedis, type Stack } from '../helpers/stack.js';
import { useAttackStack } from '../helpers/attackStack.js';
import { waitFinished, type TestWorker } from '../helpers/pipeline.js';
import {
  ATTACK_UA, addPrivateRepo, contractViolation, requestFor, send, tenantState,
  tenantWithKey, unhandledErrors, withResources, type AttackRequest, type RawResponse, type RouteSpec, type Tenant, type TenantIds,
} from '../helpers/attack.js';
import { assertNoSecrets, type SecretWitness } from '../helpers/secretScan.js';

// Cross-tenant probes: user A has a real deployment history (a deploy and a redeploy that went live
// through a real worker); user B, with a key of their own, tries every route the app mounts with A's
// ids. Every id-bearing route answers 404 exactly as for an id that does not exist (never 403, never
// A's data), B's lists never show anything of A's, and A's state is untouched.

const A_SECRET = 'tenant-a-env-secret-5f1e2d3c';
const A_IDEM = 'tenant-a-idem-0001';

let worker: TestWorker;
// What useAttackStack hands over (below).
let stack: Stack, witness: SecretWitness, specs: RouteSpec[], unknownRoutes: string[];
let a: Tenant;
let b: Tenant;
let bIds: TenantIds;
const aDeployments: string[] = [];
const aDeploys: string[] = [];
let aService = '';
let aServiceName = '';
const A_REPO = 'a-private-app';
const transcript: string[] = [];
/** Tokens, keys and env values of the bearer flows, for the final scan (not all belong to a signed-in login). */
const bearerSecrets: string[] = [];

/** B's request, recorded, with the contract checked on the way. */
async function asB(req: AttackRequest): Promise<RawResponse> {
  const res = await send(stack.url, b, req, transcript);
  const problem = contractViolation(req.path, res);
  if (problem) throw new Error(`${req.method} ${req.path}: ${problem}`);
  return res;
}

/** Strings that identify A's resources; none may reach B in an answer (except ids B typed in, see the audit test). */
const aMarkers = () => [...aDeployments, ...aDeploys, aService, aServiceName, a.ownerId, a.accountId, `${a.login}/${A_REPO}`, A_SECRET];

useAttackStack(test, {
  worker: true,
  renderOptions: { phaseMs: { created: 20, build_in_progress: 40, pre_deploy_in_progress: 10, update_in_progress: 20 } },
}, async (s) => {
  ({ stack, witness, specs, unknownRoutes } = s);
  worker = s.worker!;

  a = await tenantWithKey(stack, 'tenant-a');
  addPrivateRepo(stack, a.login, A_REPO);
  const deployBody = { github_repo: `${a.login}/${A_REPO}`, project_name: A_REPO, env_vars: { A_SECRET } };
  const first = await a.agent.post('/api/render/deploy', deployBody, { headers: { 'idempotency-key': A_IDEM } });
  if (first.status !== 202) throw new Error(`A's deploy: ${first.status} ${first.text}`);
  const live = await waitFinished(a.agent, first.json.id);
  if (live.status !== 'live') throw new Error(`A's deploy ended ${live.status}: ${JSON.stringify(live.failure)}`);
  aDeployments.push(live.id);
  aDeploys.push(live.deployId);
  aService = live.serviceId;
  aServiceName = live.request.serviceName;
  const again = await a.agent.post(`/api/render/services/${aService}/redeploy`);
  if (again.status !== 202) throw new Error(`A's redeploy: ${again.status} ${again.text}`);
  const redeployed = await waitFinished(a.agent, again.json.id);
  if (redeployed.status !== 'live') throw new Error(`A's redeploy ended ${redeployed.status}`);
  aDeployments.push(redeployed.id);
  aDeploys.push(redeployed.deployId);

  b = await tenantWithKey(stack, 'tenant-b');
  bIds = await withResources(stack, b);
  await waitFinished(b.agent, bIds.deploymentId);
});

/** A's values for each param kind, every combination B will try. */
function aValues(spec: RouteSpec): Array<Partial<Record<string, string>>> {
  const kinds = new Set(Object.values(spec.params ?? {}));
  if (kinds.has('deploymentId')) return aDeployments.map((id) => ({ deploymentId: id }));
  if (kinds.has('serviceId')) return [{ serviceId: aService, deployId: aDeploys[0]! }];
  if (kinds.has('repoOwner')) return [{ repoOwner: a.login, repoName: A_REPO }];
  return [];
}

/** The same shape of id that simply does not exist. */
function missingValues(spec: RouteSpec): Partial<Record<string, string>> {
  const rand = () => randomBytes(16).toString('hex').slice(0, 20);
  const kinds = new Set(Object.values(spec.params ?? {}));
  if (kinds.has('deploymentId')) return { deploymentId: `dpl-${rand()}` };
  if (kinds.has('serviceId')) return { serviceId: `srv-${rand()}` };
  return { repoOwner: a.login, repoName: 'no-such-repo' };
}

const idBearing = () => specs.filter((s) => s.access === 'user' && s.params && Object.values(s.params).some((k) => k !== 'assetPath'));
const lists = () => specs.filter((s) => s.method === 'GET' && !s.params && !s.stream);

test.serial('every route the app mounts is in the attack catalogue', (t) => {
  t.deepEqual(unknownRoutes, []);
  t.true(idBearing().length >= 9, `${idBearing().length} id-bearing routes`);
  t.is(aDeployments.length, 2);
});

test.serial('B\'s live update stream carries nothing of A\'s deploys', async (t) => {
  const open = async (tn: Tenant) => {
    const abort = new AbortController();
    const res = await fetch(`${stack.url}/api/events`, { headers: { cookie: tn.agent.cookieHeader(), 'user-agent': ATTACK_UA }, signal: abort.signal });
    let text = '';
    void (async () => {
      const decoder = new TextDecoder();
      try { for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) text += decoder.decode(chunk, { stream: true }); } catch { /* closed */ }
    })();
    return { status: res.status, text: () => text, close: () => abort.abort() };
  };
  const [aStream, bStream] = await Promise.all([open(a), open(b)]);
  t.teardown(() => { aStream.close(); bStream.close(); });
  t.is(bStream.status, 200);
  const res = await a.agent.post(`/api/render/services/${aService}/redeploy`);
  t.is(res.status, 202);
  const done = await waitFinished(a.agent, res.json.id);
  t.is(done.status, 'live');
  aDeployments.push(done.id);
  aDeploys.push(done.deployId);
  for (let i = 0; i < 200 && !aStream.text().includes('"status":"live"'); i++) await new Promise((r) => setTimeout(r, 10));
  t.true(aStream.text().includes(done.id), 'A saw their own updates (published before B is checked)');
  for (const m of aMarkers()) t.false(bStream.text().includes(m), `B's stream shows ${m}`);
});

test.serial('B\'s lists (session, deployments, services, repos, audit, metrics…) never show A\'s data', async (t) => {
  for (const spec of lists()) {
    const res = await asB({ method: 'GET', path: spec.path });
    for (const m of aMarkers()) t.false(res.text.includes(m), `${spec.path} shows ${m}`);
  }
  // A's pagination cursor in B's hands pages through B's own records only.
  const cursor = encodeURIComponent(`${Date.now() + 60_000}_${aDeployments[0]}`);
  const paged = await asB({ method: 'GET', path: `/api/render/my-deployments?limit=100&cursor=${cursor}` });
  t.is(paged.status, 200);
  for (const d of paged.json.deployments) t.false(aDeployments.includes(d.id));
});

test.serial('every id-bearing route with A\'s ids: 404, the same answer as for an id that does not exist', async (t) => {
  const aBefore = await tenantState(stack, a);
  const callsBefore = stack.render.calls.length;
  const seen: string[] = [];
  for (const spec of idBearing()) {
    const missing = await asB(requestFor(spec, { ...bIds, ...missingValues(spec) }));
    for (const values of aValues(spec)) {
      const res = await asB(requestFor(spec, { ...bIds, ...values }));
      seen.push(`${spec.method} ${spec.path} ${res.status}`);
      t.is(res.status, 404, `${spec.method} ${spec.path} with A's ${JSON.stringify(values)}: ${res.status} ${res.text.slice(0, 200)}`);
      t.is(res.json?.error?.code, 'not_found');
      t.deepEqual(res.json, missing.json, `${spec.method} ${spec.path}: indistinguishable from a missing id`);
      for (const m of aMarkers()) t.false(res.text.includes(m) && !Object.values(values).includes(m), `${spec.path} answer shows ${m}`);
    }
  }
  t.false(seen.some((s) => s.endsWith(' 403')), 'never a 403 (that would confirm the id exists)');

  // Ids in bodies: A's deploy id for a rollback of B's own service, A's workspace for a deploy.
  const rollback = await asB({ method: 'POST', path: `/api/render/services/${bIds.serviceId}/rollback`, json: { deploy_id: aDeploys[0] } });
  t.is(rollback.status, 404, rollback.text);
  const intoA = await asB({ method: 'POST', path: '/api/render/deploy', json: { github_repo: `${a.login}/${A_REPO}`, project_name: 'stolen', owner_id: a.ownerId } });
  t.is(intoA.status, 400, intoA.text);
  t.is(intoA.json.error.code, 'validation_failed');

  // A's Idempotency-Key and body from B: a new record of B's own, never A's replayed.
  const replay = await asB({ method: 'POST', path: '/api/render/deploy', headers: { 'idempotency-key': A_IDEM }, json: { github_repo: `${a.login}/${A_REPO}`, project_name: A_REPO, env_vars: { A_SECRET: 'x' } } });
  t.is(replay.status, 202, replay.text);
  t.false(aDeployments.includes(replay.json.id));
  t.falsy(replay.headers['idempotent-replayed']);
  // And B cannot deploy A's private repo: B's token does not see it.
  const failed = await waitFinished(b.agent, replay.json.id);
  t.is(failed.status, 'failed');
  t.is(failed.failure.code, 'repo_not_found');

  t.is(stack.render.calls.slice(callsBefore).filter((c) => c.accountId === a.accountId).length, 0, 'no Render call was made with A\'s key');
  t.deepEqual(await tenantState(stack, a), aBefore, 'A\'s session, deployments and services are unchanged');
});

test.serial('B\'s audit trail is no oracle: nothing in it tells B that A\'s ids exist; the operators\' trail has the probes', async (t) => {
  const res = await asB({ method: 'GET', path: '/api/audit?limit=100' });
  t.is(res.status, 200);
  t.true(res.json.entries.length > 0);
  for (const m of aMarkers()) t.false(res.text.includes(m), `B's audit shows ${m}`);
  t.false(/foreign_id|cross_tenant_probe/.test(res.text), 'a probe entry in B\'s own trail would confirm what the 404 hides');
  t.true((await dumpRedis(stack.redis.client)).includes('cross_tenant_probe'), 'the probes were recorded for the operators');
});

test.serial('B with a bearer token: every id-bearing route and MCP tool with A\'s ids is 404, like an id that does not exist', async (t) => {
  const aBefore = await tenantState(stack, a);
  const callsBefore = stack.render.calls.length;
  const token = stack.github.issueToken(b.login);
  const auth = { authorization: `Bearer ${token}`, 'user-agent': ATTACK_UA };
  const asBearer = async (req: AttackRequest) => {
    const res = await send(stack.url, null, { ...req, csrf: 'none', headers: { ...req.headers, ...auth } }, transcript);
    const problem = contractViolation(req.path, res);
    if (problem) throw new Error(`bearer ${req.method} ${req.path}: ${problem}`);
    return res;
  };
  t.is((await asBearer({ method: 'POST', path: '/api/render/setup', json: { api_key: b.apiKey } })).status, 200);
  for (const spec of idBearing()) {
    const missing = await asBearer(requestFor(spec, { ...bIds, ...missingValues(spec) }));
    for (const values of aValues(spec)) {
      const res = await asBearer(requestFor(spec, { ...bIds, ...values }));
      t.is(res.status, 404, `bearer ${spec.method} ${spec.path} with A's ${JSON.stringify(values)}: ${res.status} ${res.text.slice(0, 200)}`);
      t.deepEqual(res.json, missing.json, `bearer ${spec.method} ${spec.path}: indistinguishable from a missing id`);
      for (const m of aMarkers()) t.false(res.text.includes(m) && !Object.values(values).includes(m), `${spec.path} answer shows ${m}`);
    }
  }
  // A's ids only: B's own records by now hold A's repo name (B's replay of A's request above).
  const aIds = () => [...aDeployments, ...aDeploys, aService, a.ownerId, a.accountId, A_SECRET];
  for (const spec of lists()) {
    const res = await asBearer({ method: 'GET', path: spec.path });
    for (const m of aIds()) t.false(res.text.includes(m), `bearer ${spec.path} shows ${m}`);
  }
  // The same ids through the MCP tools (JSON-RPC over POST /mcp, as an assistant sends them).
  const mcpCall = async (name: string, args: Record<string, unknown>) => (await asBearer({
    method: 'POST', path: '/mcp', headers: { accept: 'application/json, text/event-stream' },
    json: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } },
  })).json?.result;
  for (const id of aDeployments) {
    for (const tool of ['get_deployment', 'get_deployment_logs', 'cancel_deployment']) t.is((await mcpCall(tool, { deployment_id: id }))?.structuredContent?.error?.code, 'not_found', `${tool} ${id}`);
  }
  for (const tool of ['redeploy', 'suspend_service', 'resume_service']) t.is((await mcpCall(tool, { service_id: aService }))?.structuredContent?.error?.code, 'not_found', tool);
  t.is((await mcpCall('rollback', { service_id: aService, deploy_id: aDeploys[0] }))?.structuredContent?.error?.code, 'not_found');
  t.is((await mcpCall('detect_stack', { github_repo: `${a.login}/${A_REPO}` }))?.structuredContent?.error?.code, 'not_found');
  const listed = JSON.stringify(await mcpCall('list_services', {})) + JSON.stringify(await mcpCall('list_deployments', { limit: 100 }));
  for (const m of aIds()) t.false(listed.includes(m), `MCP lists show ${m}`);
  t.is(stack.render.calls.slice(callsBefore).filter((c) => c.accountId === a.accountId).length, 0, 'no Render call was made with A\'s key');
  t.deepEqual(await tenantState(stack, a), aBefore, 'A is unchanged');
});

test.serial('a whole sign-in-free CI flow (token + X-Render-Api-Key deploy with an env secret, status, logs) leaves no secret behind', async (t) => {
  stack.github.addUser({ id: 424242, login: 'tenant-ci' });
  const token = stack.github.issuePat('tenant-ci');
  const apiKey = `rnd_tenantci${'C'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'ci workspace' }] });
  const secret = 'tenant-ci-env-secret-9a8b7c6d';
  bearerSecrets.push(token, apiKey, secret);
  addPrivateRepo(stack, 'tenant-ci', 'ci-app');
  const ci = (req: AttackRequest) => send(stack.url, null, { ...req, csrf: 'none', headers: { authorization: `Bearer ${token}`, 'x-render-api-key': apiKey, ...req.headers } }, transcript);
  const dep = await ci({ method: 'POST', path: '/api/render/deploy', json: { github_repo: 'tenant-ci/ci-app', project_name: 'ci-app', env_vars: { CI_SECRET: secret } } });
  t.is(dep.status, 202, dep.text);
  let status = '';
  for (let i = 0; i < 600 && !['live', 'failed'].includes(status); i++) {
    status = (await ci({ method: 'GET', path: `/api/render/deployments/${dep.json.id}` })).json.status;
    await new Promise((r) => setTimeout(r, 25));
  }
  t.is(status, 'live');
  t.is((await ci({ method: 'GET', path: `/api/render/deployments/${dep.json.id}/logs` })).status, 200);
  t.is((await ci({ method: 'GET', path: `/api/render/deployments/${dep.json.id}/logs.txt` })).status, 200);
});

test.serial('B\'s own state-changing routes touch only B: key cleared, signed out, A still fine', async (t) => {
  const aBefore = await tenantState(stack, a);
  const ordered = specs.filter((s) => s.method !== 'GET' && !s.params)
    .sort((x, y) => Number(x.path === '/api/auth/logout') - Number(y.path === '/api/auth/logout'));
  for (const spec of ordered) {
    const res = await asB(requestFor(spec, bIds));
    t.true(res.status < 500, `${spec.method} ${spec.path}: ${res.status}`);
    for (const m of aMarkers()) t.false(res.text.includes(m), `${spec.path} shows ${m}`);
  }
  t.is((await asB({ method: 'GET', path: '/api/session' })).status, 401, 'B is signed out');
  t.deepEqual(await tenantState(stack, a), aBefore);
  t.is((await a.agent.get('/api/session')).status, 200, 'A is still signed in');
});

test.serial('afterwards: no unhandled error, no secret anywhere', async (t) => {
  t.deepEqual(unhandledErrors([...stack.logs, ...worker.logs]).map((l) => l.slice(0, 300)), []);
  await assertNoSecrets(t, { stack, agents: witness.agents, transcripts: [transcript], extraLogs: [worker.logs], secrets: [...witness.secrets(), A_SECRET, ...bearerSecrets] });
});
