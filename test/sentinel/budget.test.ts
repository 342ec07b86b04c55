import test from 'ava';
import { RENDER_DOCUMENTED_LIMITS } from '../../server/render/budget.js';
import { enable, startSentinelStack, tenant, type SentinelStack } from './support.js';
import { addNodeRepo, waitFinished } from '../helpers/pipeline.js';

// Reads: 40 per 20 s for this key (shared by deploys and Sentinel); Sentinel's 10% share is 4.
const READ = { limit: 40, windowMs: 20_000 };
const SHARE = Math.floor(READ.limit * 0.1);

let s: SentinelStack;
test.before(async () => { s = await startSentinelStack({ renderLimits: { ...RENDER_DOCUMENTED_LIMITS, read: READ } }); });
test.after.always(async () => { await s?.close(); });

test('under a deploy burst Sentinel never takes more than its 10% share of the key\'s reads, deploys all finish, Render never answers 429', async (t) => {
  t.timeout(180_000);
  const fay = await tenant(s.stack, 'fay-budget', ['a', 'b', 'c']);
  await enable(fay.agent); // rounds every second, each wanting audit + services + 3 event reads
  const names = Array.from({ length: 6 }, (_, i) => `burst${i}`);
  for (const n of names) addNodeRepo(s.stack, 'fay-budget', n);
  const ids: string[] = [];
  for (const n of names) {
    const res = await fay.agent.post('/api/render/deploy', { github_repo: `fay-budget/${n}`, project_name: n });
    t.is(res.status, 202, res.text);
    ids.push(res.json.id);
  }
  for (const id of ids) t.is((await waitFinished(fay.agent, id, 150_000)).status, 'live');
  await new Promise((r) => setTimeout(r, 3_000)); // Sentinel keeps running after the burst

  const calls = s.stack.render.calls.filter((c) => c.accountId === fay.accountId && c.method === 'GET');
  const sentinel = calls.filter((c) => c.route === '/owners/{ownerId}/audit-logs' || c.route === '/services/{serviceId}/events' || (c.route === '/services' && !c.query.includes('name=')));
  t.true(sentinel.length > 0, 'Sentinel ran');
  // Any window a little shorter than the budget's (clock skew between Redis and the simulator) holds at most SHARE Sentinel reads.
  const times = sentinel.map((c) => c.at).sort((a, b) => a - b);
  let worst = 0;
  for (let i = 0; i < times.length; i++) {
    let j = i;
    while (j < times.length && times[j]! - times[i]! < READ.windowMs - 500) j++;
    worst = Math.max(worst, j - i);
  }
  t.true(worst <= SHARE, `Sentinel made ${worst} reads within one window (share ${SHARE})`);
  t.is(s.stack.render.stats().rateLimited, 0);
  t.true(calls.length > sentinel.length, 'deploys read too');
});
