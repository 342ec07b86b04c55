import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { Agent } from '../helpers/agent.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';
import { openSseAs, sseLogLines } from '../helpers/sse.js';
import { waitUntil } from '../helpers/wait.js';
import { startWeb } from '../../server/web.js';
import { createLogger } from '../../server/logger.js';
import { freePort } from '../helpers/ports.js';

// A log tail's poller that lost its lease mid-poll (a Render call slower than the lease, a process
// paused) must not publish what it read: the process that took the lease over already did. But one
// whose lease merely lapsed, nobody else having moved the tail on, must: else a tail whose every read
// outlasts the lease never delivers a line.

const TAIL = { buildIntervalMs: 150, runtimeIntervalMs: 300, settleMs: 150, leaseMs: 1_500 };
let stack: Stack;

usePipelineStack(test, { renderOptions: { manualDeploys: true }, logTail: TAIL }, (p) => { ({ stack } = p); });

const until = <T>(what: string, fn: () => Promise<T | null | undefined | false>) => waitUntil(what, fn, 20_000, 40);

test('a poller whose lease lapsed during its Render call publishes nothing: every line reaches each tab once', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'lease');
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'lease');
  for (let i = 0; i < 3; i++) stack.render.appendLog(r.serviceId, `before ${i}`, { type: 'app' });

  const port = await freePort();
  const other = await startWeb({
    config: { ...stack.config, port }, logger: createLogger({ level: 'silent' }), host: '127.0.0.1', logTail: TAIL,
  });
  t.teardown(() => other.close(2_000));
  const there = new Agent(other.url, agent.defaults);
  for (const [k, v] of agent.jar) there.jar.set(k, v);

  // The first tail poll's log read waits at Render until the other process has taken over and delivered.
  const hold = stack.render.holdRequest({ method: 'GET', route: '/logs', apiKey });
  const tabs = await Promise.all([openSseAs(agent, `/api/events?logs=${id}`), openSseAs(there, `/api/events?logs=${id}`)]);
  t.teardown(() => { for (const tab of tabs) tab.close(); });
  await hold.arrived;
  const has = (text: string, message: string) => sseLogLines(text).some((l) => l.message === message);
  await Promise.all(tabs.map((tab) => tab.waitFor((text) => has(text, 'before 2'), 20_000)));
  hold.release();
  const logCalls = () => stack.render.calls.filter((c) => c.accountId === accountId && c.route === '/logs');
  await until('the held read answered', async () => logCalls().every((c) => c.status !== 0));
  // The first poller's lines, if it publishes them, go out before the next poll can see a new line.
  stack.render.appendLog(r.serviceId, 'after', { type: 'app' });
  await Promise.all(tabs.map((tab) => tab.waitFor((text) => has(text, 'after'), 20_000)));
  for (const tab of tabs) {
    const messages = sseLogLines(tab.text()).map((l) => l.message);
    t.deepEqual(messages.filter((m) => m.startsWith('before') || m === 'after'), ['before 0', 'before 1', 'before 2', 'after'], 'each line once, in order');
  }
});

test('the last tab leaves during a poll and comes back: the poll of the tail that ended publishes nothing', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'comeback');
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'comeback');
  for (let i = 0; i < 3; i++) stack.render.appendLog(r.serviceId, `before ${i}`, { type: 'app' });

  const hold = stack.render.holdRequest({ method: 'GET', route: '/logs', apiKey });
  const leaving = await openSseAs(agent, `/api/events?logs=${id}`);
  await hold.arrived;
  leaving.close();
  const tailer = stack.web.deps.logTails!;
  await until('the tail to stop', async () => !tailer.tailStats(id).followed);
  const back = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => back.close());
  const has = (text: string, message: string) => sseLogLines(text).some((l) => l.message === message);
  await back.waitFor((text) => has(text, 'before 2'), 20_000);
  hold.release();
  const logCalls = () => stack.render.calls.filter((c) => c.accountId === accountId && c.route === '/logs');
  await until('the held read answered', async () => logCalls().every((c) => c.status !== 0));
  stack.render.appendLog(r.serviceId, 'after', { type: 'app' });
  await back.waitFor((text) => has(text, 'after'), 20_000);
  const messages = sseLogLines(back.text()).map((l) => l.message);
  t.deepEqual(messages.filter((m) => m.startsWith('before') || m === 'after'), ['before 0', 'before 1', 'before 2', 'after'], 'each line once, in order');
});

test('every log read outlasts the lease (one process, a slow Render): the lines still go out, each once', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'slowread');
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'slowread');
  for (let i = 0; i < 3; i++) stack.render.appendLog(r.serviceId, `slow ${i}`, { type: 'app' });
  // Each /logs answer takes longer than the lease (1.5 s), as pages of 1 MB lines did on a loaded CI
  // machine: nobody else polls, so what the poll read is the tail's next step, lease or not.
  const fault = stack.render.setFault({ kind: 'latency', ms: 2_500, method: 'GET', route: '/logs', apiKey });
  t.teardown(() => stack.render.clearFault(fault));
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  const has = (text: string, message: string) => sseLogLines(text).some((l) => l.message === message);
  await tab.waitFor((text) => has(text, 'slow 2'), 20_000);
  stack.render.appendLog(r.serviceId, 'slow after', { type: 'app' });
  await tab.waitFor((text) => has(text, 'slow after'), 20_000);
  const messages = sseLogLines(tab.text()).map((l) => l.message);
  t.deepEqual(messages.filter((m) => m.startsWith('slow')), ['slow 0', 'slow 1', 'slow 2', 'slow after'], 'each line once, in order');
});

test('the last tab leaves while its poll is answered 429: a tab opened after gets the lines without waiting out Retry-After', async (t) => {
  const { agent, apiKey, accountId } = await signedInWithKey(stack, 'leave429');
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'leave429');
  stack.render.appendLog(r.serviceId, 'before', { type: 'app' });

  // The tail's first log read waits at Render until its tab has left, then is answered 429 with a
  // Retry-After of a minute. The tail that ended must not take its lease back to wait that out: the
  // tail of the tab opened next would read nothing until Retry-After and the lease had run out.
  const fault = stack.render.setFault({ kind: 'status', status: 429, ms: 60_000, method: 'GET', route: '/logs', apiKey, count: 1 });
  t.teardown(() => stack.render.clearFault(fault));
  const hold = stack.render.holdRequest({ method: 'GET', route: '/logs', apiKey });
  const leaving = await openSseAs(agent, `/api/events?logs=${id}`);
  await hold.arrived;
  leaving.close();
  const tailer = stack.web.deps.logTails!;
  await until('the tail to stop', async () => !tailer.tailStats(id).followed);
  hold.release();
  const logCalls = () => stack.render.calls.filter((c) => c.accountId === accountId && c.route === '/logs');
  await until('the held read answered 429', async () => logCalls().some((c) => c.status === 429));

  const back = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => back.close());
  const has = (text: string, message: string) => sseLogLines(text).some((l) => l.message === message);
  // Bounded well below the minute the old tail kept its lease for.
  await back.waitFor((text) => has(text, 'before'), 20_000);
  stack.render.appendLog(r.serviceId, 'after', { type: 'app' });
  await back.waitFor((text) => has(text, 'after'), 20_000);
  const messages = sseLogLines(back.text()).map((l) => l.message);
  t.deepEqual(messages.filter((m) => m === 'before' || m === 'after'), ['before', 'after'], 'each line once, in order');
});
