import test from 'ava';
import { manualClock } from '../../server/clock.js';
import { startStack, dumpRedis, type Stack } from '../helpers/stack.js';
import { Agent } from '../helpers/agent.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { call, errorCode, mcpUsers, type McpUser } from './support/mcpUsers.js';
import { supersededDeploy } from '../helpers/attackTenants.js';
import { createRenderClient } from '../../server/render/client.js';

// The MCP endpoint (issue 13 part 3) through the SDK's own client over real HTTP. No worker runs, so
// deploys stay queued (deploy_repo must answer at once, and cancel has something to cancel).
const clock = manualClock();
let stack: Stack;
test.after.always(async () => { await stack?.close(); });

const users = mcpUsers(() => stack, 7000);
const mcpUser = (login: string) => users.create(login);
/** The user with `deployId` a deploy a rollback may name: live once, deactivated now (the live one is refused). */
const withEarlierDeploy = async (u: McpUser): Promise<McpUser> =>
  ({ ...u, deployId: await supersededDeploy(createRenderClient({ baseUrl: stack.render.url, apiKey: u.apiKey }), u.serviceId) });

let alice: McpUser;
let bob: McpUser;
test.before(async () => {
  stack = await startStack({ clock, env: { BEARER_RECHECK_SECONDS: '120' } });
  alice = await withEarlierDeploy(await mcpUser('mcpalice'));
  bob = await mcpUser('mcpbob');
});

test.serial('tools are listed with the REST schemas and destructive hints', async (t) => {
  const { tools } = await alice.client.listTools();
  t.deepEqual(tools.map((x) => x.name).sort(), ['cancel_deployment', 'deploy_repo', 'detect_stack', 'get_deployment', 'get_deployment_logs', 'list_deployments',
    'list_services', 'redeploy', 'resume_service', 'rollback', 'suspend_service', 'validate_blueprint']);
  const hint = (n: string) => tools.find((x) => x.name === n)!.annotations?.destructiveHint;
  for (const n of ['cancel_deployment', 'rollback', 'suspend_service']) t.true(hint(n), n);
  for (const n of ['list_services', 'deploy_repo', 'get_deployment']) t.false(hint(n), n);
  const deploy = tools.find((x) => x.name === 'deploy_repo')!.inputSchema as { properties: Record<string, unknown>; required: string[] };
  t.deepEqual(deploy.required.sort(), ['github_repo', 'project_name']);
  t.truthy(deploy.properties.env_vars);
  t.falsy(deploy.properties._csrf);
});

test.serial('every tool once, scoped to the caller', async (t) => {
  const services = await call(alice, 'list_services');
  t.deepEqual(services.structuredContent?.services.map((s: { id: string }) => s.id), [alice.serviceId]);
  const detected = await call(alice, 'detect_stack', { github_repo: 'mcpalice/app' });
  t.falsy(detected.isError, JSON.stringify(detected));
  t.is(detected.structuredContent?.hasBlueprint, true);
  const blueprint = await call(alice, 'validate_blueprint', { github_repo: 'mcpalice/app' });
  t.is(blueprint.structuredContent?.valid, true, JSON.stringify(blueprint));

  const deployed = await call(alice, 'deploy_repo', { github_repo: 'mcpalice/app', project_name: 'mcp-app', env_vars: { GREETING: 'hello-from-mcp' } });
  t.falsy(deployed.isError, JSON.stringify(deployed));
  const id = deployed.structuredContent?.id as string;
  t.is(deployed.structuredContent?.status, 'queued', 'answers at once');
  t.is((await call(alice, 'get_deployment', { deployment_id: id })).structuredContent?.id, id);
  t.true((await call(alice, 'list_deployments', { limit: 10 })).structuredContent?.deployments.some((d: { id: string }) => d.id === id));
  const logs = await call(alice, 'get_deployment_logs', { deployment_id: id });
  t.deepEqual(logs.structuredContent?.logs, [], JSON.stringify(logs));
  const canceled = await call(alice, 'cancel_deployment', { deployment_id: id });
  t.is(canceled.structuredContent?.status, 'canceled', JSON.stringify(canceled));

  t.falsy((await call(alice, 'redeploy', { service_id: alice.serviceId })).isError);
  const rolled = await call(alice, 'rollback', { service_id: alice.serviceId, deploy_id: alice.deployId });
  t.falsy(rolled.isError, JSON.stringify(rolled));
  t.is((await call(alice, 'suspend_service', { service_id: alice.serviceId })).structuredContent?.service.suspended, true);
  t.is((await call(alice, 'resume_service', { service_id: alice.serviceId })).structuredContent?.service.suspended, false);

  // Audited: one mcp_tool entry per call, with the tool's name.
  const audit = await new Agent(stack.url, { authorization: `Bearer ${alice.token}` }).get('/api/audit?limit=100');
  const tools = audit.json.entries.filter((e: { action: string }) => e.action === 'mcp_tool').map((e: { detail: { tool: string } }) => e.detail.tool);
  for (const n of ['list_services', 'deploy_repo', 'cancel_deployment', 'suspend_service']) t.true(tools.includes(n), n);
  t.false(JSON.stringify(audit.json).includes('hello-from-mcp'));
  t.false((await dumpRedis(stack.web.deps.redis)).includes(alice.token));
});

