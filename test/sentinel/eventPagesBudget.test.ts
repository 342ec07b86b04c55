import test, { type ExecutionContext } from 'ava';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { createRenderClient } from '../../server/render/client.js';
import { BudgetExhausted } from '../../server/render/budget.js';
import { startTestRedis } from '../helpers/redis.js';
import { roundsInProcess } from './rounds.js';

// A service's events are read page by page (newest first). When Sentinel's budget share is spent after
// the first page, what was read counts, as for app logs: otherwise a service busier than one page since
// its cursor is read again from its newest page every round, and never gets past it while the budget
// runs out at the same place, so even the newest page's findings are never reported. The pages it could
// not read are not skipped for good: the cursor keeps them as a window still to read, paged in the rounds
// after, with what the new events leave of a round's pages.

/**
 * A user's workspace on the simulator with one service, and Sentinel's rounds over it with a budget of
 * `pagesPerRound` events pages. `clock`: Render's (the simulator's) and the rounds', else the machine's.
 */
async function watchedService(t: ExecutionContext, label: string, pagesPerRound: number, clock: () => number = Date.now) {
  const r = await startTestRedis();
  const render = await startRenderSimulator({ now: clock });
  t.teardown(async () => { await render.close(); await r.stop(); });
  const apiKey = `rnd_${label}${'k'.repeat(30 - label.length)}`;
  render.addAccount({ apiKey, workspaces: [{ name: `${label} ws` }] });
  const plain = createRenderClient({ baseUrl: render.url, apiKey });
  const [owner] = await plain.listOwners();
  const { service } = await plain.createService({
    type: 'web_service', name: 'busy', ownerId: owner!.id, repo: `https://github.com/${label}/busy`, branch: 'main', autoDeploy: 'no',
    serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
  });
  // Sentinel's share of the key's budget: what a spent share answers after its pages.
  let eventPages = 0;
  const rounds = await roundsInProcess(r, {
    baseUrl: render.url, apiKey,
    beforeRequest: async (call) => {
      if (call.route === '/services/{serviceId}/events' && ++eventPages > pagesPerRound) throw new BudgetExhausted(30_000, 'read');
    },
  }, [owner!.id], clock);
  return {
    render, serviceId: service!.id, found: rounds.found, status: () => rounds.store.getStatus(1),
    async round(now = clock) {
      eventPages = 0;
      await rounds.round(now);
      return rounds.cursor<{ unread?: unknown }>(`events:${service!.id}`);
    },
  };
}

test('the budget spent on a service\'s second events page: the first page\'s findings are reported, its cursor moves', async (t) => {
  const w = await watchedService(t, 'evbudget', 1);
  // A busy stretch, more than a page, then the OOM: the newest event, on the first page.
  for (let i = 0; i < 80; i++) w.render.addServiceEvent(w.serviceId, i % 2 ? 'deploy_started' : 'build_started');
  w.render.addServiceEvent(w.serviceId, 'server_failed', { reason: { oomKilled: { memoryLimit: '512Mi' } } });
  await w.round();
  await w.round();
  t.deepEqual(w.found.map((f) => f.rule), ['server_oom']);
});

test('an OOM on an events page the budget left unread: reported by the next round, which reads the window the cursor kept', async (t) => {
  const w = await watchedService(t, 'evunread', 2);
  // The OOM, then a busier stretch than two pages: the OOM is on the third page, newest first.
  w.render.addServiceEvent(w.serviceId, 'server_failed', { reason: { oomKilled: { memoryLimit: '512Mi' } } });
  for (let i = 0; i < 120; i++) w.render.addServiceEvent(w.serviceId, i % 2 ? 'deploy_started' : 'build_started');
  const first = await w.round();
  t.deepEqual(w.found, [], 'the first round read two pages of newer events');
  t.truthy(first?.unread, 'and kept the older ones as a window to read');
  const second = await w.round();
  t.deepEqual(w.found.map((f) => f.rule), ['server_oom']);
  t.is(second?.unread, undefined, 'the window is read to its end');
  // Nothing is reported twice, and a new event is still read first.
  w.render.addServiceEvent(w.serviceId, 'server_failed', { reason: { oomKilled: { memoryLimit: '1Gi' } } });
  await w.round();
  t.deepEqual(w.found.map((f) => f.rule), ['server_oom', 'server_oom']);
  t.not(w.found[0]!.id, w.found[1]!.id);
});

test('a window of unread events older than a day is given up, not read, and the page is told', async (t) => {
  // A day passes on Render's clock as on ours (the window is a day old by Render's, which stamps events).
  let nowMs = Date.now();
  const w = await watchedService(t, 'evstale', 2, () => nowMs);
  w.render.addServiceEvent(w.serviceId, 'server_failed', { reason: { oomKilled: { memoryLimit: '512Mi' } } });
  for (let i = 0; i < 120; i++) w.render.addServiceEvent(w.serviceId, i % 2 ? 'deploy_started' : 'build_started');
  nowMs += 1_000;
  const first = await w.round();
  const unread = first?.unread as { start: string; end: string } | undefined;
  t.truthy(unread);
  nowMs += 25 * 60 * 60_000;
  const dayLater = nowMs;
  const after = await w.round();
  t.deepEqual(w.found, []);
  t.is(after?.unread, undefined);
  // The status the Security page reads names what was given up (present.ts words it; the service's app
  // logs of more than a day before are named too).
  const skipped = (await w.status()).skipped ?? [];
  t.deepEqual(skipped.filter((s) => s.what === 'events'), [{ what: 'events', ownerId: skipped[0]!.ownerId, services: ['busy'], from: unread!.start, to: unread!.end, at: new Date(dayLater).toISOString() }]);
});
