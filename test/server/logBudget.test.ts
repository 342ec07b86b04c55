import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey } from '../helpers/pipeline.js';
import { openSseAs, sseLogLines } from '../helpers/sse.js';
import { RENDER_DOCUMENTED_LIMITS } from '../../server/render/budget.js';

// A log tail under a spent budget slows down instead of failing: every line still arrives, and Render
// never sees more log reads than the budget allows (so never a 429). (The panel's side, a page read
// answered 429, is in test/ui/logs.test.ts.)

const LOG_BUDGET = { limit: 2, windowMs: 1_000 };
let stack: Stack;
usePipelineStack(test, {
  renderOptions: { manualDeploys: true },
  renderLimits: { ...RENDER_DOCUMENTED_LIMITS, logs: LOG_BUDGET },
  logTail: { buildIntervalMs: 50, runtimeIntervalMs: 100, settleMs: 100, leaseMs: 3_000 },
}, (p) => ({ stack } = p));

test('a tail polling faster than the budget allows waits for it and still delivers every line once, in order', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'budget');
  addNodeRepo(stack, 'budget', 'app');
  const id = (await agent.post('/api/render/deploy', { github_repo: 'budget/app', project_name: 'budget-app' })).json.id as string;
  let rec: { serviceId?: string; deployId?: string } = {};
  for (let i = 0; i < 300 && !rec.deployId; i++) { rec = (await agent.get(`/api/render/deployments/${id}`)).json; await new Promise((r) => setTimeout(r, 40)); }
  stack.render.advanceDeploy(rec.deployId!);
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  // Once the tail stands at the newest line, a burst of 350 follows (3½ pages at Render's maximum).
  stack.render.appendLog(rec.serviceId!, 'before the burst', { type: 'build' });
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === 'before the burst'));
  for (let i = 0; i < 350; i++) stack.render.appendLog(rec.serviceId!, `burst line ${i}`, { type: 'build' });
  const expected = Array.from({ length: 350 }, (_, i) => `burst line ${i}`);
  await tab.waitFor((text) => sseLogLines(text).filter((l) => l.message.startsWith('burst line ')).length >= 350, 30_000);
  t.deepEqual(sseLogLines(tab.text()).filter((l) => l.message.startsWith('burst line ')).map((l) => l.message), expected);
  t.false(tab.text().includes('event: error'));

  const calls = stack.render.calls.filter((c) => c.accountId === accountId && c.route === '/logs');
  t.is(calls.filter((c) => c.status === 429).length, 0, 'Render never had to refuse a log read');
  // Our budget: at most 2 log reads in any window of a second (it keeps a margin below Render's).
  for (const c of calls) t.true(calls.filter((d) => d.at >= c.at && d.at < c.at + LOG_BUDGET.windowMs).length <= LOG_BUDGET.limit + 1);

});

test('a tail that starts on a long log sends its newest page marked partial (the panel then reads back to its own lines)', async (t) => {
  const { agent } = await signedInWithKey(stack, 'partial');
  addNodeRepo(stack, 'partial', 'app');
  const id = (await agent.post('/api/render/deploy', { github_repo: 'partial/app', project_name: 'partial-app' })).json.id as string;
  let rec: { serviceId?: string; deployId?: string } = {};
  for (let i = 0; i < 300 && !rec.deployId; i++) { rec = (await agent.get(`/api/render/deployments/${id}`)).json; await new Promise((r) => setTimeout(r, 40)); }
  stack.render.advanceDeploy(rec.deployId!);
  for (let i = 0; i < 250; i++) stack.render.appendLog(rec.serviceId!, `early line ${i}`, { type: 'build' });
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  await tab.waitFor((text) => text.includes('event: logs'));
  const first = JSON.parse(tab.text().split('\n\n').find((b) => b.startsWith('event: logs\n'))!.split('\ndata: ')[1]!) as { partial: boolean; lines: Array<{ message: string }> };
  t.true(first.partial);
  t.is(first.lines.length, 100);
  t.is(first.lines[first.lines.length - 1]!.message, 'early line 249');
  // What the panel does on a partial message: pages back through the JSON route to the lines it has.
  const newest = (await agent.get(`/api/render/deployments/${id}/logs?limit=100`)).json;
  const older = (await agent.get(`/api/render/deployments/${id}/logs?limit=100&cursor=${newest.nextCursor}`)).json;
  t.is(older.logs[older.logs.length - 1].message, 'early line 149');
});
