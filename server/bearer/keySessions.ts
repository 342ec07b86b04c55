import type { DeploymentRecord } from '../deployments/types.js';
import type { DeploymentStore } from '../deployments/store.js';
import type { SessionStore } from '../sessions/store.js';

/**
 * A deploy started with X-Render-Api-Key (server/bearer/middleware.ts) ran on a session of its own
 * that holds only that key: when the deploy ends (the worker finished it, or its owner canceled it),
 * the session and the sealed key in it are deleted, unless another deploy started on it is still
 * unfinished (one POST /mcp may start several: a JSON-RPC batch); the last of them to end deletes it,
 * since each looks after its own end is written. Any other session is left alone. `rec` is a verified
 * record as the caller holds it: its session never changes, so it is not read again.
 */
export async function discardKeySessionOf(deps: { sessions: SessionStore; deployments: Pick<DeploymentStore, 'activeIds' | 'get'> }, rec: Pick<DeploymentRecord, 'sessionRef'>): Promise<void> {
  if (!rec.sessionRef) return;
  const sess = await deps.sessions.loadByRef(rec.sessionRef);
  if (!sess?.ephemeral || !sess.user) return;
  const active = await deps.deployments.activeIds(sess.user.id);
  // A record that fails its MAC holds nothing (it is refused wherever it is read).
  const others = await Promise.all(active.map((id) => deps.deployments.get(id).catch(() => null)));
  if (others.some((o) => o?.sessionRef === rec.sessionRef)) return;
  await deps.sessions.discard(rec.sessionRef, sess.user.id);
}
