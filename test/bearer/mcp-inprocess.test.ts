import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { Agent } from '../helpers/agent.js';
import { waitUntil } from '../helpers/wait.js';
import { call, connectMcp, errorCode, mcpUsers, type McpUser } from './support/mcpUsers.js';

// A tool call runs its REST route in-process (server/mcp/dispatch.ts), not over loopback HTTP: what the
// route enforces must hold exactly as before — its rate limit, its audit entries with the caller's
// address, tenant scoping, the secret rules, and a session ended between two calls. TRUST_PROXY is on,
// so X-Forwarded-For is the caller's address, and it must reach the route's audit entry.
let stack: Stack;
const users = mcpUsers(() => stack, 8000);
const LIFECYCLE = { points: 2, durationSec: 600 };
const IP = '198.51.100.7';
const asIp = { 'x-forwarded-for': IP };

test.before(async () => {
  stack = await startStack({ env: { TRUST_PROXY: 'true' }, appOptions: { security: { limits: { lifecycle: LIFECYCLE } } } });
  // Limits count in the in-memory insurance limiter until the web process's Redis is ready (by design).
  for (let i = 0; i < 100 && (await fetch(`${stack.url}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 20));
});
test.after.always(async () => { await stack?.close(); });

const rest = (u: McpUser) => new Agent(stack.url, { authorization: `Bearer ${u.token}`, ...asIp });
type Entry = { action: string; outcome: string; detail: Record<string, unknown> };
const auditOf = async (u: McpUser) => (await rest(u).get('/api/audit?limit=100')).json.entries as Entry[];

test.serial('the route\'s own rate limit: its 429 is a tool error with its message, counted with the REST calls', async (t) => {
  const u = await users.create('ipliz', asIp);
  for (let i = 0; i < LIFECYCLE.points; i++) t.is(errorCode(await call(u, 'cancel_deployment', { deployment_id: `dpl-none-${i}` })), 'not_found');
  const limited = await call(u, 'cancel_deployment', { deployment_id: 'dpl-none-x' });
  t.is(errorCode(limited), 'rate_limited', JSON.stringify(limited));
  const viaRest = await rest(u).post('/api/render/deployments/dpl-none-y/cancel');
  t.is(viaRest.status, 429, 'the tool calls spent the same limit');
  t.is(limited.structuredContent?.error.message, viaRest.json.error.message);
  const audit = await auditOf(u);
  t.true(audit.some((e) => e.action === 'mcp_tool' && e.outcome === 'failure' && e.detail.tool === 'cancel_deployment' && e.detail.reason === 'rate_limited'));
  // Other limits are untouched: a read still answers.
  t.falsy((await call(u, 'list_services')).isError);
});

// The route's 429 (and 409 idempotency_in_progress, Render's or the key budget's 429) says when to ask
// again in its Retry-After header, which a tool result has no place for: an assistant was told "Wait a
// moment" and nothing more, where a REST client is told the number of seconds.
test.serial('a refusal with Retry-After carries it in the tool error as retryAfterSeconds', async (t) => {
  const u = await users.create('ipretry', asIp);
  for (let i = 0; i < LIFECYCLE.points; i++) t.is(errorCode(await call(u, 'cancel_deployment', { deployment_id: `dpl-none-${i}` })), 'not_found');
  const limited = await call(u, 'cancel_deployment', { deployment_id: 'dpl-none-x' });
  t.is(errorCode(limited), 'rate_limited', JSON.stringify(limited));
  const viaRest = await rest(u).post('/api/render/deployments/dpl-none-y/cancel');
  const header = Number(viaRest.headers.get('retry-after'));
  t.true(header > 0, 'the REST answer says when');
  const seconds = limited.structuredContent?.error.retryAfterSeconds as number;
  t.true(Number.isInteger(seconds) && seconds > 0 && Math.abs(seconds - header) <= 2, JSON.stringify(limited));
  t.is(JSON.parse((limited as { content: Array<{ text: string }> }).content[0]!.text).error.retryAfterSeconds, seconds, 'the text content says it too');
  // An error without the header has no such field.
  t.false('retryAfterSeconds' in (await call(u, 'get_deployment', { deployment_id: 'dpl-none-z' })).structuredContent!.error);
});

test.serial('audit: the route\'s entries and mcp_tool, with the caller\'s address and the route\'s template', async (t) => {
  const u = await users.create('ipaudit', asIp);
  const deployed = await call(u, 'deploy_repo', { github_repo: `${u.login}/app`, project_name: 'audited-app' });
  t.falsy(deployed.isError, JSON.stringify(deployed));
  const id = deployed.structuredContent?.id as string;
  t.is((await call(u, 'cancel_deployment', { deployment_id: id })).structuredContent?.status, 'canceled');
  const audit = await auditOf(u);
  const requested = audit.find((e) => e.action === 'deploy_requested' && e.detail.deploymentId === id);
  t.like(requested?.detail, { ip: IP, method: 'POST', route: '/api/render/deploy' }, JSON.stringify(requested));
  const canceled = audit.find((e) => e.action === 'lifecycle' && e.detail.deploymentId === id);
  t.like(canceled?.detail, { ip: IP, method: 'POST', route: '/api/render/deployments/:id/cancel', lifecycleAction: 'cancel' }, JSON.stringify(canceled));
  for (const tool of ['deploy_repo', 'cancel_deployment']) {
    const entry = audit.find((e) => e.action === 'mcp_tool' && e.detail.tool === tool);
    t.like(entry, { outcome: 'success', detail: { ip: IP, route: '/mcp' } }, tool);
  }
  // The route saw the caller's user agent, not one of its own.
  t.truthy(requested?.detail.uaHash);
  t.is(requested?.detail.uaHash, audit.find((e) => e.action === 'mcp_tool')?.detail.uaHash);
});

test.serial('someone else\'s ids are not found, with the REST answer\'s words, and nothing changes', async (t) => {
  const owner = await users.create('ipowner', asIp);
  const other = await users.create('ipother', asIp);
  const id = (await call(owner, 'deploy_repo', { github_repo: `${owner.login}/app`, project_name: 'owned-app' })).structuredContent?.id as string;
  t.truthy(id);
  const got = await call(other, 'get_deployment', { deployment_id: id });
  t.is(errorCode(got), 'not_found');
  const viaRest = await rest(other).get(`/api/render/deployments/${id}`);
  t.is(viaRest.status, 404);
  t.is(got.structuredContent?.error.message, viaRest.json.error.message);
  t.is(errorCode(await call(other, 'cancel_deployment', { deployment_id: id })), 'not_found');
  t.is(errorCode(await call(other, 'suspend_service', { service_id: owner.serviceId })), 'not_found');
  t.is((await call(owner, 'get_deployment', { deployment_id: id })).structuredContent?.status, 'queued', 'still queued');
  t.is((await call(owner, 'list_services')).structuredContent?.services[0].suspended, false);
});

test.serial('no secret in any tool answer or log line: not the token, the Render key or an env value', async (t) => {
  const u = await users.create('ipsecret', asIp);
  const envValue = 'sEcReT-value-from-mcp-8817';
  const answers = [
    await call(u, 'deploy_repo', { github_repo: `${u.login}/app`, project_name: 'secret-app', env_vars: { API_TOKEN: envValue } }),
    await call(u, 'list_services'), await call(u, 'list_deployments'), await call(u, 'detect_stack', { github_repo: `${u.login}/app` }),
  ];
  const id = answers[0]!.structuredContent?.id as string;
  answers.push(await call(u, 'get_deployment', { deployment_id: id }), await call(u, 'get_deployment_logs', { deployment_id: id }));
  answers.push(await call(u, 'deploy_repo', { github_repo: `${u.login}/app`, project_name: 'Not Valid!', env_vars: { API_TOKEN: envValue } }));
  t.is(errorCode(answers.at(-1)!), 'validation_failed');
  const seen = JSON.stringify(answers) + stack.logs.join('\n');
  for (const secret of [u.token, u.apiKey, envValue]) t.false(seen.includes(secret), `${secret.slice(0, 8)}… leaked`);
});

test.serial('signed out between two tool calls: the next one runs on no part of the ended session', async (t) => {
  const u = await users.create('iplogout', asIp);
  t.is((await call(u, 'list_services')).structuredContent?.services.length, 1);
  const out = await rest(u).post('/api/auth/logout');
  t.is(out.status, 200, out.text);
  // Same MCP client, same token: a fresh token session, without the key the ended one held.
  const after = await call(u, 'list_services');
  t.is(errorCode(after), 'render_key_missing', JSON.stringify(after));
  t.false(JSON.stringify(after).includes(u.apiKey));
});

test.serial('X-Render-Api-Key on /mcp: the tools run on that request\'s key session, which ends with the request', async (t) => {
  const login = 'ipkeyonly';
  stack.github.addUser({ id: users.nextId(), login });
  const token = stack.github.issueToken(login);
  const apiKey = `rnd_${login}${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  const sessions = async () => (await stack.web.deps.redis.keys(`${stack.config.redisPrefix}:sess:*`)).length;
  t.is(errorCode(await call({ client: await connectMcp(stack, token) }, 'list_services')), 'render_key_missing');
  const before = await sessions();
  const withKey = { client: await connectMcp(stack, token, { 'x-render-api-key': apiKey }) };
  const listed = await call(withKey, 'list_services');
  t.falsy(listed.isError, JSON.stringify(listed));
  t.deepEqual(listed.structuredContent?.services, []);
  // /mcp writes its answer itself, so the key session is discarded just after the client has it.
  t.true(await waitUntil('the key session discarded', async () => (await sessions()) === before, 10_000, 20), 'no key session outlives its request');
  t.false(JSON.stringify(listed).includes(apiKey));
});

test.serial('afterwards: no unhandled error in the web process', (t) => {
  t.deepEqual(stack.logs.filter((l) => l.includes('unhandled error') || l.includes('"level":50')).map((l) => l.slice(0, 300)), []);
});
