import test from 'ava';
import Router from '@koa/router';
import { memoizeMatch } from '../../server/middleware/memoRouter.js';

// The router's match memo (server/middleware/memoRouter.ts) is keyed by paths anyone can make up: a
// scan of unique or very long paths must neither grow it without bound nor push out the real paths.
function countedRouter() {
  const router = new Router();
  router.get('/api/things/:id', () => undefined);
  const original = router.match.bind(router);
  let calls = 0;
  router.match = ((path: string, method: string) => { calls += 1; return original(path, method); });
  memoizeMatch(router);
  return { router, calls: () => calls };
}

test('a real path is matched once, then remembered, and each answer is a copy the router may append to', (t) => {
  const { router, calls } = countedRouter();
  const first = router.match('/api/things/1', 'GET');
  first.path.push(first.path[0]!);
  const second = router.match('/api/things/1', 'GET');
  t.true(second.route);
  t.is(second.path.length, 1, 'the remembered answer was not changed through an earlier copy');
  t.is(calls(), 1);
});

test('made-up paths (404s) and very long ones are matched each time and never crowd out the real ones', (t) => {
  const { router, calls } = countedRouter();
  router.match('/api/things/1', 'GET');
  for (let i = 0; i < 5_000; i++) t.false(router.match(`/scan/${i}`, 'GET').route);
  const long = `/api/things/${'x'.repeat(10_000)}`;
  t.true(router.match(long, 'GET').route);
  t.true(router.match(long, 'GET').route);
  const before = calls();
  t.true(router.match('/api/things/1', 'GET').route);
  t.is(calls(), before, 'the real path is still remembered after 5,000 unknown ones');
  t.is(before, 1 + 5_000 + 2, 'unknown and long paths are matched every time, not remembered');
});
