import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_LOG_TAIL } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';
import { openSseAs, sseLogLines } from '../helpers/sse.js';
import { budgetFrom, RENDER_DOCUMENTED_LIMITS } from '../../server/render/budget.js';
import { MAX_DOWNLOAD_CHARS, MAX_LINE_CHARS } from '../../server/deployments/logs.js';

// An app that prints 1 MB lines: a page of 100 such lines is more than the client takes in one
// answer (32 MiB). The log stays readable (fewer lines per Render read), and each line the panel
// gets is cut to a size a browser and the Redis channel carry easily; the secret is gone first.

const SECRET = 'tok_live_bigline_secret_42';
let stack: Stack;
usePipelineStack(test, {
  renderOptions: { manualDeploys: true },
  renderLimits: budgetFrom({ ...RENDER_DOCUMENTED_LIMITS, logs: { limit: 1_000, windowMs: 60_000 } }),
  logTail: QUICK_LOG_TAIL,
}, (p) => { ({ stack } = p); });

test('40 lines of 1 MB: the page, the live tail and the download all reach the line after them', async (t) => {
  const { agent } = await signedInWithKey(stack, 'big');
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'big', { env_vars: { API_TOKEN: SECRET } });
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  await tab.waitFor((text) => text.includes('retry:'));
  // The secret sits across the point where the line is cut.
  const big = (i: number) => `L${i} ${'x'.repeat(MAX_LINE_CHARS - 10)}${SECRET}${'y'.repeat(1_000_000)}`;
  for (let i = 0; i < 40; i++) stack.render.appendLog(r.serviceId, big(i), { type: 'app' });
  stack.render.appendLog(r.serviceId, 'END', { type: 'app' });

  // Bounded only against a hang (below ava's 120 s): the 40 MB take 17 s alone, 26–56 s beside other suites.
  // The CI runs at load 12 (2026-12-03) that got no line at all in 60 s, then in 110 s, were not slow but
  // stuck: each poll's reads outlasted the 3 s lease, and a poll was dropped whenever its lease lapsed, so
  // the tail read the same page again and again (logTailLease.test.ts, 'every log read outlasts the lease').
  await tab.waitFor((text) => text.includes('"message":"END"'), 110_000);
  const live = sseLogLines(tab.text());
  t.true(live.filter((l) => l.message.startsWith('L')).every((l) => l.message.length < MAX_LINE_CHARS + 100));

  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  t.is(page.status, 200);
  const lines = page.json.logs as Array<{ message: string }>;
  t.is(lines.at(-1)?.message, 'END');
  t.true(lines.filter((l) => l.message.startsWith('L')).every((l) => l.message.length < MAX_LINE_CHARS + 100 && l.message.endsWith('characters cut]')));
  const txt = await agent.get(`/api/render/deployments/${id}/logs.txt`);
  t.is(txt.status, 200);
  t.true(txt.text.includes(' END\n'));
  for (const text of [tab.text(), page.text, txt.text]) t.false(text.includes(SECRET) || text.includes(SECRET.slice(0, 6)));
});

test('a download is bounded in size as well as in pages: past MAX_DOWNLOAD_CHARS it stops and says so', async (t) => {
  const { agent } = await signedInWithKey(stack, 'bigdl');
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'bigdl');
  const line = 'z'.repeat(MAX_LINE_CHARS - 20);
  // Past the bound by more than a page (the bound is checked a page at a time).
  const lines = Math.ceil(MAX_DOWNLOAD_CHARS / line.length) + 250;
  for (let i = 0; i < lines; i++) stack.render.appendLog(r.serviceId, `${i} ${line}`, { type: 'app' });
  const txt = await agent.get(`/api/render/deployments/${id}/logs.txt`);
  t.is(txt.status, 200);
  t.true(txt.text.length < MAX_DOWNLOAD_CHARS + 110 * MAX_LINE_CHARS, String(txt.text.length));
  t.regex(txt.text, /\[truncated after \d+ lines: read the rest on Render\]\n$/);
});

test('a log read Render does not answer in time is asked again with fewer lines: the live tail goes on', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'slowpage');
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'slowpage');
  for (let i = 0; i < 3; i++) stack.render.appendLog(r.serviceId, `page ${i}`, { type: 'app' });
  // As a page of 100 lines of 1 MB did on a machine at load ~36: every read of a full page times out
  // (the client's 10 s). The tail's reads of fewer lines are answered.
  const fault = stack.render.setFault({ kind: 'timeout', method: 'GET', route: '/logs', apiKey, query: { limit: '100' } });
  t.teardown(() => stack.render.clearFault(fault));
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  const has = (text: string, message: string) => sseLogLines(text).some((l) => l.message === message);
  await tab.waitFor((text) => has(text, 'page 2'), 40_000);
  stack.render.appendLog(r.serviceId, 'page after', { type: 'app' });
  await tab.waitFor((text) => has(text, 'page after'), 20_000);
  t.deepEqual(sseLogLines(tab.text()).map((l) => l.message).filter((m) => m.startsWith('page')), ['page 0', 'page 1', 'page 2', 'page after']);
});
