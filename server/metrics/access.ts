import { BlockList } from 'node:net';
import { createHash, timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';

// Loopback, RFC 1918, CGNAT (100.64/10) and IPv6 loopback/unique-local/link-local. IPv4-mapped IPv6
// addresses (::ffff:10.0.0.1) match the IPv4 rules.
const INTERNAL = new BlockList();
INTERNAL.addSubnet('127.0.0.0', 8, 'ipv4');
INTERNAL.addSubnet('10.0.0.0', 8, 'ipv4');
INTERNAL.addSubnet('172.16.0.0', 12, 'ipv4');
INTERNAL.addSubnet('192.168.0.0', 16, 'ipv4');
INTERNAL.addSubnet('100.64.0.0', 10, 'ipv4');
INTERNAL.addAddress('::1', 'ipv6');
INTERNAL.addSubnet('fc00::', 7, 'ipv6');
INTERNAL.addSubnet('fe80::', 10, 'ipv6');

export function isInternalAddress(address: string | undefined): boolean {
  if (!address) return false;
  try {
    return INTERNAL.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
  } catch {
    return false;
  }
}

/** Constant-time comparison that also hides the token's length (both sides are hashed first). */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Who may read /metrics:
 * - METRICS_TOKEN set: only `Authorization: Bearer <METRICS_TOKEN>`, from anywhere.
 * - METRICS_TOKEN unset: only direct connections from loopback or private addresses (Render's
 *   private network). A request that came through a proxy (it carries X-Forwarded-For or Forwarded,
 *   which Render's public edge always adds) is refused, because the proxy's own address is private.
 */
export function metricsAllowed(ctx: Koa.Context, token: string | null): boolean {
  if (token) {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(ctx.get('authorization'));
    return Boolean(m && tokenMatches(m[1]!, token));
  }
  if (ctx.get('x-forwarded-for') || ctx.get('forwarded')) return false;
  return isInternalAddress(ctx.req.socket.remoteAddress);
}
