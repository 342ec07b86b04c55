import type Koa from 'koa';

/** Paths probes and Prometheus reach directly over Render's private network (plain http). */
const DIRECT_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The scheme the client used, as told by the one trusted proxy hop: the last X-Forwarded-Proto
 * entry, read exactly like the client IP (app.proxy with maxIpsCount 1 takes the last
 * X-Forwarded-For entry). Entries before it come from the client and are ignored.
 */
function forwardedProto(ctx: Koa.Context): 'http' | 'https' {
  const hops = ctx.get('x-forwarded-proto').split(',').map((p) => p.trim().toLowerCase()).filter(Boolean);
  return hops[hops.length - 1] === 'https' ? 'https' : 'http';
}

/**
 * http → https, mounted only with HTTPS_ONLY and TRUST_PROXY (without a trusted proxy the scheme is
 * unknown here and a redirect would loop). The target is always BASE_URL's origin plus the path and
 * query: never Host or X-Forwarded-Host, which the client chooses (an open redirect otherwise).
 */
export function httpsRedirect(baseOrigin: string): Koa.Middleware {
  const target = new URL(baseOrigin);
  target.protocol = 'https:';
  const origin = target.origin;
  return async (ctx, next) => {
    const proto = forwardedProto(ctx);
    // Koa's ctx.protocol / ctx.secure (and so Secure cookies) read the first entry: give them the trusted one.
    ctx.req.headers['x-forwarded-proto'] = proto;
    if (proto === 'https' || DIRECT_PATHS.has(ctx.path)) { await next(); return; }
    // ctx.path is the parsed path (an absolute-form request line cannot smuggle a host in).
    const path = ctx.path.startsWith('/') ? ctx.path : '/';
    ctx.status = 308;
    ctx.redirect(`${origin}${path}${ctx.search}`);
  };
}
