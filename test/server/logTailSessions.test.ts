import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_LOG_TAIL } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';
import { openSseAs, sseLogLines } from '../helpers/sse.js';

// One user, two sessions (two browsers), each with a Render key of its own: the tail of a deployment
// reads Render with the key the deployment was made with, whichever stream started following first;
// and when that session signs out, the other session's tab goes on getting lines.

let stack: Stack;
usePipelineStack(test, {
  renderOptions: { manualDeploys: true },
  logTail: QUICK_LOG_TAIL,
}, (p) => { ({ stack } = p); });

async function liveDeployment(login: string) {
  const { agent, apiKey } = await signedInWithKey(stack, login);
  const { id, serviceId } = await deployedLiveByHand(stack, agent, login);
  return { agent, apiKey, id, serviceId };
}

/** The same GitHub user in another browser, with `apiKey` connected. */
async function secondSession(login: string, apiKey: string) {
  const agent = stack.agent();
  await stack.signIn(agent, login);
  const res = await agent.post('/api/render/setup', { api_key: apiKey });
  if (res.status !== 200) throw new Error(`key setup: ${res.status} ${res.text}`);
  return agent;
}

const has = (text: string, m: string) => sseLogLines(text).some((l) => l.message === m);

test('a session on another Render account follows first: the tail reads with the deployment\'s key, every tab gets the lines', async (t) => {
  const { agent: first, id, serviceId } = await liveDeployment('twokeys');
  const otherKey = `rnd_twokeysother${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey: otherKey, workspaces: [{ name: 'other workspace' }] });
  const second = await secondSession('twokeys', otherKey);
  const tabs = [];
  for (const agent of [second, first]) {
    const tab = await openSseAs(agent, `/api/events?logs=${id}`);
    t.teardown(() => tab.close());
    await tab.waitFor((text) => text.includes('retry:'));
    tabs.push(tab);
  }
  stack.render.appendLog(serviceId, 'line one', { type: 'app' });
  await Promise.all(tabs.map((tab) => tab.waitFor((text) => has(text, 'line one'), 15_000)));
  for (const tab of tabs) t.false(/"ended"/.test(tab.text()));
});

test('two sessions on one key: the one whose stream started the tail signs out, the other tab keeps following', async (t) => {
  const { agent: first, apiKey, id, serviceId } = await liveDeployment('twosess');
  const second = await secondSession('twosess', apiKey);
  const tabFirst = await openSseAs(first, `/api/events?logs=${id}`);
  t.teardown(() => tabFirst.close());
  await tabFirst.waitFor((text) => text.includes('retry:'));
  const tabSecond = await openSseAs(second, `/api/events?logs=${id}`);
  t.teardown(() => tabSecond.close());
  await tabSecond.waitFor((text) => text.includes('retry:'));
  stack.render.appendLog(serviceId, 'line one', { type: 'app' });
  await Promise.all([tabFirst, tabSecond].map((tab) => tab.waitFor((text) => has(text, 'line one'), 15_000)));
  t.true((await first.post('/api/auth/logout')).status < 400);
  await tabFirst.waitFor((text) => text.includes('session_ended'), 15_000);
  stack.render.appendLog(serviceId, 'line two', { type: 'app' });
  await tabSecond.waitFor((text) => has(text, 'line two'), 15_000);
  t.is(sseLogLines(tabSecond.text()).filter((l) => l.message.startsWith('line ')).length, 2);
});
