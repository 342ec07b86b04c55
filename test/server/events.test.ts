import test from 'ava';
import Koa from 'koa';
import type { AddressInfo } from 'node:net';
import type { Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import { openSse } from '../../server/events/sse.js';
import { useScannedStack } from '../helpers/secretScan.js';
import { openSseStream } from '../helpers/sse.js';

// GET /api/events: each signed-in user gets their own deployment updates over SSE, fanned out from
// one Redis subscriber per web process.

let stack: Stack;
// End state of every test above: no Render key or GitHub token anywhere.
useScannedStack(test, {}, (s) => ({ stack } = s));

const openEvents = (url: string, headers: Record<string, string> = {}) => openSseStream(url, headers, 5_000);
const eventsOf = (agent: Agent) => openEvents(`${stack.url}/api/events`, { cookie: agent.cookieHeader() });

/** Parsed `event: deployment` messages in a stream's text. */
function deploymentEvents(text: string): Array<{ id: string; status: string }> {
  return text.split('\n\n').filter((block) => block.startsWith('event: deployment\n')).map((block) => JSON.parse(block.split('\ndata: ')[1]!));
}

async function tenant(name: string) {
  const apiKey = `rnd_${name.padEnd(24, 'x')}`;
  stack.render.addAccount({ apiKey });
  const agent = stack.agent();
  await stack.signIn(agent, name);
  const setup = await agent.post('/api/render/setup', { api_key: apiKey });
  if (setup.status !== 200) throw new Error(`setup: ${setup.status}`);
  return agent;
}

async function deploy(agent: Agent, name: string): Promise<string> {
  const res = await agent.post('/api/render/deploy', { github_repo: `acme/${name}`, project_name: name });
  if (res.status !== 202) throw new Error(`deploy: ${res.status} ${res.text}`);
  return res.json.id as string;
}

test('a signed-in client receives its own deployment updates, and only its own', async (t) => {
  const ada = await tenant('sse-ada');
  const bob = await tenant('sse-bob');
  const adaStream = await eventsOf(ada);
  const bobStream = await eventsOf(bob);
  t.teardown(() => { adaStream.close(); bobStream.close(); });
  t.is(adaStream.status, 200);
  t.regex(adaStream.headers.get('content-type')!, /^text\/event-stream/);
  t.is(adaStream.headers.get('cache-control'), 'no-store');
  t.is(adaStream.headers.get('x-accel-buffering'), 'no');
  await Promise.all([adaStream.waitFor((s) => s.startsWith('retry: 3000\n\n')), bobStream.waitFor((s) => s.startsWith('retry: 3000\n\n'))]);

  const adaDeploy = await deploy(ada, 'ada-app');
  await stack.web.deps.deployments.transition(adaDeploy, 'verifying', 'orchestrator');
  const text = await adaStream.waitFor((s) => deploymentEvents(s).some((e) => e.status === 'verifying'));
  t.deepEqual(deploymentEvents(text).map((e) => [e.id, e.status]), [[adaDeploy, 'queued'], [adaDeploy, 'verifying']]);
  t.regex(text, /event: deployment\ndata: \{"type":"deployment","id":"dpl-[0-9a-z]{20}","status":"verifying","updatedAt":"[^"]+"\}\n\n/);

  // Published after Ada's: if Bob's stream carried Ada's channel, her events would arrive first.
  const bobDeploy = await deploy(bob, 'bob-app');
  await stack.web.deps.deployments.transition(bobDeploy, 'detecting', 'orchestrator');
  const bobText = await bobStream.waitFor((s) => deploymentEvents(s).some((e) => e.status === 'detecting'));
  t.deepEqual(deploymentEvents(bobText).map((e) => e.id), [bobDeploy, bobDeploy]);
  t.false(bobText.includes(adaDeploy));
  t.false(adaStream.text().includes(bobDeploy));
});

test('several tabs of one user share one Redis subscription; closing them cleans up', async (t) => {
  const cy = await tenant('sse-cy');
  const tabs = await Promise.all([eventsOf(cy), eventsOf(cy), eventsOf(cy)]);
  t.teardown(() => { for (const tab of tabs) tab.close(); });
  await Promise.all(tabs.map((tab) => tab.waitFor((s) => s.startsWith('retry:'))));
  const userId = (await cy.get('/api/session')).json.user.id as number;
  const channel = stack.web.deps.deployments.keys.channel(userId);
  const numsub = async () => Number(((await stack.redis.client.pubsub('NUMSUB', channel)) as [string, number])[1]);
  t.is(await numsub(), 1, 'one subscription for three streams');

  const id = await deploy(cy, 'cy-app');
  await Promise.all(tabs.map((tab) => tab.waitFor((s) => s.includes(id))));

  for (const tab of tabs) tab.close();
  // Wait (bounded) for the server to notice the disconnects.
  for (let i = 0; i < 200 && (await numsub()) > 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.is(await numsub(), 0, 'the channel is unsubscribed when the last tab leaves');
});

// A page that reopens its stream lets the old one go once that has delivered the new one's marker
// (web/assets/live.js, server/events/handover.ts): the marker comes to the new stream first, and out of
// every stream of the user after what was published before the new one subscribed. The new stream
// answers (the page's open) only once subscribed: what is published from then on reaches it.
test('a new stream names its marker first; the user\'s streams deliver it after what was published before', async (t) => {
  const eve = await tenant('sse-eve');
  const old = await eventsOf(eve);
  t.teardown(() => old.close());
  await old.waitFor((s) => s.includes('event: stream\n'));
  const id = await deploy(eve, 'eve-app');
  await stack.web.deps.deployments.transition(id, 'verifying', 'orchestrator');

  const fresh = await eventsOf(eve);
  t.teardown(() => fresh.close());
  await stack.web.deps.deployments.transition(id, 'detecting', 'orchestrator');
  const freshText = await fresh.waitFor((s) => deploymentEvents(s).some((e) => e.status === 'detecting'));
  const marker = /^retry: 3000\n\nevent: stream\ndata: \{"type":"stream","marker":"([A-Za-z0-9_-]{16})"\}\n\n/.exec(freshText)?.[1];
  if (!marker) { t.fail(`no marker first: ${freshText.slice(0, 200)}`); return; }
  const subscribed = `event: subscribed\ndata: {"type":"subscribed","marker":"${marker}"}\n\n`;
  t.deepEqual(deploymentEvents(freshText).map((e) => e.status), ['detecting'], 'published after its open, not before');
  t.true(freshText.includes(subscribed), 'its own marker comes to it too');

  const oldText = await old.waitFor((s) => s.includes(subscribed));
  const before = oldText.slice(0, oldText.indexOf(subscribed));
  t.deepEqual(deploymentEvents(before).map((e) => e.status), ['queued', 'verifying'], 'what was published before the new stream subscribed came first');
});

test('401 without a session; the stream is not opened', async (t) => {
  const res = await fetch(`${stack.url}/api/events`);
  t.is(res.status, 401);
  t.deepEqual(await res.json(), { error: { code: 'unauthenticated', message: 'Sign in with GitHub first.' } });
  const forged = await fetch(`${stack.url}/api/events`, { headers: { cookie: 'sid=forged; sid.sig=nope' } });
  t.is(forged.status, 401);
});

test('too many streams for one user on one process → 429', async (t) => {
  const dee = await tenant('sse-dee');
  const streams = await Promise.all(Array.from({ length: 10 }, () => eventsOf(dee)));
  t.teardown(() => { for (const s of streams) s.close(); });
  t.true(streams.every((s) => s.status === 200));
  const extra = await fetch(`${stack.url}/api/events`, { headers: { cookie: dee.cookieHeader() } });
  t.is(extra.status, 429);
  t.truthy(extra.headers.get('retry-after'));
});

test('the SSE writer: retry line, keepalive pings (an event the page sees, naming the interval), ends when no longer allowed', async (t) => {
  let allowed = true;
  let closedCalls = 0;
  const app = new Koa();
  app.use(async (ctx) => {
    const stream = openSse(ctx, { keepAliveMs: 30, retryMs: 1234, stillAllowed: async () => allowed });
    stream.onClose(() => { closedCalls++; });
    stream.send('deployment', '{"id":"x"}');
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  t.teardown(() => { server.closeAllConnections(); server.close(); });
  const client = await openEvents(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  const text = await client.waitFor((s) => (s.match(/event: ping\ndata: 30\n\n/g) ?? []).length >= 2);
  t.false(text.includes(': keepalive'), 'no comment: EventSource never shows one to the page');
  t.true(text.startsWith('retry: 1234\n\nevent: deployment\ndata: {"id":"x"}\n\n'));
  allowed = false;
  await t.throwsAsync(client.waitFor(() => false), { message: /stream ended/ });
  t.is(closedCalls, 1);
});