test.serial('another user\'s ids are not found; bad arguments are tool errors with our codes', async (t) => {
  t.deepEqual((await call(bob, 'list_services')).structuredContent?.services.map((s: { id: string }) => s.id), [bob.serviceId]);
  const mine = (await call(alice, 'list_deployments')).structuredContent?.deployments[0].id as string;
  t.is(errorCode(await call(bob, 'get_deployment', { deployment_id: mine })), 'not_found');
  t.is(errorCode(await call(bob, 'cancel_deployment', { deployment_id: mine })), 'not_found');
  t.is(errorCode(await call(bob, 'suspend_service', { service_id: alice.serviceId })), 'not_found');
  t.is(errorCode(await call(bob, 'rollback', { service_id: alice.serviceId, deploy_id: alice.deployId })), 'not_found');
  t.is(errorCode(await call(bob, 'detect_stack', { github_repo: 'mcpalice/nothere' })), 'not_found');

  const bad = await call(alice, 'deploy_repo', { github_repo: 'not a repo', project_name: 'X' });
  t.is(errorCode(bad), 'validation_failed');
  t.regex(bad.structuredContent?.error.message, /github_repo/);
  t.is(errorCode(await call(alice, 'suspend_service', { service_id: '../../etc' })), 'validation_failed');
  t.is(errorCode(await call(alice, 'list_deployments', { limit: 'lots' })), 'validation_failed');
  t.is(errorCode(await call(alice, 'no_such_tool')), 'not_found');
  t.is((await call(alice, 'list_services')).structuredContent?.services.length, 1, 'nothing changed');
});

test.serial('deploy_repo with an idempotency_key: a retried call makes one deployment; the key works as the REST Idempotency-Key does', async (t) => {
  const { tools } = await alice.client.listTools();
  const schema = tools.find((x) => x.name === 'deploy_repo')!.inputSchema as { properties: Record<string, { description?: string; pattern?: string }>; required: string[] };
  t.truthy(schema.properties.idempotency_key?.description, 'documented');
  t.truthy(schema.properties.idempotency_key?.pattern);
  t.false(schema.required.includes('idempotency_key'));

  const args = { github_repo: 'mcpalice/app', project_name: 'idem-app', env_vars: { GREETING: 'once' }, idempotency_key: 'retry-1' };
  const named = async (name: string) => ((await call(alice, 'list_deployments', { limit: 100 })).structuredContent?.deployments as Array<{ request: { serviceName: string } }>).filter((d) => d.request.serviceName === name).length;
  const first = await call(alice, 'deploy_repo', args);
  t.falsy(first.isError, JSON.stringify(first));
  const retried = await call(alice, 'deploy_repo', args);
  t.falsy(retried.isError, JSON.stringify(retried));
  t.deepEqual(retried.structuredContent, first.structuredContent, 'the same answer');
  t.is(await named('idem-app'), 1, 'one deployment');

  // The same mechanism as the header: the REST route with that key and body replays the same deployment,
  // and a different body with it is the REST route's conflict, word for word.
  const rest = new Agent(stack.url, { authorization: `Bearer ${alice.token}` });
  const viaRest = await rest.post('/api/render/deploy', { github_repo: 'mcpalice/app', project_name: 'idem-app', env_vars: { GREETING: 'once' } }, { headers: { 'idempotency-key': 'retry-1' } });
  t.is(viaRest.status, 202, viaRest.text);
  t.is(viaRest.headers.get('idempotent-replayed'), 'true');
  t.is(viaRest.json.id, first.structuredContent?.id);
  const restConflict = await rest.post('/api/render/deploy', { github_repo: 'mcpalice/app', project_name: 'idem-app', env_vars: { GREETING: 'twice' } }, { headers: { 'idempotency-key': 'retry-1' } });
  t.is(restConflict.status, 409);
  const conflict = await call(alice, 'deploy_repo', { ...args, env_vars: { GREETING: 'twice' } });
  t.is(errorCode(conflict), 'idempotency_key_reused');
  t.deepEqual(conflict.structuredContent?.error, restConflict.json.error);
  t.is(await named('idem-app'), 1, 'still one');

  // Refused as the header is; nothing made.
  for (const idempotency_key of ['', 'has space', 'k'.repeat(256), 'ключ', 7]) {
    t.is(errorCode(await call(alice, 'deploy_repo', { ...args, project_name: 'idem-bad', idempotency_key })), 'validation_failed', JSON.stringify(idempotency_key));
  }
  t.is(await named('idem-bad'), 0);

  // Per user: bob's key of the same name is his own.
  const bobs = await call(bob, 'deploy_repo', { github_repo: 'mcpbob/app', project_name: 'idem-app', idempotency_key: 'retry-1' });
  t.falsy(bobs.isError, JSON.stringify(bobs));
  t.not(bobs.structuredContent?.id, first.structuredContent?.id);
});

