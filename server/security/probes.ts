import type Koa from 'koa';
import type { Redis } from 'ioredis';
import type { RateLimiterRedis } from 'rate-limiter-flexible';
import type { DeploymentStore } from '../deployments/store.js';
import { getSession } from '../sessions/middleware.js';
import { requestDetail } from '../audit/fromRequest.js';
import { countOccurrence } from './rateLimits.js';
import type { SecurityEvents } from './events.js';
import type { AuditLog } from '../audit/auditLog.js';
import type { Logger } from '../logger.js';

export type ProbedResource = 'deployment' | 'service';

const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** How the id of a 404 was asked for. */
export interface NotFoundRead {
  /** Where the id came from when it is not the route's `:id` (a query parameter). */
  id?: string;
  /**
   * The UI says it read the id from its page address (X-Opened-From: address on a read, ?opened=address on
   * the live stream): a link someone shared, or another site's link to this app's page. Any client can say
   * so, so it only turns the at-once "foreign id" event into a note (still counted toward the many-404s
   * event), and only for cookie sessions: the UI never uses a bearer one.
   */
  openedFromAddress?: boolean;
}

/**
 * Cross-tenant probes. Every such 404 looks like a missing id to the caller; here we look closer:
 * a deployment id that exists but belongs to someone else is a probe at once (ids are random, so
 * holding one means it leaked), and many 404s on ids in a short window are a probe too (scanning,
 * or trying service ids against Render through our server).
 *
 * Aggregated: at most one event (one global audit entry, one alert) per user per window, written
 * when the first probe of the window qualifies and carrying the count of 404s so far. A prober
 * hammering someone else's id adds to a counter, not to the audit chain (issue 11 part 4).
 */
export function createProbeDetector(opts: {
  counter: RateLimiterRedis; threshold: number; windowSec: number; deployments: DeploymentStore; events: SecurityEvents; redis: Redis; prefix: string;
  audit: AuditLog; logger: Logger;
}) {
  return async (ctx: Koa.Context, resource: ProbedResource, how: NotFoundRead = {}): Promise<void> => {
    const session = getSession(ctx);
    const user = session?.user;
    if (!user) return;
    const params: unknown = ctx.params;
    const id = how.id ?? (params && typeof params === 'object' && 'id' in params && typeof params.id === 'string' ? params.id : '');
    let foreign = false;
    if (resource === 'deployment' && ID.test(id)) {
      const rec = await opts.deployments.get(id);
      foreign = Boolean(rec && rec.userId !== user.id);
    }
    if (foreign && how.openedFromAddress && !session.bearer) {
      // Not a probe by itself: noted (once a window), and counted.
      foreign = false;
      await noteOpenedFromAddress(ctx, user.id, id);
    }
    const count = await countOccurrence(opts.counter, `user:${user.id}`);
    if (!foreign && count < opts.threshold) return;
    const first = await opts.redis.set(`${opts.prefix}:rl:probe-reported:user:${user.id}`, '1', 'EX', opts.windowSec, 'NX');
    if (first !== 'OK') return;
    // Global chain only: in the prober's own trail, "foreign_id" would confirm what the 404 hides.
    await opts.events.raise({
      type: 'cross_tenant_probe', userId: user.id, login: user.login, subject: `user:${user.id}`, outcome: 'denied', globalOnly: true,
      detail: {
        ...requestDetail(ctx), resource, count,
        ...(ID.test(id) ? (resource === 'deployment' ? { deploymentId: id } : { serviceId: id }) : {}),
        reason: foreign ? 'foreign_id' : 'many_not_found',
      },
    });
  };

  async function noteOpenedFromAddress(ctx: Koa.Context, userId: number, deploymentId: string): Promise<void> {
    try {
      const first = await opts.redis.set(`${opts.prefix}:rl:probe-address-noted:user:${userId}`, '1', 'EX', opts.windowSec, 'NX');
      if (first !== 'OK') return;
      await opts.audit.append({
        userId, action: 'security', outcome: 'denied', globalOnly: true,
        detail: { ...requestDetail(ctx), resource: 'deployment', deploymentId, reason: 'foreign_id_in_page_address' },
      });
    } catch (err) {
      opts.logger.error({ err: { message: (err as Error).message } }, 'audit append failed');
    }
  }
}
