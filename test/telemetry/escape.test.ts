import test from 'ava';
import { startAnomalyStack, userIdOf, type AnomalyStack } from './support.js';
import { call, connectMcp, errorCode, toolBatch } from '../bearer/support/mcpUsers.js';

// Serial: one manual clock. A blocked or throttled user tries every other way in: another spelling
// of the path, another credential, another method. The gate and the router must agree on what an
// API request is, or a path the router answers is one the gate never looks at.

let s: AnomalyStack;
test.before(async () => { s = await startAnomalyStack(); });
test.after.always(async () => { await s?.close(); });

async function blockedUser(login: string) {
  const agent = s.stack.agent();
  await s.stack.signIn(agent, login);
  const userId = await userIdOf(agent);
  const now = s.clock.now();
  // What the detector writes on a third anomalous minute (test/telemetry/anomaly.test.ts gets there by traffic).
  await s.stack.web.deps.telemetry.store.set(userId, { state: 'blocked', until: now + 30 * 60_000, since: now, strikes: 3, signal: 'requests', observed: 100, threshold: 40, login });
  await s.stack.web.deps.telemetry.guards.sync();
  return { agent, userId, token: s.stack.github.issueToken(login) };
}

const get = async (path: string, headers: Record<string, string>) => {
  const res = await fetch(s.stack.url + path, { headers, redirect: 'manual' });
  return { status: res.status, text: await res.text() };
};

test.serial('a blocked user gets no answer from another spelling of an API path: upper case, mixed case, trailing slash', async (t) => {
  const u = await blockedUser('escaper18');
  const cookie = { cookie: u.agent.cookieHeader() };
  const bearer = { authorization: `Bearer ${u.token}` };
  t.is((await get('/api/session', cookie)).status, 429);
  for (const path of ['/API/session', '/Api/session', '/api/SESSION', '/API/render/my-deployments', '/api/Render/my-deployments', '/API/audit', '/api/session/', '/api/render/my-deployments/']) {
    for (const [how, headers] of [['cookie', cookie], ['bearer', bearer]] as const) {
      const res = await get(path, headers);
      t.not(res.status, 200, `${how} ${path}: ${res.status} ${res.text.slice(0, 80)}`);
      t.false(res.text.includes('escaper18'), `${how} ${path} answers the user's data`);
      t.false(res.text.includes('"deployments"'), `${how} ${path} answers the user's data`);
    }
  }
  for (const method of ['HEAD', 'OPTIONS']) {
    t.is((await fetch(`${s.stack.url}/api/render/my-deployments`, { method, headers: cookie })).status, 429, method);
  }
  t.is((await get('/api/session', bearer)).status, 429, 'a bearer token of the same user is blocked too');
});

test.serial('an MCP tool call is one request: counted once, and a throttled user gets as many tool calls a minute as REST requests', async (t) => {
  const login = 'mcpcount18';
  s.stack.github.addUser({ id: 990001, login });
  const client = await connectMcp(s.stack, s.stack.github.issueToken(login));
  try {
    await s.nextMinute(); // the connection's own requests stay in the minute before
    for (let i = 0; i < 10; i++) t.is(errorCode(await call({ client }, 'list_deployments')), undefined);
    await s.stack.web.deps.telemetry.recorder.flush();
    const minute = Math.floor(s.clock.now() / 60_000);
    const counted = await s.stack.redis.client.hget(s.stack.web.deps.telemetry.keys.minutes(990001, Math.floor(minute / 60)), `${minute % 60}.n`);
    t.is(counted, '10', '10 tool calls are 10 requests, not the /mcp request and its route twice over');

    const now = s.clock.now();
    await s.stack.web.deps.telemetry.store.set(990001, { state: 'throttled', until: now + 10 * 60_000, since: now, strikes: 1, signal: 'requests', observed: 100, threshold: 40, login });
    await s.nextMinute();
    // ANOMALY_THROTTLE_PER_MINUTE is 20 (test/telemetry/support.ts).
    for (let i = 0; i < 20; i++) t.is(errorCode(await call({ client }, 'list_deployments')), undefined, `tool call ${i + 1}`);
    await t.throwsAsync(call({ client }, 'list_deployments'), { message: /rate_limited/ }, 'the 21st is refused');
  } finally {
    await client.close();
  }
});

