import type { Keyring } from '../crypto/keyring.js';
import type { SessionStore } from '../sessions/store.js';
import { openRenderKey } from '../sessions/credentials.js';

/**
 * Which watching session's Render key a log tail reads with (server/deployments/logTail.ts). They are
 * all the owner's, but not all on one Render account: the key the deployment was made with when one
 * of them has it (another session's may be another account's, which has no such service), else the
 * first usable one (a key rotated since). `onDeploymentKey`: a 404 on it means Render has no such deploy.
 */
export async function tailKey(
  deps: { sessions: Pick<SessionStore, 'loadByRef'>; keyring: Keyring },
  refs: Iterable<string>, userId: number, keyFingerprint: string,
): Promise<{ apiKey: string; fingerprint: string; onDeploymentKey: boolean } | null> {
  let chosen: { apiKey: string; fingerprint: string } | null = null;
  for (const ref of refs) {
    const sess = await deps.sessions.loadByRef(ref);
    if (!sess?.user || sess.user.id !== userId || !sess.render) continue;
    const apiKey = openRenderKey(sess, deps.keyring);
    if (!apiKey) continue;
    if (!chosen || sess.render.keyFingerprint === keyFingerprint) chosen = { apiKey, fingerprint: sess.render.keyFingerprint };
    if (chosen.fingerprint === keyFingerprint) break;
  }
  return chosen && { ...chosen, onDeploymentKey: chosen.fingerprint === keyFingerprint };
}

/**
 * A key withdrawn from every session following the tail (sign-out, key cleared or replaced) while a
 * poll was at Render: that poll ends before its next call (logTail.ts `clientFor`).
 */
export class TailKeyWithdrawn extends Error {
  constructor() {
    super('the log tail\'s Render key was withdrawn during its poll');
    this.name = 'TailKeyWithdrawn';
  }
}

/**
 * Whether a session among `refs` still holds the key `keyFingerprint` names: asked before each Render
 * call of a poll, not only at its start. Through the session cache (no round trip on a hit); a sign-out,
 * a key cleared or replaced is answered only once every process has dropped its copy (sessions/fence.ts).
 */
export async function keyStillHeld(
  deps: { sessions: Pick<SessionStore, 'loadByRef'> }, refs: Iterable<string>, userId: number, keyFingerprint: string,
): Promise<boolean> {
  for (const ref of refs) {
    const sess = await deps.sessions.loadByRef(ref);
    if (sess?.user?.id === userId && sess.render?.keyFingerprint === keyFingerprint) return true;
  }
  return false;
}
