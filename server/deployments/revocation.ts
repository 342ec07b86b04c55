import type { DeploymentFailure, DeploymentRecord, DeploymentStatus } from './types.js';

// Signing out, clearing or replacing the key, or a session ending on its own stops what this app does
// with that key at once (requests.ts revokeForSession, or the worker finding the key gone). What Render
// already has for the deployment is not canceled there: that needs the key after the consent to use it
// ended, and no key outlives its session (SECURITY.md); a deploy Render queued behind another can only
// be canceled once it starts, which may be long after. The reason the record gives says so.

/** Our phases before anything is asked of Render (a service or a deploy). */
const BEFORE_RENDER = new Set<DeploymentStatus>(['queued', 'verifying', 'detecting']);

/** Whether Render may have a deploy of it by now: a service created or asked for, a deploy asked for or running. */
export const mayRunOnRender = (rec: Pick<DeploymentRecord, 'status' | 'deployId' | 'deployRequestedAt'>): boolean =>
  !BEFORE_RENDER.has(rec.status) || Boolean(rec.deployId || rec.deployRequestedAt);

const WHY = {
  request: 'Stopped because you signed out or cleared your Render key',
  worker: 'Your session ended or the Render key was cleared, so this deploy was stopped',
  // Another key (another Render account, maybe) was connected in the session that asked for it.
  requestKeyChanged: 'Stopped because you connected another Render key',
  workerKeyChanged: 'The session\'s Render key was replaced by another, so this deploy was stopped',
  // A session ending otherwise than by the user's sign-out: said as it happened (each read "you signed out or cleared your Render key").
  expired: 'Your session expired (after a while without use, or at its time limit), so this deploy was stopped',
  tokenRevoked: 'GitHub no longer accepts your sign-in (its authorization was revoked or expired), so your session ended and this deploy was stopped',
  clientChanged: 'Your session was used from another browser or app and was ended to protect your account, so this deploy was stopped',
  signedInAgain: 'You signed in again in this browser, which ended the session that asked for it, so this deploy was stopped',
};

/** Who found the key gone (the request that withdrew it, or the worker), and what withdrew it: a sign-out or clear, another key, or how the session ended. */
export type RevokedBy = keyof typeof WHY;

/** The credentials_revoked reason for `rec` as it stands when the revocation is written; `by`: who found the key gone. */
export function revokedFailure(rec: Pick<DeploymentRecord, 'status' | 'deployId' | 'deployRequestedAt'>, by: RevokedBy): DeploymentFailure {
  if (!mayRunOnRender(rec)) {
    const signInAgain = ' Sign in, connect your key and deploy again.';
    const next = {
      worker: signInAgain, workerKeyChanged: ' Deploy again to make it with the key connected now.', request: '', requestKeyChanged: '',
      expired: signInAgain, tokenRevoked: signInAgain, clientChanged: signInAgain, signedInAgain: ' Connect your key and deploy again.',
    }[by];
    return { code: 'credentials_revoked', message: `${WHY[by]}.${next}` };
  }
  return {
    code: 'credentials_revoked',
    message: `${WHY[by]}, in this app only: it no longer uses the key, so it did not cancel the deploy Render already has. `
      + 'Render may still build it and make it live: check the service\'s deploys in the Render dashboard, and cancel it there if it should not run.',
  };
}
