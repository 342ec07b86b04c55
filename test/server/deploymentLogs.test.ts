import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_LOG_TAIL } from '../helpers/pipelineStack.js';
import { Agent } from '../helpers/agent.js';
import { addNodeRepo, signedInWithKey, waitFinished, type TestWorker } from '../helpers/pipeline.js';
import { openSseAs, sseLogLines } from '../helpers/sse.js';
import { waitUntil } from '../helpers/wait.js';
import { assertNoSecrets, witnessSecrets, type SecretWitness } from '../helpers/secretScan.js';
import { budgetFrom, RENDER_DOCUMENTED_LIMITS } from '../../server/render/budget.js';
import { startWeb } from '../../server/web.js';
import { createLogger } from '../../server/logger.js';
import { freePort } from '../helpers/ports.js';

// A deployment's logs (issue 12 part 2): only that deploy's lines (bounded by Render's own deploy
// times, `type=build`), every page reachable, the whole log as text, redacted, and a live tail over
// the SSE stream that costs the same Render calls for one tab or a hundred.

const TOKEN = 'tok_live_logsecret987654';
let stack: Stack;
let worker: TestWorker;
let seen: SecretWitness;

usePipelineStack(test, {
  // Deploys move only when a test advances them, so every line lands in a known phase.
  renderOptions: { manualDeploys: true },
  // Paging 2,000 lines twice must not wait a minute for Render's 30 log reads; the tail test
  // below checks the calls themselves.
  renderLimits: budgetFrom({ ...RENDER_DOCUMENTED_LIMITS, logs: { limit: 1_000, windowMs: 60_000 } }),
  logTail: QUICK_LOG_TAIL,
  appOptions: { events: { maxStreamsPerUser: 200 } },
}, (p) => {
  ({ stack, worker } = p);
  seen = witnessSecrets(stack);
});
test.after('no secret anywhere after all the flows', async (t) => {
  await assertNoSecrets(t, { stack, agents: seen.agents, extraLogs: [worker.logs], secrets: [...seen.secrets(), TOKEN] });
});

interface Line { id: string; timestamp: string; message: string; phase: string; level: string | null }

const until = <T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 15_000) => waitUntil(what, fn, ms, 40);

/** The Render service and deploy of a deployment, once the worker has them. */
async function renderIds(agent: Agent, id: string): Promise<{ serviceId: string; deployId: string }> {
  return until(`render ids of ${id}`, async () => {
    const rec = (await agent.get(`/api/render/deployments/${id}`)).json;
    return rec.serviceId && rec.deployId ? { serviceId: rec.serviceId as string, deployId: rec.deployId as string } : null;
  });
}

/** created → build → update → live for a Node web service. */
const runToLive = (deployId: string) => { for (let i = 0; i < 3; i++) stack.render.advanceDeploy(deployId); };

