import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_LOG_TAIL } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';
import { openSseAs, sseLogLines } from '../helpers/sse.js';
import { waitUntil } from '../helpers/wait.js';
import { budgetFrom, RENDER_DOCUMENTED_LIMITS } from '../../server/render/budget.js';

// The live tail asks Render for fewer lines after a log read that timed out (logTail.ts, pageLimit), and
// for more again once `pageRegrowMs` (a minute by default, 5 s here) has gone by without another. A tail that is behind (an app printing more
// than a page per read) must get its page size back too, not only one that has caught up: else a single
// slow read leaves it reading small pages for as long as the app keeps printing, ever further behind.

let stack: Stack;
usePipelineStack(test, {
  renderOptions: { manualDeploys: true },
  renderLimits: budgetFrom({ ...RENDER_DOCUMENTED_LIMITS, logs: { limit: 1_000, windowMs: 60_000 } }),
  logTail: { ...QUICK_LOG_TAIL, pageRegrowMs: 5_000 },
}, (p) => { ({ stack } = p); });

test('a tail kept behind by a chatty app asks for full pages again once the regrow time has passed after a read timed out', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'regrow');
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'regrow');
  stack.render.appendLog(r.serviceId, 'first', { type: 'app' });
  // The tail's first read (100 lines) is not answered: the client gives up after 10 s; the tail reads 50.
  const fault = stack.render.setFault({ kind: 'timeout', method: 'GET', route: '/logs', apiKey, query: { limit: '100' }, count: 1 });
  t.teardown(() => stack.render.clearFault(fault));
  const logReads = () => stack.render.calls.filter((c) => c.accountId === accountId && c.route === '/logs');
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === 'first'), 30_000);
  const timedOutAt = Date.now();

  // From now on the app prints 40 lines every 150 ms (about 270 a second): more than reads of 50 lines every
  // 250 ms keep up with, so the tail is never caught up.
  let n = 0;
  const chatty = setInterval(() => { for (let i = 0; i < 40; i++) stack.render.appendLog(r.serviceId, `line ${n++}`, { type: 'app' }); }, 150);
  t.teardown(() => clearInterval(chatty));
  const fullRead = () => logReads().find((c) => c.at > timedOutAt && c.status === 200 && new URLSearchParams(c.query).get('limit') === '100');
  // Bounded only against a hang: the old tail never asked for 100 lines again while behind.
  await waitUntil('a read of 100 lines again', async () => fullRead() ?? (Date.now() - timedOutAt > 45_000 ? 'gave up' : null), 50_000, 100)
    .catch(() => undefined);
  clearInterval(chatty);
  const read = fullRead();
  t.truthy(read, `reads after the timeout asked for ${[...new Set(logReads().filter((c) => c.at > timedOutAt).map((c) => new URLSearchParams(c.query).get('limit')))].join(', ')} lines`);

  // Every line printed reaches the tab, once, in order.
  const last = `line ${n - 1}`;
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === last), 30_000);
  const lines = sseLogLines(tab.text()).map((l) => l.message).filter((m) => m.startsWith('line '));
  t.deepEqual(lines, Array.from({ length: n }, (_, i) => `line ${i}`));
});

// Render pages /logs by time window (docs/render-api.md, "Logs of one deploy"): a page can hold no lines and
// still say there are more (a stretch of the window with none, more after it). That is no read cut by size:
// a tail that took it for one asked for one line per read until the regrow time, crawling behind the app.
test('a log page with no lines that says there are more does not shrink the tail\'s page size', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'emptypage');
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'emptypage');
  stack.render.appendLog(r.serviceId, 'first', { type: 'app' });
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === 'first'), 30_000);

  const logReads = () => stack.render.calls.filter((c) => c.accountId === accountId && c.route === '/logs');
  const from = logReads().length;
  // The tail's next read answers an empty page with more after it; the one after reads as usual.
  const fault = stack.render.setFault({ kind: 'emptyPage', method: 'GET', route: '/logs', apiKey, count: 1 });
  t.teardown(() => stack.render.clearFault(fault));
  await waitUntil('two reads after the empty page', async () => logReads().slice(from).filter((c) => c.status === 200).length >= 2, 30_000, 40);
  for (let i = 0; i < 20; i++) stack.render.appendLog(r.serviceId, `line ${i}`, { type: 'app' });
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === 'line 19'), 30_000);

  const limits = logReads().slice(from).map((c) => new URLSearchParams(c.query).get('limit'));
  t.deepEqual([...new Set(limits)], ['100'], 'every read after the empty page asks for a full page');
  const lines = sseLogLines(tab.text()).map((l) => l.message).filter((m) => m.startsWith('line '));
  t.deepEqual(lines, Array.from({ length: 20 }, (_, i) => `line ${i}`), 'every line once, in order');
});
