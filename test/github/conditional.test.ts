import test from 'ava';
import { createConditionalCache } from '../../server/github/conditional.js';
import { createWritePacer } from '../../server/github/pacing.js';

test('the conditional cache keeps the most recently used answers within its entry and byte bounds', (t) => {
  const cache = createConditionalCache({ maxEntries: 2, maxBytes: 1_000, maxEntryBytes: 400 });
  const entry = (n: number) => ({ etag: `W/"${n}"`, data: { n }, headers: {} });
  cache.set('a', entry(1), 10);
  cache.set('b', entry(2), 10);
  t.deepEqual(cache.get('a')?.data, { n: 1 }); // a is now the most recent
  cache.set('c', entry(3), 10);
  t.is(cache.get('b'), undefined, 'the least recently used entry went first');
  t.truthy(cache.get('a'));
  t.truthy(cache.get('c'));
  cache.set('big', entry(4), 500);
  t.is(cache.get('big'), undefined, 'an answer over the entry limit is not kept');
  t.is(cache.size(), 2);
  cache.set('d', entry(5), 390);
  cache.set('e', entry(6), 390);
  cache.set('f', entry(7), 390);
  t.true(cache.size() <= 2);
  t.truthy(cache.get('f'));
});

test('the write pacer spaces one key\'s writes, runs other keys at once, and forgets idle keys', async (t) => {
  const pacer = createWritePacer(200);
  const started = Date.now();
  const at: Record<string, number> = {};
  const job = (name: string) => async () => { at[name] = Date.now() - started; return name; };
  const results = await Promise.all([pacer.run('k1', job('a')), pacer.run('k1', job('b')), pacer.run('k2', job('c'))]);
  t.deepEqual(results, ['a', 'b', 'c']);
  t.true(at.b! - at.a! >= 190, JSON.stringify(at));
  t.true(at.c! < 150, JSON.stringify(at));
  // A failed write releases the queue for the next one.
  await t.throwsAsync(pacer.run('k1', async () => { throw new Error('boom'); }), { message: 'boom' });
  t.is(await pacer.run('k1', job('d')), 'd');
  await new Promise((resolve) => setTimeout(resolve, 450));
  t.is(pacer.size(), 0);
});