test.serial('redeploy and rollback with an idempotency_key: a retried call makes one deployment; the bearer REST routes take the same key as the header', async (t) => {
  const { tools } = await alice.client.listTools();
  for (const name of ['redeploy', 'rollback']) {
    const schema = tools.find((x) => x.name === name)!.inputSchema as { properties: Record<string, { description?: string; pattern?: string }>; required: string[] };
    t.truthy(schema.properties.idempotency_key?.pattern, name);
    t.false(schema.required.includes('idempotency_key'), name);
  }
  const count = async () => ((await call(alice, 'list_deployments', { limit: 100 })).structuredContent?.deployments as unknown[]).length;
  const before = await count();
  const redeploy = { service_id: alice.serviceId, idempotency_key: 'redeploy-retry-1' };
  const first = await call(alice, 'redeploy', redeploy);
  t.falsy(first.isError, JSON.stringify(first));
  const retried = await call(alice, 'redeploy', redeploy);
  t.is(retried.structuredContent?.id, first.structuredContent?.id, 'the same deployment');
  // A CI job with the token: the REST route with the header replays it too.
  const rest = new Agent(stack.url, { authorization: `Bearer ${alice.token}` });
  const viaRest = await rest.post(`/api/render/services/${alice.serviceId}/redeploy`, undefined, { headers: { 'idempotency-key': 'redeploy-retry-1' } });
  t.is(viaRest.status, 202, viaRest.text);
  t.is(viaRest.headers.get('idempotent-replayed'), 'true');
  t.is(viaRest.json.id, first.structuredContent?.id);

  const rollback = { service_id: alice.serviceId, deploy_id: alice.deployId, idempotency_key: 'rollback-retry-1' };
  const rolled = await call(alice, 'rollback', rollback);
  t.falsy(rolled.isError, JSON.stringify(rolled));
  t.is((await call(alice, 'rollback', rollback)).structuredContent?.id, rolled.structuredContent?.id);
  const rolledViaRest = await rest.post(`/api/render/services/${alice.serviceId}/rollback`, { deploy_id: alice.deployId }, { headers: { 'idempotency-key': 'rollback-retry-1' } });
  t.is(rolledViaRest.json.id, rolled.structuredContent?.id);
  t.is(await count(), before + 2, 'one redeploy and one rollback');

  // The redeploy's key for a rollback: refused, as the header is, and nothing made.
  t.is(errorCode(await call(alice, 'rollback', { ...rollback, idempotency_key: 'redeploy-retry-1' })), 'idempotency_key_reused');
  t.is(errorCode(await call(alice, 'redeploy', { ...redeploy, idempotency_key: 'has space' })), 'validation_failed');
  t.is(await count(), before + 2);
  // Per user: bob's key of the same name redeploys his own service.
  const bobs = await call(bob, 'redeploy', { service_id: bob.serviceId, idempotency_key: 'redeploy-retry-1' });
  t.falsy(bobs.isError, JSON.stringify(bobs));
  t.not(bobs.structuredContent?.id, first.structuredContent?.id);
});

