import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';

// A route that changes or reveals something on Render (delete, suspend, a value's reveal, settings) makes
// each of its calls only while the request's session still holds its key. The user may take the key back
// in another tab (sign out, clear it, connect another account's) while the route's first call is at Render:
// that call gets its answer, and nothing more goes out with the key: no delete, suspend or reveal made
// with a key the user withdrew. Before, the route went on with the key it had opened at its start.

let stack: Stack;
usePipelineStack(test, { renderOptions: { manualDeploys: true } }, (p) => { ({ stack } = p); });

const SERVICE_READ = '/services/{serviceId}';

/**
 * `login`'s live service; `call` (a request through the app) held at its first Render call, the service's
 * read; then `withdraw` in another tab; the answer, and the Render calls made with the key after the hold.
 */
async function withdrawnDuring(
  login: string, call: (agent: Agent, serviceId: string) => Promise<{ status: number; json: any; text: string }>, withdraw: (agent: Agent) => Promise<unknown>,
  prepare?: (agent: Agent, serviceId: string) => Promise<void>,
) {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, login);
  const { serviceId } = await deployedLiveByHand(stack, agent, login);
  await prepare?.(agent, serviceId);
  const held = stack.render.holdRequest({ method: 'GET', route: SERVICE_READ, apiKey });
  const answer = call(agent, serviceId);
  await held.arrived;
  await withdraw(agent);
  const mark = stack.render.calls.length;
  held.release();
  const res = await answer;
  const after = stack.render.calls.slice(mark).filter((c) => c.accountId === accountId).map((c) => `${c.method} ${c.route}`);
  return { res, after, serviceId, apiKey };
}

test('a delete whose service read was at Render when the key was cleared deletes nothing', async (t) => {
  const { res, after, serviceId, apiKey } = await withdrawnDuring('kw-delete', (agent, id) => agent.request('DELETE', `/api/render/services/${id}`), (agent) => agent.post('/api/render/clear-credentials'));
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'render_key_missing');
  t.deepEqual(after, [], 'no Render call after the clear was answered');
  const still = await fetch(`${stack.render.url}/services/${serviceId}`, { headers: { authorization: `Bearer ${apiKey}` } });
  t.is(still.status, 200, 'the service is still there');
});

test('a value revealed while the user signs out in another tab is not read from Render nor answered', async (t) => {
  const { res, after } = await withdrawnDuring('kw-reveal', (agent, id) => agent.get(`/api/render/services/${id}/env-vars/SECRET_TOKEN`), (agent) => agent.post('/api/auth/logout'), async (agent, id) => {
    const set = await agent.request('PUT', `/api/render/services/${id}/env-vars/SECRET_TOKEN`, { json: { value: 'reveal-after-logout-7731' } });
    t.is(set.status, 200, set.text);
  });
  t.is(res.status, 401, res.text);
  t.false(res.text.includes('reveal-after-logout-7731'));
  t.deepEqual(after, []);
});

test('a suspend whose service read was at Render when another account\'s key was connected suspends nothing with the old key', async (t) => {
  const other = `rnd_kwsuspendother${'k'.repeat(20)}`;
  stack.render.addAccount({ apiKey: other, workspaces: [{ name: 'kw other workspace' }] });
  const { res, after, serviceId, apiKey } = await withdrawnDuring('kw-suspend', (agent, id) => agent.request('POST', `/api/render/services/${id}/suspend`), (agent) => agent.post('/api/render/setup', { api_key: other }));
  t.is(res.status, 503, res.text);
  t.regex(res.json.error.message, /Render key changed/);
  t.deepEqual(after, []);
  const svc = (await (await fetch(`${stack.render.url}/services/${serviceId}`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as { suspended: string };
  t.is(svc.suspended, 'not_suspended');
});

test('a look-up by name whose list call was at Render when the user signs out reads no deploy with the key and answers 401', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'kw-lookup');
  await deployedLiveByHand(stack, agent, 'kw-lookup');
  const name = 'kw-lookup-app';
  t.is((await agent.get(`/api/render/services/lookup?name=${name}`)).json.services.length, 1, 'found by its name');
  const held = stack.render.holdRequest({ method: 'GET', route: '/services', apiKey });
  const answer = agent.get(`/api/render/services/lookup?name=${name}`);
  await held.arrived;
  t.is((await agent.post('/api/auth/logout')).status, 200);
  const mark = stack.render.calls.length;
  held.release();
  const res = await answer;
  t.is(res.status, 401, res.text);
  t.deepEqual(stack.render.calls.slice(mark).filter((c) => c.accountId === accountId).map((c) => `${c.method} ${c.route}`), [], 'no deploy read after the sign-out was answered');
});