// Found by probing: only tool calls that ran their route were counted,
// so a POST /mcp of 100 calls whose arguments the tool's schema refuses was one request to the detector and
// to the throttle. Each tool call is one request, whether or not it reaches a route.
test.serial('tool calls that reach no route are requests too: each counted, and a throttled user gets no more of them', async (t) => {
  const login = 'mcpunrouted18';
  const userId = 990002;
  s.stack.github.addUser({ id: userId, login });
  const token = s.stack.github.issueToken(login);
  t.is((await get('/api/session', { authorization: `Bearer ${token}` })).status, 200);
  await s.nextMinute(); // the session's first request stays in the minute before
  const refused = Array.from({ length: 30 }, () => ({ name: 'get_deployment', arguments: { deployment_id: 5 } }));
  const unknown = Array.from({ length: 5 }, () => ({ name: 'no_such_tool', arguments: {} }));
  const first = await toolBatch(s.stack, token, [...refused, ...unknown]);
  t.is(first.status, 200);
  t.deepEqual(first.results.map(errorCode), [...refused.map(() => 'validation_failed'), ...unknown.map(() => 'not_found')]);
  await s.stack.web.deps.telemetry.recorder.flush();
  const minute = Math.floor(s.clock.now() / 60_000);
  const counted = await s.stack.redis.client.hget(s.stack.web.deps.telemetry.keys.minutes(userId, Math.floor(minute / 60)), `${minute % 60}.n`);
  t.is(counted, '35', 'one POST /mcp of 35 tool calls that reach no route is 35 requests');

  const now = s.clock.now();
  await s.stack.web.deps.telemetry.store.set(userId, { state: 'throttled', until: now + 10 * 60_000, since: now, strikes: 1, signal: 'requests', observed: 100, threshold: 40, login });
  await s.nextMinute();
  // ANOMALY_THROTTLE_PER_MINUTE is 20: the first 20 calls are answered, the rest refused as a REST request would be.
  const throttled = await toolBatch(s.stack, token, refused, 100);
  const codes = throttled.results.map(errorCode);
  t.is(codes.filter((c) => c === 'validation_failed').length, 20, JSON.stringify(codes));
  t.is(codes.filter((c) => c === 'rate_limited').length, 10, JSON.stringify(codes));
  const limited = throttled.results.find((r) => errorCode(r) === 'rate_limited');
  t.true(Number(limited?.structuredContent?.error.retryAfterSeconds) > 0, 'says when to ask again');
  t.is((await get('/api/session', { authorization: `Bearer ${token}` })).status, 429, 'the minute\'s allowance is spent for REST too');
});

test.serial('a blocked user\'s X-Render-Api-Key is not checked with Render, nor counted as an invalid key: the block comes first', async (t) => {
  const u = await blockedUser('keyblocked18');
  const apiKey = `rnd_keyblocked18${'k'.repeat(24)}`;
  const account = s.stack.render.addAccount({ apiKey, workspaces: [{ name: 'kb ws' }] });
  const renderCalls = () => s.stack.render.calls.filter((c) => c.accountId === account.id).length;
  const before = renderCalls();
  for (const key of [apiKey, `rnd_wrong${'w'.repeat(28)}`]) {
    const res = await get('/api/render/services', { authorization: `Bearer ${u.token}`, 'x-render-api-key': key });
    t.is(res.status, 429, res.text);
    t.regex(res.text, /account_temporarily_blocked/);
  }
  t.is(renderCalls(), before, 'no call to Render with the key');
  const own = await s.stack.web.deps.audit.listForUser(u.userId, { limit: 50 });
  t.false(own.entries.some((e) => e.action === 'render_key_invalid'), 'no invalid-key event');

  // Throttled with this minute's allowance (20) spent: the same.
  const now = s.clock.now();
  await s.stack.web.deps.telemetry.store.set(u.userId, { state: 'throttled', until: now + 600_000, since: now, strikes: 1, signal: 'requests', observed: 60, threshold: 40, login: 'keyblocked18' });
  await s.nextMinute();
  for (let i = 0; i < 20; i++) t.is((await get('/api/session', { authorization: `Bearer ${u.token}` })).status, 200);
  const throttled = await get('/api/render/services', { authorization: `Bearer ${u.token}`, 'x-render-api-key': `rnd_wrong${'w'.repeat(28)}` });
  t.regex(throttled.text, /rate_limited/);
  t.false((await s.stack.web.deps.audit.listForUser(u.userId, { limit: 50 })).entries.some((e) => e.action === 'render_key_invalid'));
});
