import type Koa from 'koa';
import type { AppDeps } from '../deps.js';
import { errors } from '../errors.js';
import { getSession } from '../sessions/middleware.js';
import { openRenderKey } from '../sessions/credentials.js';
import type { RenderClient } from './client.js';
import { AUDITED_READS, noteSelfCall } from '../sentinel/store.js';
import { tagged } from '../openapi/describe.js';

export interface CallerRender {
  client: RenderClient;
  keyFingerprint: string;
  ownerIds: string[];
  sessionRef: string;
}

/**
 * The caller's own Render client: their key (opened from their session for this request only),
 * spending from the same per-key budget the workers use. A web request waits up to 2 s for budget
 * (`budgetWaitMs`: longer for a download that must read every page), then gets a 429 with Retry-After.
 */
export function callerRender(deps: AppDeps, ctx: Koa.Context, opts: { budgetWaitMs?: number } = {}): CallerRender {
  const sess = getSession(ctx);
  const apiKey = openRenderKey(sess, deps.keyring);
  if (!apiKey || !sess.render) throw errors.renderKeyMissing();
  const fp = sess.render.keyFingerprint;
  return {
    client: deps.upstream.render(apiKey, {
      beforeRequest: async (call) => {
        await deps.budget.acquire(fp, call, opts.budgetWaitMs ?? 2_000);
        // Reads Render records in the audit log are noted first, so Sentinel does not report our own.
        const audited = call.method === 'GET' ? AUDITED_READS[call.route] : undefined;
        if (audited && call.serviceId && sess.user) await noteSelfCall(deps.redis, deps.config.redisPrefix, sess.user.id, audited, call.serviceId, deps.clock.now());
      },
    }),
    keyFingerprint: fp,
    ownerIds: sess.render.owners.map((o) => o.id),
    sessionRef: deps.sessions.refOf(ctx.session!.externalKey as string),
  };
}

/** Middleware form: 400 render_key_missing unless the session holds a verified key. */
export function requireRenderKey(): Koa.Middleware {
  return tagged(async (ctx, next) => {
    if (!getSession(ctx)?.render) throw errors.renderKeyMissing();
    await next();
  }, { kind: 'renderKey' });
}
