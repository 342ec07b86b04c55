import { fingerprint, isStale, open, seal, type Keyring } from '../crypto/keyring.js';
import type { AppSession, RenderOwner, SessionRenderCredentials } from './types.js';

/**
 * Sealing and opening the two credentials a session holds. The AAD binds each ciphertext to its user
 * and purpose, so a sealed value copied into another user's record (or field) does not open.
 */
const aad = (userId: number, purpose: 'render-api-key' | 'github-token') => `user:${userId}:${purpose}`;

export function sealGithubToken(userId: number, token: string, keyring: Keyring): string {
  return seal(token, aad(userId, 'github-token'), keyring);
}

export function openGithubToken(sess: AppSession, keyring: Keyring): string | null {
  if (!sess.user || !sess.githubTokenSealed) return null;
  try { return open(sess.githubTokenSealed, aad(sess.user.id, 'github-token'), keyring); } catch { return null; }
}

/** Seal a verified Render key with what the session shows about it (hint, workspaces). */
export function sealRenderCredentials(userId: number, apiKey: string, owners: RenderOwner[], now: number, keyring: Keyring): SessionRenderCredentials {
  return {
    apiKeySealed: seal(apiKey, aad(userId, 'render-api-key'), keyring),
    keyFingerprint: fingerprint(apiKey, keyring),
    keyHint: apiKey.slice(-4),
    owners,
    verifiedAt: now,
  };
}

/** Put a Render key into a session object that is about to be created (SessionStore.create). */
export function setRenderKey(sess: AppSession & { user: { id: number } }, apiKey: string, owners: RenderOwner[], now: number, keyring: Keyring): void {
  sess.render = sealRenderCredentials(sess.user.id, apiKey, owners, now, keyring);
}

export function openRenderKey(sess: AppSession, keyring: Keyring): string | null {
  if (!sess.user || !sess.render) return null;
  try { return open(sess.render.apiKeySealed, aad(sess.user.id, 'render-api-key'), keyring); } catch { return null; }
}

/**
 * After a SECRET_KEY rotation: re-seal both credentials with the current key while the previous one
 * can still open them, so the session keeps working once the previous key is retired. The key's
 * fingerprint is left as it is: it is an opaque id (jobs and the per-key Render budget refer to it),
 * and changing it mid-session would split one key's budget in two. True when anything changed.
 */
export function resealCredentials(sess: AppSession, keyring: Keyring): boolean {
  if (!sess.user) return false;
  let changed = false;
  if (sess.githubTokenSealed && isStale(sess.githubTokenSealed, keyring)) {
    const token = openGithubToken(sess, keyring);
    if (token !== null) { sess.githubTokenSealed = sealGithubToken(sess.user.id, token, keyring); changed = true; }
  }
  if (sess.render && isStale(sess.render.apiKeySealed, keyring)) {
    const apiKey = openRenderKey(sess, keyring);
    if (apiKey !== null) { sess.render = { ...sess.render, apiKeySealed: seal(apiKey, aad(sess.user.id, 'render-api-key'), keyring) }; changed = true; }
  }
  return changed;
}
