import type Koa from 'koa';
import { createHash } from 'node:crypto';
import { boundedMemo } from '../boundedMemo.js';

/**
 * Hash of the user agent: kept in the session at sign-in to notice it reused from a different client
 * (fingerprint.ts), and in audit entries instead of the user agent itself (audit/fromRequest.ts).
 */
export function clientHash(ctx: Koa.Context): string {
  const ua = ctx.get('user-agent');
  let hash = recentClientHashes.get(ua);
  if (hash === undefined) {
    hash = createHash('sha256').update(ua).digest('hex').slice(0, 16);
    // Checked on every signed-in request, and a process sees few distinct user agents: remember some.
    if (ua.length <= 512) recentClientHashes.set(ua, hash);
  }
  return hash;
}
const recentClientHashes = boundedMemo<string, string>(1_000);
