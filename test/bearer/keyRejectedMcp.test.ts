import test from 'ava';
import { usePipelineStack, QUICK_PHASES } from '../helpers/pipelineStack.js';
import type { Stack } from '../helpers/stack.js';
import { Agent } from '../helpers/agent.js';
import { addNodeRepo, waitFinished } from '../helpers/pipeline.js';
import { call, connectMcp, errorCode, toolBatch } from './support/mcpUsers.js';

// Render refusing a key (401) on bearer requests: a token session's stored key, a per-request
// X-Render-Api-Key, MCP tool calls. The mark must land on the token session whose key was refused, never
// on the same user's other sessions (cookie, another token) or another user's; MCP reports what REST does.

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

let nextId = 98_000;
interface TokenUser { login: string; token: string; apiKey: string; agent: Agent; userId: number }
async function tokenUser(login: string, opts: { key?: string } = {}): Promise<TokenUser> {
  const userId = nextId++;
  stack.github.addUser({ id: userId, login });
  const token = stack.github.issueToken(login);
  const apiKey = opts.key ?? `rnd_${login.replace(/[^A-Za-z0-9]/g, '')}${'m'.repeat(24)}`;
  if (!opts.key) stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  const agent = new Agent(stack.url, { authorization: `Bearer ${token}` });
  const setup = await agent.post('/api/render/setup', { api_key: apiKey });
  if (setup.status !== 200) throw new Error(`setup ${setup.status} ${setup.text}`);
  return { login, token, apiKey, agent, userId };
}

test.serial('MCP list_services meeting the 401 marks the token session; REST and MCP say the same; the user\'s cookie session and other token are not marked', async (t) => {
  const u = await tokenUser('pkmcp-a');
  // The same user in a browser, with the same key, and a second token of theirs, with the same key too.
  const browser = stack.agent();
  await stack.signIn(browser, u.login, { id: u.userId });
  t.is((await browser.post('/api/render/setup', { api_key: u.apiKey })).status, 200);
  const token2 = stack.github.issueToken(u.login);
  const second = new Agent(stack.url, { authorization: `Bearer ${token2}` });
  t.is((await second.post('/api/render/setup', { api_key: u.apiKey })).status, 200);
  // Another user (their own key) untouched.
  const other = await tokenUser('pkmcp-other');

  const client = await connectMcp(stack, u.token);
  t.teardown(() => client.close());
  stack.render.revokeKey(u.apiKey);
  const tool = await call({ client }, 'list_services');
  t.is(errorCode(tool), 'render_key_invalid', JSON.stringify(tool));
  const rest = await second.get('/api/render/services'); // a REST call, on the second token's session: marks that one
  t.is(rest.status, 400);
  t.is(rest.json.error.code, 'render_key_invalid');
  t.is(tool.structuredContent?.error?.message, rest.json.error.message, 'the same words over MCP and REST');

  const status = await u.agent.get('/api/render/status');
  t.false(status.json.verified, 'the token session whose tool call met the refusal says so');
  t.is(typeof status.json.rejectedAt, 'string');
  t.deepEqual((await u.agent.get('/api/session')).json.render, status.json);
  t.is(typeof (await second.get('/api/render/status')).json.rejectedAt, 'string', 'the second token\'s own REST refusal marked it');
  const b = await browser.get('/api/render/status');
  t.true(b.json.verified, 'the cookie session (no call of its own refused) is not marked');
  t.false('rejectedAt' in b.json);
  t.true((await other.agent.get('/api/render/status')).json.verified, 'another user is not marked');
});

test.serial('a batch of tool calls all refused: one mark, its time the first', async (t) => {
  const u = await tokenUser('pkmcp-batch');
  stack.render.revokeKey(u.apiKey);
  const { status, results } = await toolBatch(stack, u.token, [{ name: 'list_services' }, { name: 'list_services' }, { name: 'list_services' }]);
  t.is(status, 200);
  for (const r of results) t.is(errorCode(r), 'render_key_invalid', JSON.stringify(r));
  const first = (await u.agent.get('/api/render/status')).json.rejectedAt;
  t.is(typeof first, 'string');
  await toolBatch(stack, u.token, [{ name: 'list_services' }], 10);
  t.is((await u.agent.get('/api/render/status')).json.rejectedAt, first);
});

