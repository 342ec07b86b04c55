import { boundedMemo } from '../boundedMemo.js';

/** What is used of @koa/router's Router (typed structurally: naming its generic types here upset the routes' inference). */
interface Matching<L> {
  stack: readonly unknown[];
  match(path: string, method: string): { path: L[]; pathAndMethod: L[]; route: boolean };
}

/** Method + path pairs remembered; past it the memory starts over (paths carry ids, so they are unbounded). */
const MATCH_MEMO_MAX = 2_000;
/** Longer paths are matched, not remembered: anyone can send unique long paths, and they would crowd out the real ones. */
const MATCH_MEMO_PATH_MAX = 256;

/**
 * @koa/router tests a request's path against every route's regular expression, in order (over a hundred
 * routes: a few µs of an authenticated GET, see bench/). The answer depends only on the method, the path
 * and the route table, and clients ask for the same few paths again and again, so `router.match` is
 * remembered per method + path while the table is unchanged. Each request gets arrays of its own: the
 * router appends to them (ctx.matched) and reads them later (allowedMethods).
 */
export function memoizeMatch<L>(router: Matching<L>): void {
  const match = router.match.bind(router);
  const memo = boundedMemo<string, ReturnType<Matching<L>['match']>>(MATCH_MEMO_MAX);
  let routes = -1;
  router.match = (path, method) => {
    if (router.stack.length !== routes) { memo.clear(); routes = router.stack.length; }
    if (path.length > MATCH_MEMO_PATH_MAX) return match(path, method);
    const key = `${method} ${path}`;
    let found = memo.get(key);
    if (!found) {
      found = match(path, method);
      // Only paths that reach a route: a scan of made-up paths (404s) must not wipe what real clients ask for.
      if (!found.route) return found;
      memo.set(key, found);
    }
    return { path: [...found.path], pathAndMethod: [...found.pathAndMethod], route: found.route };
  };
}