test.serial('redeploy takes commit_sha as the REST body does: kept on the deployment, a bad SHA refused with nothing made', async (t) => {
  const { tools } = await alice.client.listTools();
  const schema = tools.find((x) => x.name === 'redeploy')!.inputSchema as { properties: Record<string, { pattern?: string }>; required: string[] };
  t.is(schema.properties.commit_sha?.pattern, '^[0-9a-f]{40}$');
  t.false(schema.required.includes('commit_sha'));
  const count = async () => ((await call(alice, 'list_deployments', { limit: 100 })).structuredContent?.deployments as unknown[]).length;
  const before = await count();
  t.is(errorCode(await call(alice, 'redeploy', { service_id: alice.serviceId, commit_sha: 'abc1234' })), 'validation_failed');
  t.is(await count(), before);
  const sha = 'c0ffee'.repeat(6) + 'c0ff';
  const args = { service_id: alice.serviceId, commit_sha: sha, idempotency_key: 'mcp-commit-1' };
  const made = await call(alice, 'redeploy', args);
  t.falsy(made.isError, JSON.stringify(made));
  t.like(made.structuredContent, { kind: 'redeploy', request: { commitSha: sha } });
  // The key covers the commit: the same key for another commit is refused.
  t.is(errorCode(await call(alice, 'redeploy', { ...args, commit_sha: 'f'.repeat(40) })), 'idempotency_key_reused');
  t.is(await count(), before + 1);
});

test.serial('redeploy and rollback of a suspended service: a tool error service_suspended that says to resume it, nothing made', async (t) => {
  const sue = await withEarlierDeploy(await mcpUser('mcpsue'));
  const count = async () => ((await call(sue, 'list_deployments', { limit: 100 })).structuredContent?.deployments as unknown[]).length;
  t.falsy((await call(sue, 'suspend_service', { service_id: sue.serviceId })).isError);
  for (const [name, args] of [['redeploy', { service_id: sue.serviceId }], ['rollback', { service_id: sue.serviceId, deploy_id: sue.deployId }]] as const) {
    const refused = await call(sue, name, args);
    t.is(errorCode(refused), 'service_suspended', JSON.stringify(refused));
    t.regex(refused.structuredContent?.error?.message, /suspended.*resume it first/i, name);
  }
  t.is(await count(), 0);
  t.falsy((await call(sue, 'resume_service', { service_id: sue.serviceId })).isError);
  t.falsy((await call(sue, 'redeploy', { service_id: sue.serviceId })).isError);
  t.is(await count(), 1);
});

