import type { Redis } from 'ioredis';
import type { DeploymentRecord } from '../deployments/types.js';
import type { DeploymentStore } from '../deployments/store.js';
import type { SessionStore } from '../sessions/store.js';

/**
 * Set while the request that made a key session runs, as it may start more deploys on it (one POST
 * /mcp batch: a call still on its way when another call's deploy has already ended); its own end
 * decides then (server/bearer/middleware.ts). Bounded, so a web process that died mid-request leaves
 * nothing for longer than this; a request that outlives it is judged by its deploys alone.
 */
export const KEY_SESSION_OPEN_MS = 15 * 60_000;
export const keySessionOpenKey = (prefix: string, ref: string) => `${prefix}:keysess-open:${ref}`;

/**
 * A deploy started with X-Render-Api-Key (server/bearer/middleware.ts) ran on a session of its own
 * that holds only that key: when the deploy ends (the worker finished it, or its owner canceled it),
 * the session and the sealed key in it are deleted, unless another deploy started on it is still
 * unfinished (one POST /mcp may start several: a JSON-RPC batch) or the request that made it still
 * runs (it may yet start one); the last of them to end deletes it, since each looks after its own end
 * is written (the request drops its mark before it looks). Any other session is left alone. `rec` is
 * a verified record as the caller holds it: its session never changes, so it is not read again.
 */
export async function discardKeySessionOf(
  deps: { sessions: SessionStore; deployments: Pick<DeploymentStore, 'activeIds' | 'get'>; redis: Redis; config: { redisPrefix: string } },
  rec: Pick<DeploymentRecord, 'sessionRef'>,
): Promise<void> {
  if (!rec.sessionRef) return;
  const sess = await deps.sessions.loadByRef(rec.sessionRef);
  if (!sess?.ephemeral || !sess.user) return;
  if (await deps.redis.exists(keySessionOpenKey(deps.config.redisPrefix, rec.sessionRef))) return;
  const active = await deps.deployments.activeIds(sess.user.id);
  // A record that fails its MAC holds nothing (it is refused wherever it is read).
  const others = await Promise.all(active.map((id) => deps.deployments.get(id).catch(() => null)));
  if (others.some((o) => o?.sessionRef === rec.sessionRef)) return;
  await deps.sessions.discard(rec.sessionRef, sess.user.id);
}
