import type { Context, Middleware } from 'koa';
import { errors } from '../errors.js';
import { safeEqual } from '../crypto/keyring.js';
import { bearerSessionId, getSession } from '../sessions/middleware.js';
import { tagged } from '../openapi/describe.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Same-origin check for state-changing requests: a present Origin must be ours or one in CORS_ORIGINS,
 * and Fetch Metadata must not say cross-site, unless the Origin is one of CORS_ORIGINS (a front end on
 * another site: its fetch carries no SameSite=Lax cookie, so it can only act with a bearer token).
 * Koa 3's ctx.origin echoes the request's Origin, so the comparison is against configuration only.
 */
export function sameOrigin(own: string, corsOrigins: readonly string[]): Middleware {
  const listed = new Set(corsOrigins);
  return async (ctx, next) => {
    if (!SAFE_METHODS.has(ctx.method)) {
      const origin = ctx.get('origin');
      const isListed = listed.has(origin);
      if (origin && origin !== own && !isListed) throw errors.originRejected();
      if (ctx.get('sec-fetch-site') === 'cross-site' && !isListed) throw errors.originRejected();
    }
    await next();
  };
}

/** What the cross-site check covers: the API, but sign-in (the OAuth return is another site's navigation by design). */
export const crossSiteCovers = (path: string) => path.startsWith('/api/') && !path.startsWith('/api/auth/');

/**
 * The API used with the session cookie by a page on another site: refused (403) before the session is
 * read. GETs pass sameOrigin, and a link on another site opened as a page (or one opened in a popup)
 * carries the SameSite=Lax cookie: its answer shows in the user's own tab (the other site cannot read it),
 * but it counts as theirs. A reveal made Render log a read of the value under their key and our trail a
 * reveal; someone else's deployment id got the visitor reported as a cross-tenant prober (audit, Slack);
 * a few loads spent their per-user limits. Fetch Metadata says where a browser's request comes from: our
 * pages (`same-origin`), a typed address (`none`), clients that send none, bearer requests (no cookie)
 * and a listed CORS origin's fetch pass; so does a request with no session cookie (nothing of a user's).
 */
export function crossSiteCookieUse(corsOrigins: readonly string[], cookieName: string): Middleware {
  const listed = new Set(corsOrigins);
  return async (ctx, next) => {
    const site = ctx.get('sec-fetch-site');
    if ((site === 'cross-site' || site === 'same-site') && ctx.state.auth !== 'bearer' && crossSiteCovers(ctx.path)
      && !listed.has(ctx.get('origin')) && ctx.cookies.get(cookieName) !== undefined) throw errors.originRejected();
    await next();
  };
}

// requireUser lives with the typed request context it fills (ctx.state.user, .session, .sessionId).
export { requireUser } from './context.js';

/**
 * Synchronizer token: X-CSRF-Token header (or _csrf form field) must equal the session's token.
 * Bearer requests need none: they read no cookie, so a browser cannot be made to send one.
 *
 * Every state-changing route passes here, so here too a query string on one is refused (after the token,
 * which never counts in the URL): no such route reads one, and a field put there instead of the body was
 * dropped unseen ("POST …/redeploy?commit_sha=…" redeployed the branch's head, "DELETE …?dry_run=true"
 * deleted the service).
 */
export function requireCsrf(): Middleware {
  return tagged(async (ctx, next) => {
    if (!SAFE_METHODS.has(ctx.method)) {
      if (!bearerSessionId(ctx)) {
        const expected = getSession(ctx)?.csrfToken;
        const body = ctx.request.body as Record<string, unknown> | undefined;
        const given = ctx.get('x-csrf-token') || (typeof body?._csrf === 'string' ? body._csrf : '');
        if (!expected || !given || !safeEqual(given, expected)) throw errors.csrfFailed();
      }
      if (ctx.querystring !== '') throw errors.validation('This request takes no query string: send its fields in the request body.');
    }
    await next();
  }, { kind: 'csrf' });
}

/**
 * Middleware that only matters for requests that can change something (body parsing, same-origin):
 * GET, HEAD and OPTIONS skip it without another async layer (an authenticated GET passes ~15).
 */
export function forUnsafeMethods(mw: Middleware): Middleware {
  return (ctx, next) => (SAFE_METHODS.has(ctx.method) ? next() : (mw(ctx, next) as Promise<void>));
}

type HeaderValue = number | string | readonly string[];
type HeaderOp = { set: string; value: HeaderValue } | { remove: string };

/**
 * Headers that do not depend on the request, set without running the middleware that makes them:
 * `headers` (helmet, with our options: fixed directives, no per-request nonces) runs once, on the
 * first request, against a response that records what it sets and removes; every response then gets
 * the same operations directly. koa-helmet runs helmet's chain of a dozen middleware through a
 * promise on every request, a few µs of an authenticated GET (see bench/). With `noStoreApi`, also
 * `Cache-Control: no-store` on /api/ (responses are per-user: never cached anywhere), in the same
 * layer and before next(), so error responses carry it too (and on /healthz, /readyz and /mcp); with `uiRelease`, `X-UI-Release` on /api/ (the
 * UI release this process serves: a tab still running an older one offers a reload, server/routes/ui.ts).
 */
/** Answers outside /api/ that are no document either: a probe's state or an MCP call's, never to be cached. */
const NO_STORE_OUTSIDE_API = new Set(['/healthz', '/readyz', '/mcp']);

export function fixedHeaders(headers: Middleware, opts: { noStoreApi?: boolean; uiRelease?: string } = {}): Middleware {
  let recorded: Promise<HeaderOp[]> | undefined;
  let ops: HeaderOp[] | undefined; // once recorded: applied without awaiting a promise per request
  const record = async (ctx: Context): Promise<HeaderOp[]> => {
    const found: HeaderOp[] = [];
    const res = {
      // Lower-cased once here: Node keys its header table by the lower-cased name, and lower-casing an
      // already lower-case literal is free, where each mixed-case name cost a new string and a string-table
      // lookup per response (~1.5% of an authenticated GET; bench/README.md, api). Names are case-insensitive.
      setHeader(name: string, value: HeaderValue) { found.push({ set: name.toLowerCase(), value }); return res; },
      removeHeader(name: string) { found.push({ remove: name }); },
    };
    await headers({ req: ctx.req, res } as unknown as Context, async () => {});
    return (ops = found);
  };
  const apply = (ctx: Context, list: HeaderOp[]) => {
    for (const op of list) {
      if ('set' in op) ctx.res.setHeader(op.set, op.value);
      else ctx.res.removeHeader(op.remove);
    }
    if (ctx.path.startsWith('/api/')) {
      if (opts.noStoreApi) ctx.res.setHeader('cache-control', 'no-store');
      if (opts.uiRelease) ctx.res.setHeader('x-ui-release', opts.uiRelease);
    } else if (opts.noStoreApi && NO_STORE_OUTSIDE_API.has(ctx.path)) {
      ctx.res.setHeader('cache-control', 'no-store');
    }
  };
  // Not an async function: once recorded, the layer hands next()'s promise on instead of awaiting it.
  return (ctx, next) => {
    if (ops) { apply(ctx, ops); return next(); }
    return (recorded ??= record(ctx).catch((err: unknown) => { recorded = undefined; throw err; })).then((list) => { apply(ctx, list); return next(); });
  };
}
