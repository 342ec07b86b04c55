import type Koa from 'koa';
import type { Redis } from 'ioredis';
import type { LimitRule, SecurityLimits } from './options.js';
import { byIp, byUser, createLimiter, limitRequests, type KeyOf } from './rateLimits.js';
import { tagged } from '../openapi/describe.js';

/** The limits that guard a route (the others in SecurityLimits are thresholds, not request limits). */
export type RouteLimitName = { [K in keyof SecurityLimits]: SecurityLimits[K] extends LimitRule ? K : never }[keyof SecurityLimits];

const TRY_LATER = 'Wait a few minutes, then try again.';

/**
 * Sign-in starts per network, and apart those another site's page made (Fetch Metadata cross-site or
 * same-site: a link, or a popup such a page opens again and again). Those spent the allowance of
 * everyone behind the visitor's address (an office's NAT) down to nobody signing in; our own Sign in
 * button (same-origin), a typed address (none) and clients without Fetch Metadata keep theirs.
 */
const byIpAndInitiator: KeyOf = (ctx) => {
  const network = byIp(ctx);
  const site = ctx.get('sec-fetch-site');
  return network === null ? null : site === 'cross-site' || site === 'same-site' ? `${network}|other-site` : network;
};

/** Who each limit counts (an IP before sign-in, the user after) and what the 429 says. */
const ROUTE_LIMITS: Record<RouteLimitName, { keyOf: KeyOf; message: string }> = {
  signInStart: { keyOf: byIpAndInitiator, message: 'Too many sign-in attempts from your network. Wait a few minutes, then sign in again.' },
  signInCallback: { keyOf: byIp, message: 'Too many sign-in attempts from your network. Wait a few minutes, then sign in again.' },
  keySetup: { keyOf: byIp, message: `Too many Render key attempts from your network. ${TRY_LATER}` },
  keySetupPerUser: { keyOf: byUser, message: `Too many Render key changes on your account. ${TRY_LATER}` },
  keyClear: { keyOf: byUser, message: `Too many requests to clear the Render key. ${TRY_LATER}` },
  signOut: { keyOf: byUser, message: `Too many sign-outs in a short time. ${TRY_LATER}` },
  deploys: { keyOf: byUser, message: 'You are requesting deploys faster than allowed. Wait a moment; deploys already requested keep running.' },
  lifecycle: { keyOf: byUser, message: 'Too many service changes in a short time. Wait a moment, then try again.' },
  serviceSettings: { keyOf: byUser, message: 'Too many settings changes in a short time. Wait a moment, then try again; nothing was changed.' },
  serviceLookups: { keyOf: byUser, message: 'Too many service look-ups in a short time. Wait a moment, then try again.' },
  githubReads: { keyOf: byUser, message: 'Too many GitHub lookups in a short time. Wait a moment, then try again.' },
  detect: { keyOf: byUser, message: 'Too many stack detections in a short time. Wait a moment, then pick the repository again.' },
  sentinelSettings: { keyOf: byUser, message: `Too many Sentinel changes in a short time. ${TRY_LATER}` },
  sentinelTest: { keyOf: byUser, message: `Too many test messages. ${TRY_LATER}` },
};

export interface RouteLimits {
  /** Middleware for a route's chain: one point per request, 429 rate_limited with Retry-After beyond the limit. */
  guard(name: RouteLimitName): Koa.Middleware;
}

/**
 * Every request limit, built once in the composition root. Routes name their limit in their own
 * chain (`deps.rateLimits.guard('lifecycle')`), after the user and CSRF checks, so the limit is
 * visible where the route is declared and a refused request has done nothing yet.
 */
export function createRouteLimits(opts: { redis: Redis; prefix: string; limits: SecurityLimits }): RouteLimits {
  const guards = new Map<RouteLimitName, Koa.Middleware>();
  return {
    guard(name) {
      let mw = guards.get(name);
      if (!mw) {
        const { keyOf, message } = ROUTE_LIMITS[name];
        // Limiter key prefixes keep their historical names where they existed (rl:signin-start, …).
        mw = tagged(limitRequests(createLimiter(opts.redis, opts.prefix, LIMITER_NAMES[name], opts.limits[name]), keyOf, message), { kind: 'rateLimit', name });
        guards.set(name, mw);
      }
      return mw;
    },
  };
}

const LIMITER_NAMES: Record<RouteLimitName, string> = {
  signInStart: 'signin-start', signInCallback: 'signin-callback', keySetup: 'key-setup', keySetupPerUser: 'key-setup-user',
  keyClear: 'key-clear', signOut: 'sign-out', deploys: 'deploys', lifecycle: 'lifecycle', serviceSettings: 'service-settings', serviceLookups: 'service-lookups', githubReads: 'github-reads', detect: 'detect',
  sentinelSettings: 'sentinel-settings', sentinelTest: 'sentinel-test',
};
