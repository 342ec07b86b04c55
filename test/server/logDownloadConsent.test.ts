import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import type { Agent, AgentResponse } from '../helpers/agent.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';

// A log read through the routes (the text download, a page of the panel) makes several Render calls, each
// after waiting for the key's log budget: a download of 500 pages runs for minutes. The user may withdraw
// the key meanwhile (sign out, clear it, connect another): from the moment that answer arrives, no Render
// call goes out with the withdrawn key, as the live tail and Sentinel stop using it (SECURITY.md). The body
// is sent whole at the end, so the read answers with an error, not a log cut short.

let stack: Stack;
usePipelineStack(test, { renderOptions: { manualDeploys: true } }, (p) => { ({ stack } = p); });

const LOGS_ROUTE = '/logs';
const DEPLOY_ROUTE = '/services/{serviceId}/deploys/{deployId}';

/**
 * A live deployment with runtime lines (a download reads two windows: at least two /logs calls), `path`
 * asked for with the first Render call on `heldRoute` held at Render, then `withdraw`; the answer and the
 * calls made with the deployment's key once the withdrawal was answered (the held one excepted).
 */
async function withdrawnMidRead(t: ExecutionContext, login: string, path: (id: string) => string, heldRoute: string, withdraw: (agent: Agent) => Promise<void>): Promise<{ res: AgentResponse<any>; late: string[] }> {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, login);
  const { id, serviceId } = await deployedLiveByHand(stack, agent, login);
  for (let i = 0; i < 250; i++) stack.render.appendLog(serviceId, `${login} runtime line ${i}`);
  const held = stack.render.holdRequest({ method: 'GET', route: heldRoute, apiKey });
  t.teardown(() => held.release());
  const reading = agent.get(path(id));
  await held.arrived;
  await withdraw(agent);
  const mark = stack.render.calls.length;
  held.release();
  const res = await reading;
  const late = stack.render.calls.slice(mark).filter((c) => c.accountId === accountId && c.route !== heldRoute).map((c) => `${c.method} ${c.route}`);
  return { res, late };
}

const download = (id: string) => `/api/render/deployments/${id}/logs.txt`;

test.serial('signed out while a log download is at Render: no later Render call with that key, and a 401', async (t) => {
  const { res, late } = await withdrawnMidRead(t, 'dlout', download, LOGS_ROUTE, async (agent) => {
    t.is((await agent.post('/api/auth/logout')).status, 200);
  });
  t.deepEqual(late, [], 'Render calls with the key after sign-out');
  t.is(res.status, 401, res.text);
  t.is(res.json.error.code, 'unauthenticated');
});

test.serial('key cleared while a log download is at Render: no later Render call with that key, and render_key_missing', async (t) => {
  const { res, late } = await withdrawnMidRead(t, 'dlclear', download, LOGS_ROUTE, async (agent) => {
    t.is((await agent.post('/api/render/clear-credentials')).status, 200);
  });
  t.deepEqual(late, [], 'Render calls with the cleared key');
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'render_key_missing');
});

test.serial('key replaced while a log download is at Render: no later Render call with the old key, and a 503 to try again', async (t) => {
  const newKey = `rnd_dlreplaced${'n'.repeat(20)}`;
  stack.render.addAccount({ apiKey: newKey, workspaces: [{ name: 'dlreplaced second workspace' }] });
  const { res, late } = await withdrawnMidRead(t, 'dlreplace', download, LOGS_ROUTE, async (agent) => {
    t.is((await agent.post('/api/render/setup', { api_key: newKey })).status, 200);
  });
  t.deepEqual(late, [], 'Render calls with the replaced key');
  t.is(res.status, 503, res.text);
  t.regex(res.json.error.message, /key changed/);
  t.false(res.text.includes('runtime line'), 'no part of the log');
});

test.serial('signed out while a log page reads the deploy: its log read does not go out with that key', async (t) => {
  const { res, late } = await withdrawnMidRead(t, 'pageout', (id) => `/api/render/deployments/${id}/logs`, DEPLOY_ROUTE, async (agent) => {
    t.is((await agent.post('/api/auth/logout')).status, 200);
  });
  t.false(late.includes(`GET ${LOGS_ROUTE}`), `Render calls with the key after sign-out: ${late.join(', ')}`);
  t.is(res.status, 401, res.text);
});

test.serial('a download on a key still held reads the whole log', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'dlkept');
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'dlkept');
  for (let i = 0; i < 250; i++) stack.render.appendLog(serviceId, `dlkept runtime line ${i}`);
  const held = stack.render.holdRequest({ method: 'GET', route: LOGS_ROUTE, apiKey });
  const reading = agent.get(download(id));
  await held.arrived;
  // Another session of the same user signing out does not end this one's consent.
  const other = stack.agent();
  await stack.signIn(other, 'dlkept');
  t.is((await other.post('/api/auth/logout')).status, 200);
  held.release();
  const res = await reading;
  t.is(res.status, 200, res.text);
  t.true(res.text.includes('dlkept runtime line 249'), res.text.slice(-300));
});