test.serial('X-Render-Api-Key refused by Render mid-request marks nothing: not the token session, which holds another key', async (t) => {
  const u = await tokenUser('pkmcp-hdr');
  const perRequest = `rnd_pkmcphdrci${'c'.repeat(24)}`;
  stack.render.addAccount({ apiKey: perRequest, workspaces: [{ name: 'ci ws' }] });
  // Checked with Render (GET /owners) first, then revoked before the route's own call (the simulator
  // judges the key before a hold, so the check held at Render passes and the call after it is refused).
  const held = stack.render.holdRequest({ method: 'GET', route: '/owners', apiKey: perRequest });
  const res = u.agent.get('/api/render/services', { headers: { 'x-render-api-key': perRequest } });
  await held.arrived;
  stack.render.revokeKey(perRequest);
  held.release();
  const answer = await res;
  t.is(answer.json.error?.code, 'render_key_invalid', answer.text);
  const status = await u.agent.get('/api/render/status');
  t.true(status.json.verified, 'the token session\'s own key was not refused');
  t.false('rejectedAt' in status.json);
  t.is(status.json.keyHint, `rnd_...${u.apiKey.slice(-4)}`);
  t.is((await u.agent.get('/api/render/services')).status, 200);
});

test.serial('an MCP tool call with X-Render-Api-Key meeting the 401 marks nothing', async (t) => {
  const u = await tokenUser('pkmcp-hdrmcp');
  const perRequest = `rnd_pkmcphdrmcpci${'c'.repeat(24)}`;
  stack.render.addAccount({ apiKey: perRequest, workspaces: [{ name: 'ci ws' }] });
  const held = stack.render.holdRequest({ method: 'GET', route: '/owners', apiKey: perRequest });
  const batch = fetch(`${stack.url}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${u.token}`, 'x-render-api-key': perRequest, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
    body: JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_services' } }]),
  });
  await held.arrived;
  stack.render.revokeKey(perRequest);
  held.release();
  const res = await batch;
  const raw: unknown = await res.json();
  const body = (Array.isArray(raw) ? raw : [raw]) as Array<{ result?: { structuredContent?: { error?: { code?: string } } } }>;
  t.is(body[0]?.result?.structuredContent?.error?.code, 'render_key_invalid', JSON.stringify(body));
  const status = await u.agent.get('/api/render/status');
  t.true(status.json.verified);
  t.false('rejectedAt' in status.json);
});

test.serial('MCP deploy_repo on a revoked key: the worker\'s 401 marks the token session', async (t) => {
  const u = await tokenUser('pkmcp-deploy');
  addNodeRepo(stack, u.login, 'app');
  const client = await connectMcp(stack, u.token);
  t.teardown(() => client.close());
  stack.render.revokeKey(u.apiKey);
  const deployed = await call({ client }, 'deploy_repo', { github_repo: `${u.login}/app`, project_name: 'pkmcp-deploy-app' });
  t.falsy(deployed.isError, JSON.stringify(deployed));
  const ended = await waitFinished(u.agent, deployed.structuredContent?.id as string);
  t.is(ended.status, 'credentials_revoked');
  const status = await u.agent.get('/api/render/status');
  t.is(typeof status.json.rejectedAt, 'string');
});

test.serial('a deploy started with X-Render-Api-Key ending on Render\'s 401 leaves the token session unmarked and no key session behind', async (t) => {
  const u = await tokenUser('pkmcp-cideploy');
  addNodeRepo(stack, u.login, 'app');
  const perRequest = `rnd_pkmcpcideployci${'c'.repeat(24)}`;
  stack.render.addAccount({ apiKey: perRequest, workspaces: [{ name: 'ci ws' }] });
  const sessionsBefore = (await stack.redis.client.keys(`${stack.redis.prefix}:sess:*`)).length;
  // Revoked after the header's check, before the worker's first Render call.
  const held = stack.render.holdRequest({ method: 'GET', route: '/owners', apiKey: perRequest });
  const deploy = u.agent.post('/api/render/deploy', { github_repo: `${u.login}/app`, project_name: 'pkmcp-ci-app' }, { headers: { 'x-render-api-key': perRequest } });
  await held.arrived;
  held.release();
  const res = await deploy;
  t.is(res.status, 202, res.text);
  stack.render.revokeKey(perRequest);
  const ended = await waitFinished(u.agent, res.json.id);
  t.is(ended.status, 'credentials_revoked', JSON.stringify(ended));
  const status = await u.agent.get('/api/render/status');
  t.true(status.json.verified, 'the token session holds another key');
  t.false('rejectedAt' in status.json);
  for (let i = 0; i < 50 && (await stack.redis.client.keys(`${stack.redis.prefix}:sess:*`)).length > sessionsBefore; i++) await new Promise((r) => setTimeout(r, 100));
  t.is((await stack.redis.client.keys(`${stack.redis.prefix}:sess:*`)).length, sessionsBefore, 'the key session is gone (not kept alive by its mark)');
});