/** Every line of a deployment through the JSON route, following nextCursor ("load earlier"). */
async function allPages(agent: Agent, id: string, limit = 100): Promise<{ lines: Line[]; pages: number }> {
  let lines: Line[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res: { status: number; text: string; json: { logs: Line[]; hasMore: boolean; nextCursor: string | null } } = await agent.get(`/api/render/deployments/${id}/logs?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    if (res.status !== 200) throw new Error(`logs page: ${res.status} ${res.text}`);
    pages += 1;
    lines = [...res.json.logs, ...lines];
    cursor = res.json.nextCursor;
    if (Boolean(cursor) !== res.json.hasMore) throw new Error('hasMore and nextCursor disagree');
  } while (cursor && pages < 100);
  return { lines, pages };
}

const count = (lines: Line[], re: RegExp) => lines.filter((l) => re.test(l.message)).length;

test('two deploys of one service and a canceled one: each deployment shows only its own lines', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'bleed');
  addNodeRepo(stack, 'bleed', 'app');
  const a = (await agent.post('/api/render/deploy', { github_repo: 'bleed/app', project_name: 'bleed-app' })).json.id as string;
  const ra = await renderIds(agent, a);
  runToLive(ra.deployId);
  t.is((await waitFinished(agent, a)).status, 'live');

  const redeploy = async () => {
    const res = await agent.post(`/api/render/services/${ra.serviceId}/redeploy`);
    t.is(res.status, 202, res.text);
    return res.json.id as string;
  };
  const b = await redeploy();
  const rb = await renderIds(agent, b);
  runToLive(rb.deployId);
  t.is((await waitFinished(agent, b)).status, 'live');

  const c = await redeploy();
  const rc = await renderIds(agent, c);
  stack.render.advanceDeploy(rc.deployId); // building
  const cancel = await agent.post(`/api/render/deployments/${c}/cancel`);
  t.is(cancel.status, 200, cancel.text);
  t.is((await waitFinished(agent, c)).status, 'canceled');

  const [la, lb, lc] = await Promise.all([a, b, c].map(async (id) => (await allPages(agent, id)).lines));
  for (const [name, lines] of [['first', la], ['second', lb]] as const) {
    t.is(count(lines!, /==> Cloning from/), 1, `${name}: one clone`);
    t.is(count(lines!, /Your service is live/), 1, `${name}: one "live"`);
    t.true(lines!.every((l) => l.phase === 'build' || l.phase === 'runtime'));
  }
  t.is(count(lc!, /==> Cloning from/), 1, 'canceled: its own clone');
  t.is(count(lc!, /Your service is live/), 0, 'canceled: no earlier deploy\'s "live"');
  t.is(count(lc!, /Deploy canceled/), 1);
  // Each deploy checks out its own commit: the lines come from that deploy and no other.
  for (const [r, lines] of [[ra, la], [rb, lb], [rc, lc]] as const) {
    const deploy = await (await fetch(`${stack.render.url}/services/${r.serviceId}/deploys/${r.deployId}`, { headers: { authorization: `Bearer ${apiKey}` } })).json() as { commit: { id: string } };
    const checkouts = lines!.filter((l) => l.message.startsWith('==> Checking out commit'));
    t.is(checkouts.length, 1);
    t.true(checkouts[0]!.message.includes(deploy.commit.id), 'the commit Render built for this deploy');
  }
  const ids = [la, lb, lc].map((ls) => new Set(ls!.map((l) => l.id)));
  for (let i = 0; i < 3; i++) for (let j = i + 1; j < 3; j++) t.is([...ids[i]!].filter((x) => ids[j]!.has(x)).length, 0, `deploys ${i} and ${j} share no line`);
});

test('a long build of 2,000 lines: every page is reachable and the download has all of them', async (t) => {
  const { agent } = await signedInWithKey(stack, 'longbuild');
  addNodeRepo(stack, 'longbuild', 'big');
  const id = (await agent.post('/api/render/deploy', { github_repo: 'longbuild/big', project_name: 'big' })).json.id as string;
  const r = await renderIds(agent, id);
  stack.render.advanceDeploy(r.deployId); // building
  for (let i = 0; i < 2000; i++) stack.render.appendLog(r.serviceId, `compiling module ${String(i).padStart(4, '0')}`, { type: 'build' });
  stack.render.advanceDeploy(r.deployId);
  stack.render.advanceDeploy(r.deployId);
  t.is((await waitFinished(agent, id)).status, 'live');

  const first = await agent.get(`/api/render/deployments/${id}/logs?limit=100`);
  t.is(first.status, 200, first.text);
  t.is(first.json.logs.length, 100);
  t.true(first.json.hasMore);
  t.deepEqual(first.json.phases, ['build', 'runtime']);
  t.is(first.json.logs[first.json.logs.length - 1].message, '==> Your service is live 🎉', 'the first page ends with the newest line');

  const { lines, pages } = await allPages(agent, id, 100);
  const modules = lines.filter((l) => l.message.startsWith('compiling module ')).map((l) => l.message);
  t.is(modules.length, 2000, 'all 2,000 lines reachable');
  t.deepEqual(modules, Array.from({ length: 2000 }, (_, i) => `compiling module ${String(i).padStart(4, '0')}`), 'in order, none twice');
  t.true(pages >= 20, `${pages} pages`);
  t.is(new Set(lines.map((l) => l.id)).size, lines.length);

  const txt = await agent.get(`/api/render/deployments/${id}/logs.txt`);
  t.is(txt.status, 200);
  t.regex(txt.headers.get('content-type') ?? '', /^text\/plain/);
  t.regex(txt.headers.get('content-disposition') ?? '', new RegExp(`attachment; filename="deployment-${id}\\.log\\.txt"`));
  const textModules = txt.text.split('\n').filter((l) => / compiling module \d{4}$/.test(l));
  t.is(textModules.length, 2000, 'the download has all 2,000 lines');
  t.true(txt.text.includes('==> Cloning from') && txt.text.includes('Your service is live'));

  // A cursor cannot widen the deploy's window: one reaching back a day gives this deploy's lines only.
  const wide = Buffer.from(JSON.stringify({ p: 'build', s: '2000-01-01T00:00:00Z', e: '2100-01-01T00:00:00Z' })).toString('base64url');
  const res = await agent.get(`/api/render/deployments/${id}/logs?limit=100&cursor=${wide}`);
  t.is(res.status, 200);
  t.true(res.json.logs.every((l: Line) => l.phase === 'build'));
  for (const bad of ['%%%', 'eyJ4IjoxfQ', 'a'.repeat(500)]) {
    const r2 = await agent.get(`/api/render/deployments/${id}/logs?cursor=${bad}`);
    t.is(r2.status, 400, bad);
    t.is(r2.json.error.code, 'validation_failed');
  }
  t.is((await agent.get(`/api/render/deployments/${id}/logs?limit=101`)).status, 400);
});

test('secrets are redacted in the JSON, the text download and the live tail; someone else gets 404s', async (t) => {
  const { agent } = await signedInWithKey(stack, 'redact');
  addNodeRepo(stack, 'redact', 'svc');
  const id = (await agent.post('/api/render/deploy', { github_repo: 'redact/svc', project_name: 'redact-svc', env_vars: { API_TOKEN: TOKEN } })).json.id as string;
  const r = await renderIds(agent, id);
  runToLive(r.deployId);
  t.is((await waitFinished(agent, id)).status, 'live');

  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.is(tab.status, 200);
  t.teardown(() => tab.close());
  await tab.waitFor((text) => text.includes('retry:'));
  stack.render.appendLog(r.serviceId, `app booted with API_TOKEN=${TOKEN}`, { type: 'app' });
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === 'app booted with API_TOKEN=[redacted]' && l.phase === 'runtime'));
  t.false(tab.text().includes(TOKEN));

  const json = await agent.get(`/api/render/deployments/${id}/logs`);
  t.true(json.json.logs.some((l: Line) => l.message === 'app booted with API_TOKEN=[redacted]' && l.phase === 'runtime'), 'runtime lines are labelled');
  t.false(json.text.includes(TOKEN));
  const txt = await agent.get(`/api/render/deployments/${id}/logs.txt`);
  t.true(txt.text.includes('app booted with API_TOKEN=[redacted]'));
  t.true(txt.text.includes('=== Runtime (after the deploy went live)'));
  t.false(txt.text.includes(TOKEN));

  const { agent: other } = await signedInWithKey(stack, 'snoop');
  for (const path of [`/api/render/deployments/${id}/logs`, `/api/render/deployments/${id}/logs.txt`, `/api/events?logs=${id}`, '/api/events?logs=dpl-00000000000000000000']) {
    const res = await other.get(path);
    t.is(res.status, 404, path);
    t.is(res.json.error.code, 'not_found', path);
  }
});

test('100 SSE clients on one deployment cost the same Render log calls as one client', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'fanout');
  addNodeRepo(stack, 'fanout', 'busy');
  const id = (await agent.post('/api/render/deploy', { github_repo: 'fanout/busy', project_name: 'busy' })).json.id as string;
  const r = await renderIds(agent, id);
  stack.render.advanceDeploy(r.deployId); // building, so the tail keeps polling
  const tailer = stack.web.deps.logTails!;
  const renderLogCalls = () => stack.render.calls.filter((c) => c.accountId === accountId && c.method === 'GET' && c.route === '/logs').length;

  /** Render log calls per tail poll while `n` tabs follow the deployment, over `polls` polls, and whether every tab saw a fresh line. */
  async function measure(n: number, polls: number, marker: string) {
    const tabs = await Promise.all(Array.from({ length: n }, () => openSseAs(agent, `/api/events?logs=${id}`)));
    try {
      t.true(tabs.every((tab) => tab.status === 200));
      await Promise.all(tabs.map((tab) => tab.waitFor((text) => text.includes('retry:'))));
      // Let the tail settle (its first poll), then count over whole polls.
      const settled = tailer.tailStats(id).polls + 2;
      await until('tail polls', async () => tailer.tailStats(id).polls >= settled);
      const c0 = renderLogCalls();
      const p0 = tailer.tailStats(id).polls;
      const t0 = tailer.tailStats(id).renderLogCalls;
      stack.render.appendLog(r.serviceId, marker, { type: 'build' });
      await Promise.all(tabs.map((tab) => tab.waitFor((text) => sseLogLines(text).some((l) => l.message === marker))));
      await until('more polls', async () => tailer.tailStats(id).polls >= p0 + polls);
      // Read the counters between polls: the tail's call for a poll is done when the next poll starts.
      const p1 = tailer.tailStats(id).polls;
      await until('the next poll', async () => tailer.tailStats(id).polls > p1);
      return { calls: renderLogCalls() - c0, tailCalls: tailer.tailStats(id).renderLogCalls - t0, polls: tailer.tailStats(id).polls - p0 };
    } finally {
      for (const tab of tabs) tab.close();
    }
  }

  const one = await measure(1, 8, 'marker for one tab');
  await until('the tail to stop', async () => !tailer.tailStats(id).followed);
  const hundred = await measure(100, 8, 'marker for a hundred tabs');
  t.log(`1 tab: ${one.calls} Render log calls in ${one.polls} polls; 100 tabs: ${hundred.calls} in ${hundred.polls} polls`);
  for (const m of [one, hundred]) {
    // Every log call Render saw came from the one tail (±1 for a call in flight at an edge), and
    // the tail makes at most one per poll (none when nothing new can be in the window yet).
    t.true(Math.abs(m.calls - m.tailCalls) <= 1, JSON.stringify(m));
    t.true(m.calls <= m.polls + 1 && m.calls >= 1, JSON.stringify(m));
  }
  // Per poll, a hundred tabs cost what one does: at most one call (a per-tab poller would make 100).
  t.true(hundred.calls / hundred.polls <= 1 + 1 / hundred.polls, JSON.stringify(hundred));
});

test('two web processes, 50 tabs on each: one of them polls Render, both deliver every line', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'twoweb');
  addNodeRepo(stack, 'twoweb', 'app');
  const id = (await agent.post('/api/render/deploy', { github_repo: 'twoweb/app', project_name: 'two-web' })).json.id as string;
  const r = await renderIds(agent, id);
  stack.render.advanceDeploy(r.deployId);
  const port = await freePort();
  const other = await startWeb({
    config: { ...stack.config, port }, logger: createLogger({ level: 'silent' }), host: '127.0.0.1',
    logTail: QUICK_LOG_TAIL, appOptions: { events: { maxStreamsPerUser: 200 } },
  });
  t.teardown(() => other.close(2_000));
  // The same browser session, talking to the other process (same Redis, same SECRET_KEY).
  const there = new Agent(other.url, agent.defaults);
  for (const [k, v] of agent.jar) there.jar.set(k, v);
  const tabs = await Promise.all([
    ...Array.from({ length: 50 }, () => openSseAs(agent, `/api/events?logs=${id}`)),
    ...Array.from({ length: 50 }, () => openSseAs(there, `/api/events?logs=${id}`)),
  ]);
  t.teardown(() => { for (const tab of tabs) tab.close(); });
  t.true(tabs.every((tab) => tab.status === 200));
  const tails = [stack.web.deps.logTails!, other.deps.logTails!];
  await until('both processes follow the deployment', async () => tails.every((x) => x.tailStats(id).followed));
  const before = tails.map((x) => x.tailStats(id).renderLogCalls);
  const c0 = stack.render.calls.filter((c) => c.accountId === accountId && c.route === '/logs').length;
  for (let i = 0; i < 5; i++) stack.render.appendLog(r.serviceId, `two-process line ${i}`, { type: 'build' });
  await Promise.all(tabs.map((tab) => tab.waitFor((text) => sseLogLines(text).filter((l) => l.message.startsWith('two-process line ')).length === 5)));
  const made = tails.map((x, i) => x.tailStats(id).renderLogCalls - before[i]!);
  t.log(`log calls by process: ${made.join(', ')}; Render saw ${stack.render.calls.filter((c) => c.accountId === accountId && c.route === '/logs').length - c0}`);
  t.is(made.filter((n) => n > 0).length, 1, 'exactly one process polled Render');
  for (const tab of tabs) {
    const mine = sseLogLines(tab.text()).filter((l) => l.message.startsWith('two-process line ')).map((l) => l.message);
    t.deepEqual(mine, [0, 1, 2, 3, 4].map((i) => `two-process line ${i}`), 'each tab: every line once, in order');
  }
});
