import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_LOG_TAIL } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';
import { openSseAs, sseLogLines } from '../helpers/sse.js';
import { waitUntil } from '../helpers/wait.js';
import { budgetFrom, RENDER_DOCUMENTED_LIMITS } from '../../server/render/budget.js';

// Render pages /logs by time window (docs/render-api.md, "Logs of one deploy"): a page can hold no lines,
// say there are more, and name the next window past the stretch it found empty (nextStartTime reading
// forward, nextEndTime reading backward). A tail that read again from where it stood got the same empty
// page for the same query, every 250 ms, and showed nothing. The simulator's `emptyPage` fault with
// `next: 'moved'` answers so for every read whose window has a stretch without lines before its lines.

let stack: Stack;
usePipelineStack(test, {
  renderOptions: { manualDeploys: true },
  renderLimits: budgetFrom({ ...RENDER_DOCUMENTED_LIMITS, logs: { limit: 1_000, windowMs: 60_000 } }),
  logTail: QUICK_LOG_TAIL,
}, (p) => { ({ stack } = p); });

const messages = (text: string) => sseLogLines(text).map((l) => l.message).filter((m) => m.startsWith('line '));
const numbered = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${from + i}`);

test('a tail whose first read finds the newest stretch empty reads on from the window Render names: the newest page, then what follows', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'emptyback');
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'emptyback');
  for (let i = 0; i < 150; i++) stack.render.appendLog(r.serviceId, `line ${i}`, { type: 'app' });
  const logReads = () => stack.render.calls.filter((c) => c.accountId === accountId && c.route === '/logs');
  // Every read, backward or forward, answers the stretch before its lines (if any) as an empty page.
  const fault = stack.render.setFault({ kind: 'emptyPage', next: 'moved', method: 'GET', route: '/logs', apiKey });
  t.teardown(() => stack.render.clearFault(fault));
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());

  const arrived = await tab.waitFor((text) => messages(text).includes('line 149'), 15_000).then(() => true, () => false);
  const reads = logReads().length;
  t.true(arrived, `no line reached the tab after ${reads} log reads`);
  // The empty page of the newest stretch, then the newest page (what a panel opening now shows).
  t.true(reads <= 3, `${reads} log reads before the newest page`);
  t.deepEqual(messages(tab.text()), numbered(50, 150), 'the newest page, each line once');

  for (let i = 150; i < 160; i++) stack.render.appendLog(r.serviceId, `line ${i}`, { type: 'app' });
  await tab.waitFor((text) => messages(text).includes('line 159'), 15_000);
  t.deepEqual(messages(tab.text()), numbered(50, 160), 'then each new line once, in order');
});

test('a tail reading forward from where no line is gets past the empty stretch Render names, and delivers the lines after it', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'emptyfwd');
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'emptyfwd');
  const logReads = () => stack.render.calls.filter((c) => c.accountId === accountId && c.route === '/logs');
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  // The tail's first look found nothing yet: it reads forward from the runtime window's start.
  await waitUntil('a forward read', async () => logReads().some((c) => c.status === 200 && new URLSearchParams(c.query).get('direction') === 'forward'), 15_000, 40);

  const fault = stack.render.setFault({ kind: 'emptyPage', next: 'moved', method: 'GET', route: '/logs', apiKey, query: { direction: 'forward' } });
  t.teardown(() => stack.render.clearFault(fault));
  const from = logReads().length;
  for (let i = 0; i < 20; i++) stack.render.appendLog(r.serviceId, `line ${i}`, { type: 'app' });
  const arrived = await tab.waitFor((text) => messages(text).includes('line 19'), 15_000).then(() => true, () => false);
  const reads = logReads().length - from;
  t.true(arrived, `no line reached the tab after ${reads} log reads`);
  t.deepEqual(messages(tab.text()), numbered(0, 20), 'every line once, in order');

  for (let i = 20; i < 30; i++) stack.render.appendLog(r.serviceId, `line ${i}`, { type: 'app' });
  await tab.waitFor((text) => messages(text).includes('line 29'), 15_000);
  t.deepEqual(messages(tab.text()), numbered(0, 30), 'then each new line once, in order');
});
