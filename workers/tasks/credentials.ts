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

/**
 * Whether the session that asked for `rec` still holds the key it was asked with: checked again right
 * before a call a run makes for a deployment that ended while the run was mid-step (a user's cancel
 * carried out on Render), since a sign-out, a cleared or replaced key may have come since the run loaded
 * its credentials, and a revoked consent is never used again (SECURITY.md).
 */
export async function keyStillConsented(ctx: WorkerContext, rec: DeploymentRecord): Promise<boolean> {
  return (await loadCredentials(ctx, rec).catch(() => null)) !== null;
}
