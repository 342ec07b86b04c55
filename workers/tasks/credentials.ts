import { openGithubToken, openRenderKey } from '../../server/sessions/credentials.js';
import type { DeploymentRecord } from '../../server/deployments/types.js';
import type { WorkerContext } from '../context.js';

export interface JobCredentials { renderKey: string; githubToken: string | null }

/**
 * The key comes from the session that asked for the deploy, never from the job. No session, another
 * user, no key, or a different key than the one the deploy was requested with → null (revoked).
 */
export async function loadCredentials(ctx: WorkerContext, rec: DeploymentRecord): Promise<JobCredentials | null> {
  const found = await credentialsOrWhyNot(ctx, rec);
  return typeof found === 'string' ? null : found;
}

/** loadCredentials, or why there are none: `key_replaced` when the session holds another key now. */
export async function credentialsOrWhyNot(ctx: WorkerContext, rec: DeploymentRecord): Promise<JobCredentials | 'ended' | 'key_replaced'> {
  const sess = await ctx.sessions.loadByRef(rec.sessionRef);
  if (!sess?.user || sess.user.id !== rec.userId) return 'ended';
  const renderKey = openRenderKey(sess, ctx.keyring);
  if (!renderKey) return 'ended';
  // Compare with the fingerprint the session recorded for its key, not one recomputed here: it was
  // made with the SECRET_KEY of its day, and stays valid across a key rotation.
  if (sess.render?.keyFingerprint !== rec.keyFingerprint) return 'key_replaced';
  return { renderKey, githubToken: openGithubToken(sess, ctx.keyring) };
}
