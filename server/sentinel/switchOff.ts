import type Koa from 'koa';
import type { AppDeps } from '../deps.js';
import type { createSentinelStore } from './store.js';
import { sentinelSettingsMessage } from './present.js';

type SentinelStore = ReturnType<typeof createSentinelStore>;

/** The user's other tabs hear of a settings change and read the settings again; a lost publish leaves them as stale as before. */
export async function announceSettingsChanged(deps: Pick<AppDeps, 'redis' | 'deployments'>, ctx: Koa.Context, userId: number): Promise<void> {
  await deps.redis.publish(deps.deployments.keys.channel(userId), sentinelSettingsMessage()).catch((err: unknown) => {
    ctx.state.log?.warn({ err: { message: (err as Error).message } }, 'sentinel: could not publish the settings change to the live channel');
  });
}

/**
 * Sentinel switched off, at once: the settings and what the watch owns go (a round in flight writes
 * nothing back: store.ts dropWatch), audited `turned_off` when this call removed a watch that was on
 * (`wasOn`: of two switches-off at once, one entry), and the user's other tabs told. Off from the
 * Sentinel page, or by clearing the key of the session that turned it on (routes/renderKey.ts).
 */
export async function switchWatchOff(deps: Pick<AppDeps, 'redis' | 'deployments' | 'security'>, ctx: Koa.Context, store: SentinelStore, userId: number, wasOn: boolean): Promise<void> {
  const removed = await store.dropWatch(userId);
  if (removed && wasOn) await deps.security.recordAudit(ctx, { userId, action: 'sentinel_settings', outcome: 'success', detail: { changes: ['turned_off'] } });
  await announceSettingsChanged(deps, ctx, userId);
}
