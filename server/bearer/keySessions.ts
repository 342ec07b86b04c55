import type { DeploymentRecord } from '../deployments/types.js';
import type { SessionStore } from '../sessions/store.js';

/**
 * A deploy started with X-Render-Api-Key (server/bearer/middleware.ts) ran on a session of its own
 * that holds only that key: when the deploy ends (the worker finished it, or its owner canceled it),
 * the session and the sealed key in it are deleted. Any other session is left alone. `rec` is a
 * verified record as the caller holds it: its session never changes, so it is not read again.
 */
export async function discardKeySessionOf(deps: { sessions: SessionStore }, rec: Pick<DeploymentRecord, 'sessionRef'>): Promise<void> {
  if (!rec.sessionRef) return;
  const sess = await deps.sessions.loadByRef(rec.sessionRef);
  if (sess?.ephemeral && sess.user) await deps.sessions.discard(rec.sessionRef, sess.user.id);
}