test.serial('a session cookie is refused at /mcp; GET is 405', async (t) => {
  const browser = stack.agent();
  await stack.signIn(browser, 'mcpcookie');
  const res = await browser.post('/mcp', { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { headers: { accept: 'application/json, text/event-stream' } });
  t.is(res.status, 401);
  t.is(res.json.error.code, 'bearer_required');
  const get = await new Agent(stack.url, { authorization: `Bearer ${alice.token}` }).get('/mcp');
  t.is(get.status, 405);
});

// A Streamable HTTP client ends a session with DELETE /mcp (a server without sessions MAY answer 405); only
// GET had a 405 of its own: DELETE, PUT and PATCH were the router's plain-text "Method Not Allowed", not
// the app's JSON error, and their Allow named GET and HEAD, which are 405 as well.
test.serial('every method but POST on /mcp is 405 as GET is: the JSON error method_not_allowed, Allow: POST', async (t) => {
  for (const path of ['/mcp', '/mcp/']) {
    for (const method of ['GET', 'DELETE', 'PUT', 'PATCH']) {
      const res = await fetch(`${stack.url}${path}`, { method, headers: { authorization: `Bearer ${alice.token}`, accept: 'application/json, text/event-stream' } });
      t.is(res.status, 405, `${method} ${path}`);
      t.is(res.headers.get('allow'), 'POST', `${method} ${path}`);
      t.regex(res.headers.get('content-type') ?? '', /^application\/json/, `${method} ${path}`);
      t.is(((await res.json()) as { error: { code: string } }).error.code, 'method_not_allowed', `${method} ${path}`);
    }
  }
});

test.serial('the endpoint configured with a trailing slash (/mcp/) takes the bearer token like /mcp', async (t) => {
  // The router matches /mcp/ as /mcp, but bearer auth looked at /mcp alone: an assistant configured with
  // https://…/mcp/ sent its token and was told 401 bearer_required, "takes Authorization: Bearer …, not a session cookie".
  const client = new Client({ name: 'mcp-slash', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${stack.url}/mcp/`), { requestInit: { headers: { authorization: `Bearer ${alice.token}` } } }));
  t.teardown(() => client.close());
  const services = await call({ client }, 'list_services');
  t.deepEqual(services.structuredContent?.services.map((s: { id: string }) => s.id), [alice.serviceId]);
  const theirs = (await call(bob, 'list_deployments')).structuredContent?.deployments[0]?.id as string | undefined;
  if (theirs) t.is(errorCode(await call({ client }, 'get_deployment', { deployment_id: theirs })), 'not_found');
  // Still bearer only: a browser's cookie there is refused as at /mcp.
  const browser = stack.agent();
  await stack.signIn(browser, 'mcpslashcookie');
  const res = await browser.post('/mcp/', { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { headers: { accept: 'application/json, text/event-stream' } });
  t.is(res.status, 401);
  t.is(res.json.error.code, 'bearer_required');
});

test.serial('a token revoked mid-session stops working within the re-check window', async (t) => {
  const carol = await mcpUser('mcpcarol');
  t.falsy((await call(carol, 'list_services')).isError);
  stack.github.revokeToken(carol.token);
  clock.advance(121_000);
  const err = await t.throwsAsync(() => call(carol, 'list_services'));
  t.regex(String(err?.message), /401|github_token_invalid/);
  t.false(String(err?.message).includes(carol.token));
});

test.serial('X-Render-Api-Key (no worker runs here): its session is kept while the deploy is queued and deleted when it is canceled', async (t) => {
  stack.github.addUser({ id: users.nextId(), login: 'keyonly' });
  const token = stack.github.issueToken('keyonly');
  const apiKey = `rnd_keyonly${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'keyonly ws' }] });
  stack.github.addRepo({ owner: 'keyonly', name: 'app', branches: { main: { 'package.json': '{}', 'index.js': '' } } });
  const redis = stack.web.deps.redis;
  const sessions = async () => (await redis.keys(`${stack.config.redisPrefix}:sess:*`)).length;
  const plain = new Agent(stack.url, { authorization: `Bearer ${token}` });
  t.is((await plain.get('/api/session')).status, 200);
  const before = await sessions();
  const dep = await new Agent(stack.url, { authorization: `Bearer ${token}`, 'x-render-api-key': apiKey }).post('/api/render/deploy', { github_repo: 'keyonly/app', project_name: 'keyonly-app' });
  t.is(dep.status, 202, dep.text);
  t.is(await sessions(), before + 1, 'kept for the queued deploy');
  t.is((await plain.get('/api/render/services')).json.error.code, 'render_key_missing', 'the token session never held the key');
  const canceled = await plain.post(`/api/render/deployments/${dep.json.id}/cancel`);
  t.is(canceled.json.status, 'canceled', canceled.text);
  t.is(await sessions(), before, 'deleted with its deploy');
  t.false((await dumpRedis(redis)).includes(apiKey));
});

test.serial('a batch of tool calls is answered with one JSON-RPC response per request, in an array, as the API document says', async (t) => {
  // The Agent checks every answer against GET /api/openapi.json.
  const api = new Agent(stack.url, { authorization: `Bearer ${alice.token}`, accept: 'application/json, text/event-stream' });
  const res = await api.post('/mcp', [1, 2].map((id) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'list_services', arguments: {} } })));
  t.is(res.status, 200, res.text);
  t.deepEqual((res.json as Array<{ id: number }>).map((a) => a.id).sort(), [1, 2]);
});

