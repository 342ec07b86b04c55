import { fingerprint, open, seal, type Keyring } from '../crypto/keyring.js';
import type { AppSession, RenderOwner } from './types.js';

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

export function setRenderKey(sess: AppSession & { user: { id: number } }, apiKey: string, owners: RenderOwner[], now: number, keyring: Keyring): void {
  sess.render = {
    apiKeySealed: seal(apiKey, aad(sess.user.id, 'render-api-key'), keyring),
    keyFingerprint: fingerprint(apiKey, keyring),
    keyHint: apiKey.slice(-4),
    owners,
    verifiedAt: now,
  };
}

export function openRenderKey(sess: AppSession, keyring: Keyring): string | null {
  if (!sess.user || !sess.render) return null;
  try { return open(sess.render.apiKeySealed, aad(sess.user.id, 'render-api-key'), keyring); } catch { return null; }
}
