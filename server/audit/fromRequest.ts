import type Koa from 'koa';
import { clientHash } from '../security/clientHash.js';
import type { AuditDetail } from './types.js';

/**
 * Where a request came from, in audit terms: ip, a hash of the user agent, method and route.
 * The route is the router's template when one matched (ids stay out of it), else the path with any
 * long or odd segment replaced, so a secret pasted into a URL never reaches the trail.
 */
export function requestDetail(ctx: Koa.Context): AuditDetail {
  const matched = (ctx as unknown as { _matchedRoute?: unknown })._matchedRoute;
  const route = typeof matched === 'string' ? matched : safePath(ctx.path);
  return { ip: plainIp(ctx.ip), uaHash: clientHash(ctx), method: ctx.method, route };
}

function safePath(path: string): string {
  const segments = path.split('/').slice(1, 12).map((s) => (/^[A-Za-z0-9._-]{1,40}$/.test(s) && !/^(rnd|gh[pousr])_/i.test(s) ? s : ':x'));
  return `/${segments.join('/')}`;
}

/** Node reports IPv4 clients on dual-stack sockets as ::ffff:a.b.c.d; keep the plain form. */
function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
