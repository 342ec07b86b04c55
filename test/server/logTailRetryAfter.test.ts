import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_LOG_TAIL, usePipelineStack } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';
import { openSseAs } from '../helpers/sse.js';

// Render answers the live log tail's reads 429 with a Retry-After: the tail waits as long as Render says,
// not asking again at once. A Retry-After of 25 days went uncapped into setTimeout, which fires after
// 1 ms past 2^31-1 ms: the tail asked Render again and again until the key's log budget ran out.

let stack: Stack;
usePipelineStack(test, { renderOptions: { manualDeploys: true }, logTail: QUICK_LOG_TAIL }, (p) => { ({ stack } = p); });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function tailUnder429(t: any, login: string, retryAfterMs: number): Promise<number> {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, login);
  const { id, serviceId } = await deployedLiveByHand(stack, agent, login);
  stack.render.appendLog(serviceId, 'hello', { type: 'app' });
  const fault = stack.render.setFault({ method: 'GET', route: '/logs', kind: 'status', status: 429, ms: retryAfterMs, apiKey });
  t.teardown(() => stack.render.clearFault(fault));
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  await sleep(4_000);
  const limited = stack.render.calls.filter((c) => c.accountId === accountId && c.route === '/logs' && c.status === 429);
  t.log(`Retry-After ${Math.ceil(retryAfterMs / 1000)} s: ${limited.length} log reads answered 429 in 4 s`);
  return limited.length;
}

test.serial('baseline: Retry-After 60 s, the tail asks once', async (t) => {
  const n = await tailUnder429(t, 'ra60', 60_000);
  t.true(n <= 2, `${n} reads`);
});

test.serial('Retry-After of 25 days (past setTimeout\'s 2^31-1 ms): the tail still waits, no storm', async (t) => {
  const n = await tailUnder429(t, 'ra25d', 2_200_000_000);
  t.true(n <= 2, `the tail asked Render ${n} times in 4 s after it said to wait 25 days`);
});
