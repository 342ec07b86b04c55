import test from 'ava';
import { randomBytes } from 'node:crypto';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { createRenderClient } from '../../server/render/client.js';
import { BudgetExhausted } from '../../server/render/budget.js';
import { createKeyring } from '../../server/crypto/keyring.js';
import { runRound } from '../../server/sentinel/watcher.js';
import { createSentinelStore } from '../../server/sentinel/store.js';
import type { Finding } from '../../server/sentinel/types.js';
import { startTestRedis } from '../helpers/redis.js';

// A service's events are read page by page (newest first). When Sentinel's budget share is spent after
// the first page, what was read counts, as for app logs: otherwise a service busier than one page since
// its cursor is read again from its newest page every round, and never gets past it while the budget
// runs out at the same place, so even the newest page's findings are never reported.

test('the budget spent on a service\'s second events page: the first page\'s findings are reported, its cursor moves', async (t) => {
  const r = await startTestRedis();
  const render = await startRenderSimulator();
  t.teardown(async () => { await render.close(); await r.stop(); });
  const apiKey = `rnd_evbudget${'k'.repeat(24)}`;
  render.addAccount({ apiKey, workspaces: [{ name: 'evbudget ws' }] });
  const plain = createRenderClient({ baseUrl: render.url, apiKey });
  const [owner] = await plain.listOwners();
  const { service } = await plain.createService({
    type: 'web_service', name: 'busy', ownerId: owner!.id, repo: 'https://github.com/evbudget/busy', branch: 'main', autoDeploy: 'no',
    serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
  });
  // A busy stretch, more than a page, then the OOM: the newest event, on the first page.
  for (let i = 0; i < 80; i++) render.addServiceEvent(service!.id, i % 2 ? 'deploy_started' : 'build_started');
  render.addServiceEvent(service!.id, 'server_failed', { reason: { oomKilled: { memoryLimit: '512Mi' } } });

  // Sentinel's share of the key's budget: one events page a round (what a spent share answers after it).
  let eventPages = 0;
  const client = createRenderClient({
    baseUrl: render.url, apiKey,
    beforeRequest: async (call) => {
      if (call.route === '/services/{serviceId}/events' && eventPages++ % 2 === 1) throw new BudgetExhausted(30_000, 'read');
    },
  });
  const store = createSentinelStore({ redis: r.client, prefix: r.prefix, keyring: createKeyring(randomBytes(32)), absoluteMs: 3_600_000 });
  const found: Finding[] = [];
  // The watch's settings (the rounds write only while they are current; their record is not read here).
  await r.client.hset(store.keys.settings(1), 'gen', 'g1');
  for (let round = 0; round < 2; round++) {
    const { round, status, cursors } = await store.beginRound(1, 60_000);
    await runRound({ userId: 1, round, ownerIds: [owner!.id], client, store, retired: { redis: r.client, prefix: r.prefix, keyring: createKeyring(randomBytes(32)) }, now: Date.now, onFinding: async (f, isNew) => { if (isNew) found.push(f); }, status, cursors });
    await store.endRound(1, round, status, cursors, { nowMs: Date.now() });
  }
  t.deepEqual(found.map((f) => f.rule), ['server_oom']);
});
