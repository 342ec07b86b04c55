import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import { usePipelineStack, QUICK_LOG_TAIL } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';
import { openSseAs } from '../helpers/sse.js';

// A live log tail reads Render with the key of a session following it, asked again at each poll. A poll
// takes several calls (the deploy, the env values and secret files it redacts with — reads Render audits
// as viewed —, the log page). The user may withdraw that key while a poll is at Render (sign out, clear
// the key, connect another): from the moment that answer arrives, no Render call goes out with the
// withdrawn key, as a deploy run and a Sentinel round stop using it (SECURITY.md).

let stack: Stack;
usePipelineStack(test, {
  renderOptions: { manualDeploys: true },
  logTail: QUICK_LOG_TAIL,
}, (p) => { ({ stack } = p); });

const DEPLOY_ROUTE = '/services/{serviceId}/deploys/{deployId}';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    if (cond()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A live deployment's log panel opened, its tail's first poll held at its first Render call (the deploy),
 * then `withdraw`; the calls made with the deployment's key once the withdrawal was answered.
 */
async function withdrawnMidPoll(t: ExecutionContext, login: string, withdraw: (agent: Agent) => Promise<void>): Promise<string[]> {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, login);
  const { id } = await deployedLiveByHand(stack, agent, login);
  const held = stack.render.holdRequest({ method: 'GET', route: DEPLOY_ROUTE, apiKey });
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  await held.arrived;
  const heldCall = stack.render.calls.findLast((c) => c.accountId === accountId && c.route === DEPLOY_ROUTE)!;
  await withdraw(agent);
  const mark = stack.render.calls.length;
  held.release();
  await until('the held call answered', () => heldCall.status !== 0);
  // What the poll would call next goes out at once (env values, secret files, then the log page).
  await sleep(600);
  return stack.render.calls.slice(mark).filter((c) => c.accountId === accountId).map((c) => `${c.method} ${c.route}`);
}

test.serial('signed out while a log tail\'s poll is at Render: no later Render call with that key', async (t) => {
  const late = await withdrawnMidPoll(t, 'tailout', async (agent) => {
    t.is((await agent.post('/api/auth/logout')).status, 200);
  });
  t.deepEqual(late, [], 'Render calls with the key after sign-out');
});

test.serial('key cleared while a log tail\'s poll is at Render: no later Render call with that key', async (t) => {
  const late = await withdrawnMidPoll(t, 'tailclear', async (agent) => {
    t.is((await agent.post('/api/render/clear-credentials')).status, 200);
  });
  t.deepEqual(late, [], 'Render calls with the cleared key');
});

test.serial('key replaced while a log tail\'s poll is at Render: no later Render call with the old key', async (t) => {
  const newKey = `rnd_tailreplaced${'n'.repeat(20)}`;
  stack.render.addAccount({ apiKey: newKey, workspaces: [{ name: 'tailreplaced second workspace' }] });
  const late = await withdrawnMidPoll(t, 'tailreplace', async (agent) => {
    t.is((await agent.post('/api/render/setup', { api_key: newKey })).status, 200);
  });
  t.deepEqual(late, [], 'Render calls with the replaced key');
});