test.serial('a tool call its own batch cancels is neither answered nor performed', async (t) => {
  const api = new Agent(stack.url, { authorization: `Bearer ${alice.token}`, accept: 'application/json, text/event-stream' });
  const deploy = (id: number, name: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'deploy_repo', arguments: { github_repo: 'mcpalice/app', project_name: name } } });
  const cancel = (id: number) => ({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id } });
  const canceled = await api.post('/mcp', [deploy(41, 'cancel-me'), cancel(41)]);
  t.is(canceled.status, 202, canceled.text);
  // The 202 does not wait for a canceled call's handler: a later call of a batch, handled after it in
  // the same way, is what shows it has run. Its answer comes once its deploy is recorded.
  const controlled = await api.post('/mcp', [deploy(43, 'cancel-me-too'), cancel(43), deploy(44, 'control')]);
  t.is(controlled.status, 200, controlled.text);
  // One answer goes out alone, not in an array (transport.ts, as the SDK's JSON mode answers).
  t.is(controlled.json.id, 44, 'only the call not canceled is answered');
  const names = async () => ((await call(alice, 'list_deployments', { limit: 100 })).structuredContent?.deployments as Array<{ request: { serviceName: string } }>).map((d) => d.request.serviceName);
  const made = await names();
  t.true(made.includes('control'), 'the call after the cancel was made');
  t.false(made.includes('cancel-me') || made.includes('cancel-me-too'), 'the canceled deploys were not made');
});

// A cancellation the transport counted but the SDK's Server did not act on (it skips a falsy requestId, and
// drops a notification that fails its schema) left the call running unanswered: 202, and the deploy made.
test.serial('a batch cancelling request id 0 or "", or with a malformed cancellation: a call is answered exactly when it is made', async (t) => {
  const api = new Agent(stack.url, { authorization: `Bearer ${alice.token}`, accept: 'application/json, text/event-stream' });
  const deploy = (id: number | string, name: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'deploy_repo', arguments: { github_repo: 'mcpalice/app', project_name: name } } });
  const cancel = (params: object) => ({ jsonrpc: '2.0', method: 'notifications/cancelled', params });
  const zero = await api.post('/mcp', [deploy(0, 'cancel-zero'), cancel({ requestId: 0 })]);
  const empty = await api.post('/mcp', [deploy('', 'cancel-empty'), cancel({ requestId: '' })]);
  const malformed = await api.post('/mcp', [deploy(61, 'cancel-malformed'), cancel({ requestId: 61, reason: 5 })]);
  // A later call of the same kind, answered once its deploy is recorded: any call left running before it has run by then.
  const control = await api.post('/mcp', [deploy(62, 'cancel-control')]);
  t.is(control.status, 200, control.text);
  const made = ((await call(alice, 'list_deployments', { limit: 100 })).structuredContent?.deployments as Array<{ request: { serviceName: string } }>).map((d) => d.request.serviceName);
  t.is(zero.status, 202, zero.text);
  t.false(made.includes('cancel-zero'), 'request id 0 was canceled: not made');
  t.is(empty.status, 202, empty.text);
  t.false(made.includes('cancel-empty'), 'request id "" was canceled: not made');
  // Not a cancellation the protocol reads (reason must be a string): the call is made and answered.
  t.is(malformed.status, 200, malformed.text);
  t.is(malformed.json.id, 61);
  t.true(made.includes('cancel-malformed'));
});

test.serial('hostile JSON-RPC at /mcp: refused with a 4xx, never a 5xx', async (t) => {
  const api = new Agent(stack.url, { authorization: `Bearer ${alice.token}`, accept: 'application/json, text/event-stream' });
  const bodies: unknown[] = [{}, [], [{}], { jsonrpc: '2.0' }, { jsonrpc: '1.0', id: 1, method: 'tools/list' }, { jsonrpc: '2.0', id: { a: 1 }, method: 'tools/call' },
    { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'deploy_repo', arguments: 'x' } }, { jsonrpc: '2.0', id: 1, method: '__proto__' },
    { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_services', arguments: { __proto__: { polluted: 1 } } } }];
  for (const body of bodies) {
    const res = await api.post('/mcp', body);
    t.true(res.status < 500, `${JSON.stringify(body)} → ${res.status} ${res.text.slice(0, 200)}`);
  }
  const noAccept = await new Agent(stack.url, { authorization: `Bearer ${alice.token}` }).post('/mcp', { jsonrpc: '2.0', id: 1, method: 'tools/list' });
  t.true(noAccept.status >= 400 && noAccept.status < 500, `without Accept: ${noAccept.status}`);
  const malformed = await api.request('POST', '/mcp', { body: '{"jsonrpc":', headers: { 'content-type': 'application/json' } });
  t.is(malformed.status, 400);
  t.is(({} as Record<string, unknown>).polluted, undefined);
});

test.serial('afterwards: no unhandled error in the web process', (t) => {
  t.deepEqual(stack.logs.filter((l) => l.includes('unhandled error') || l.includes('"level":50')).map((l) => l.slice(0, 300)), []);
});
