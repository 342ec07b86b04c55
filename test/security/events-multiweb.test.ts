import test from 'ava';
import { Writable } from 'node:stream';
import { loadConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import { startWeb, type WebProcess } from '../../server/web.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { envFor } from '../helpers/processes.js';
import { freePort } from '../helpers/ports.js';
import { addNodeRepo, signedInWithKey, startTestWorker, waitFinished, type TestWorker } from '../helpers/pipeline.js';
import { openSseStream, sseLogLines, type SseClient } from '../helpers/sse.js';
import type { Agent } from '../helpers/agent.js';

// Live updates with two web processes and two workers on one Redis, over raw SSE clients (kept from a probe that
// found nothing to fix here): each user's events on their own streams only, on either process, a team sharing a key
// included; one process's subscriber connection dropped; the per-user stream cap; two deployments' log tails apart.
const quiet = () => createLogger({ level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });
let stack: Stack;
let worker: TestWorker;
let worker2: TestWorker;
let web1: WebProcess;
let web1Port: number;
const opened: SseClient[] = [];

test.before(async () => {
  stack = await startStack({ renderOptions: { phaseMs: { created: 100, build_in_progress: 500, pre_deploy_in_progress: 50, update_in_progress: 300 } }, logTail: { buildIntervalMs: 200, runtimeIntervalMs: 300, settleMs: 200 } });
  worker = await startTestWorker(stack);
  worker2 = await startTestWorker(stack);
  web1Port = await freePort();
  web1 = await startWeb({ config: loadConfig(envFor(stack.config, { PORT: String(web1Port) })), logger: quiet(), host: '127.0.0.1', logTail: { buildIntervalMs: 200, runtimeIntervalMs: 300, settleMs: 200 } });
});
test.after.always(async () => {
  for (const s of opened) s.close();
  await web1?.close(2_000).catch(() => {});
  await worker?.close(5_000).catch(() => {});
  await worker2?.close(5_000).catch(() => {});
  await stack?.close();
});

const sse = async (agent: Agent, base: string, path = '/api/events') => {
  const s = await openSseStream(base + path, { ...agent.defaults, cookie: agent.cookieHeader() }, 30_000);
  opened.push(s);
  return s;
};
const events = (text: string, type: string) => text.split('\n\n').filter((b) => b.startsWith(`event: ${type}\n`)).map((b) => JSON.parse(b.split('\ndata: ')[1]!));

test.serial('isolation across processes, a team sharing one key, and the stream on the process that did not serve the write', async (t) => {
  const a = await signedInWithKey(stack, 'mwa');
  const b = await signedInWithKey(stack, 'mwb');
  // c: another GitHub user with A's Render key (a team).
  const c = { agent: stack.agent() };
  await stack.signIn(c.agent, 'mwc');
  t.is((await c.agent.post('/api/render/setup', { api_key: a.apiKey })).status, 200);
  addNodeRepo(stack, 'mwa', 'app'); addNodeRepo(stack, 'mwc', 'app');
  const [a0, a1, b0, b1, c0, c1] = await Promise.all([
    sse(a.agent, stack.url), sse(a.agent, web1.url), sse(b.agent, stack.url), sse(b.agent, web1.url), sse(c.agent, stack.url), sse(c.agent, web1.url),
  ]);
  for (const s of [a0, a1, b0, b1, c0, c1]) await s.waitFor((x) => x.includes('event: stream'));
  const da = (await a.agent.post('/api/render/deploy', { github_repo: 'mwa/app', project_name: 'app' })).json.id as string;
  const dc = (await c.agent.post('/api/render/deploy', { github_repo: 'mwc/app', project_name: 'capp' })).json.id as string;
  t.truthy(da); t.truthy(dc);
  const ra = await waitFinished(a.agent, da); const rc = await waitFinished(c.agent, dc);
  t.is(ra.status, 'live'); t.is(rc.status, 'live');
  const sawLive = (id: string) => (x: string) => events(x, 'deployment').some((e) => e.id === id && e.status === 'live');
  await a0.waitFor(sawLive(da)); await a1.waitFor(sawLive(da));
  await c0.waitFor(sawLive(dc)); await c1.waitFor(sawLive(dc));
  // One more event for everyone: a marker of a fresh stream for each, so every stream has caught up.
  const [a2, b2, c2] = await Promise.all([sse(a.agent, web1.url), sse(b.agent, web1.url), sse(c.agent, web1.url)]);
  for (const s of [a2, b2, c2]) await s.waitFor((x) => x.includes('event: stream'));
  await b0.waitFor((x) => events(x, 'subscribed').length >= 2); await b1.waitFor((x) => events(x, 'subscribed').length >= 2);
  for (const [name, s, foreign] of [['a0', a0, dc], ['a1', a1, dc], ['b0', b0, da], ['b1', b1, da], ['c0', c0, da], ['c1', c1, da]] as const) {
    t.false(s.text().includes(foreign), `${name} carries the other user's deployment`);
  }
  t.false(b0.text().includes(dc) || b1.text().includes(dc));
  // Status order per deployment on every stream of its owner: no status after a later one.
  const ORDER = ['queued', 'verifying', 'detecting', 'creating_service', 'created', 'triggering_deploy', 'render_queued', 'build_in_progress', 'pre_deploy_in_progress', 'update_in_progress', 'live'];
  for (const [s, id] of [[a0, da], [a1, da], [c0, dc], [c1, dc]] as const) {
    const seq = events(s.text(), 'deployment').filter((e) => e.id === id).map((e) => e.updatedAt as string);
    t.deepEqual(seq, [...seq].sort(), `updatedAt in order: ${seq.join(',')}`);
    const st = events(s.text(), 'deployment').filter((e) => e.id === id).map((e) => ORDER.indexOf(e.status));
    t.deepEqual(st, [...st].sort((x, y) => x - y), 'statuses in order');
  }
  for (const s of [a0, a1, b0, b1, c0, c1, a2, b2, c2]) s.close();
});

test.serial('the subscriber connection of one web process dropped: its streams end, new ones get events again', async (t) => {
  const a = await signedInWithKey(stack, 'mwd');
  addNodeRepo(stack, 'mwd', 'app');
  const s0 = await sse(a.agent, stack.url);
  await s0.waitFor((x) => x.includes('event: stream'));
  const subs = async () => new Map((await stack.redis.client.client('LIST') as string).split('\n').filter((l) => l.includes('name=orchestrator-subscriber')).map((l) => [/id=(\d+)/.exec(l)![1]!, Number(/ sub=(\d+)/.exec(l)![1])] as const));
  const before = await subs();
  const s1 = await sse(a.agent, web1.url);
  await s1.waitFor((x) => x.includes('event: stream'));
  const after = await subs();
  const killIds = [...after].filter(([id, n]) => n > (before.get(id) ?? 0)).map(([id]) => id);
  t.log(`web1 subscriber ids: ${killIds.join(',')}`);
  t.is(killIds.length, 1);
  for (const id of killIds) await stack.redis.client.client('KILL', 'ID', id);
  // web1's stream ends (its page reconnects and catches up).
  await t.notThrowsAsync(() => s1.waitFor(() => false, 10_000).catch((e: Error) => { if (/stream ended/.test(e.message)) return; throw e; }));
  const s1b = await sse(a.agent, web1.url);
  await s1b.waitFor((x) => x.includes('event: stream'));
  const d = (await a.agent.post('/api/render/deploy', { github_repo: 'mwd/app', project_name: 'app' })).json.id as string;
  await waitFinished(a.agent, d);
  const sawLive = (x: string) => events(x, 'deployment').some((e) => e.id === d && e.status === 'live');
  await t.notThrowsAsync(() => s1b.waitFor(sawLive));
  await t.notThrowsAsync(() => s0.waitFor(sawLive));
  s0.close(); s1b.close();
});

test.serial('the per-user stream cap: streams closed and refused ones give their place back', async (t) => {
  const a = await signedInWithKey(stack, 'mwe');
  const b = await signedInWithKey(stack, 'mwf');
  addNodeRepo(stack, 'mwf', 'app');
  const dB = (await b.agent.post('/api/render/deploy', { github_repo: 'mwf/app', project_name: 'app' })).json.id as string;
  // Refused: someone else's deployment (404), many times: no place taken.
  for (let i = 0; i < 12; i++) {
    const r = await fetch(`${web1.url}/api/events?logs=${dB}`, { headers: { ...a.agent.defaults, cookie: a.agent.cookieHeader() } });
    t.is(r.status, 404); await r.body?.cancel();
  }
  // Streams aborted by the client right after asking, before or as they answer.
  for (let i = 0; i < 15; i++) {
    const ac = new AbortController();
    const p = fetch(`${web1.url}/api/events`, { headers: { ...a.agent.defaults, cookie: a.agent.cookieHeader() }, signal: ac.signal }).catch(() => null);
    setTimeout(() => ac.abort(), i % 3);
    await p;
  }
  // Give the server a moment to see the aborts (bounded wait on its count).
  const count = () => web1.deps.events!.listenerCount();
  for (let i = 0; i < 100 && count() > 0; i++) await new Promise((r) => setTimeout(r, 50));
  const streams: SseClient[] = [];
  for (let i = 0; i < 10; i++) {
    const s = await sse(a.agent, web1.url);
    t.is(s.status, 200, `stream ${i + 1}`);
    streams.push(s);
  }
  const over = await fetch(`${web1.url}/api/events`, { headers: { ...a.agent.defaults, cookie: a.agent.cookieHeader() } });
  t.is(over.status, 429); await over.body?.cancel();
  // B is not capped by A's streams.
  const bs = await sse(b.agent, web1.url); t.is(bs.status, 200); bs.close();
  streams[0]!.close();
  let again = 0;
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${web1.url}/api/events`, { headers: { ...a.agent.defaults, cookie: a.agent.cookieHeader() } });
    again = r.status; await r.body?.cancel().catch(() => {});
    if (again === 200) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  t.is(again, 200, 'a place freed by a closed stream');
  for (const s of streams) s.close();
});

test.serial('a redeploy while the previous deployment\'s tail is open: neither stream carries the other\'s lines', async (t) => {
  const a = await signedInWithKey(stack, 'mwg');
  addNodeRepo(stack, 'mwg', 'app');
  const d1 = (await a.agent.post('/api/render/deploy', { github_repo: 'mwg/app', project_name: 'app' })).json.id as string;
  const r1 = await waitFinished(a.agent, d1);
  t.is(r1.status, 'live');
  stack.render.appendLog(r1.serviceId, 'D1-RUNTIME-LINE', { type: 'app' });
  const f1 = await sse(a.agent, web1.url, `/api/events?logs=${d1}`);
  await f1.waitFor((x) => sseLogLines(x).some((l) => l.message === 'D1-RUNTIME-LINE'));
  const res = await a.agent.post(`/api/render/services/${r1.serviceId}/redeploy`);
  t.is(res.status, 202, res.text);
  const d2 = res.json.id as string;
  const f2 = await sse(a.agent, stack.url, `/api/events?logs=${d2}`);
  const r2 = await waitFinished(a.agent, d2);
  t.is(r2.status, 'live');
  stack.render.appendLog(r1.serviceId, 'D2-RUNTIME-LINE', { type: 'app' });
  await f2.waitFor((x) => sseLogLines(x).some((l) => l.message === 'D2-RUNTIME-LINE'));
  // D1's tail polls on past D2's line (or ended).
  const start = web1.deps.logTails!.tailStats(d1).polls;
  for (let i = 0; i < 200; i++) {
    const st = web1.deps.logTails!.tailStats(d1);
    if (!st.followed || st.polls >= start + 3) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const l1 = sseLogLines(f1.text()); const l2 = sseLogLines(f2.text());
  t.log(`d1 lines: ${l1.length}, d2 lines: ${l2.length}`);
  t.false(l1.some((l) => l.message === 'D2-RUNTIME-LINE'), 'D2 runtime line in D1 stream');
  t.false(l2.some((l) => l.message === 'D1-RUNTIME-LINE'), 'D1 runtime line in D2 stream');
  const ids2 = new Set(l2.map((l) => l.id));
  t.deepEqual(l1.filter((l) => ids2.has(l.id)).map((l) => l.message), [], 'lines in both streams');
  // Each stream's logs events name only its own deployment.
  t.true(events(f1.text(), 'logs').every((e) => e.deploymentId === d1));
  t.true(events(f2.text(), 'logs').every((e) => e.deploymentId === d2));
  f1.close(); f2.close();
});
