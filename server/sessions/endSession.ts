import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { AuditDetail, AuditInput } from '../audit/types.js';
import type { SecurityEvents } from '../security/events.js';
import type { SessionStore } from './store.js';
import type { SessionRenderCredentials } from './types.js';
import type { RevokedBy } from '../deployments/revocation.js';

/** Why a session (or its consent to use a Render key) ended. Sent to the session's live streams. */
export const SESSION_END_REASONS = ['signed_out', 'signed_in_again', 'expired', 'destroyed', 'key_cleared', 'key_changed', 'token_revoked', 'client_changed'] as const;
type SessionEndReason = typeof SESSION_END_REASONS[number];

/** The request that asked for an end, for its audit entry: its origin (requestDetail) and the user's login. */
interface EndRequest { login?: string; detail: AuditDetail }

interface SessionEndingDeps {
  sessions: SessionStore;
  /** Publishes on the session's end channel (any connection that is not a subscriber). */
  redis: Redis;
  logger: Logger;
  /** Stops the session's unfinished deploys (all of them, or only those made with one key). */
  /** `sessionRefs`: every name the session went by (a SECRET_KEY rotation moves it: sessions/records.ts). */
  /** `by`: what the stopped deploys' reason says ended them (revocation.ts: a sign-out, another key, an expiry, ...). */
  revokeDeploys(userId: number, sessionRefs: readonly string[], onlyKeyFingerprint?: string, by?: RevokedBy): Promise<number>;
  /** The audit trail: every end is recorded here (with the request that asked for it, when one did). */
  audit?: { append(input: AuditInput): Promise<unknown> };
  /** A changed client is a security event (audit entry, counter, alert), not a plain sign-out. */
  events?: Pick<SecurityEvents, 'raise'>;
}

/** The ways a request ends a session (`end`); expiry and a key cleared or replaced have calls of their own. */
type EndedByRequest = 'signed_out' | 'signed_in_again' | 'token_revoked' | 'client_changed';

/** What a stopped deploy's reason says of each way a session is ended by a request (revocation.ts). */
const REVOKED_BY: Record<EndedByRequest, RevokedBy> = {
  signed_out: 'request', signed_in_again: 'signedInAgain', token_revoked: 'tokenRevoked', client_changed: 'clientChanged',
};

/**
 * Ending a session, in one place: sign-out, a new sign-in over it, a changed client, a revoked bearer
 * token, expiry, and the two ways its consent to use a Render key ends (the key cleared or replaced).
 * Each one
 *   1. changes the record atomically (destroy + tombstone, or one credential-field update),
 *   2. stops the deploys that session started with the key that is no longer allowed,
 *   3. publishes the end on the session's channel, so its live streams close in every web process, and
 *   4. is audited, once (by the call that ended it): a sign-out (with the asking request's origin; an
 *      expiry with reason `expired`), a cleared key, or, for a changed client, the `client_changed` security event. A replaced key is
 *      audited by the key route as the new key's `render_key_set`; a revoked token is not audited
 *      (nobody asked: GitHub stopped accepting it).
 */
export function createSessionEnding(deps: SessionEndingDeps) {
  const { sessions, redis, logger } = deps;

  /**
   * On the channel of every name the session went by: a stream listens on the name its process found
   * the session under, and during a rolling SECRET_KEY rotation the other kind of process names it otherwise.
   */
  async function announce(refs: readonly string[], reason: SessionEndReason): Promise<void> {
    // Streams also re-check the session at each keepalive, so a lost publish only delays the close.
    await Promise.all(refs.map((ref) => redis.publish(sessions.keys.endChannel(ref), reason))).catch((err: unknown) => {
      logger.warn({ err: { message: (err as Error).message }, reason }, 'could not announce a session end');
    });
  }

  async function audit(input: AuditInput): Promise<void> {
    await deps.audit?.append(input).catch((err: unknown) => {
      logger.error({ err: { message: (err as Error).message }, action: input.action }, 'audit append failed (session end)');
    });
  }

  async function stopDeploys(userId: number, refs: readonly string[], onlyKeyFingerprint?: string, by: RevokedBy = 'request'): Promise<void> {
    await deps.revokeDeploys(userId, refs, onlyKeyFingerprint, by).catch((err: unknown) => {
      // The worker stops them anyway when it next loads the session (gone, or another key).
      logger.warn({ err: { message: (err as Error).message } }, 'could not revoke the ended session\'s deploys');
    });
  }

  return {
    /**
     * Destroy the session (it can never be written again), stop its deploys, close its streams, audit.
     * True when this call ended it (false: another request had already).
     */
    async end(ref: string, userId: number, reason: EndedByRequest, by?: EndRequest): Promise<boolean> {
      // Wherever a rotation moved it meanwhile (destroyByRef follows it), and by all its names.
      const ended = await sessions.destroyByRef(ref);
      const refs = ended?.refs ?? [ref];
      await stopDeploys(userId, refs, undefined, REVOKED_BY[reason]);
      await announce(refs, reason);
      // Already gone: another request ended it (a sign-out clicked twice, two tabs, a changed client
      // seen by two requests at once) and recorded that end. Stopping and announcing again is harmless;
      // a second entry (or security event and alert) would say the session ended twice.
      if (!ended) return false;
      const detail = { ...by?.detail, ...(by?.login ? { login: by.login } : {}) };
      if (reason === 'client_changed') {
        // The detail is the new client's (ip, user agent hash): what the user needs to judge it.
        await deps.events?.raise({ type: 'client_changed', userId, login: by?.login, subject: `user:${userId}`, outcome: 'denied', detail: by?.detail ?? {} });
      } else if (reason !== 'token_revoked') {
        await audit({ userId, action: 'sign_out', outcome: 'success', detail });
      }
      return true;
    },

    /** The store found the session expired, or the session middleware destroyed it: it is already gone. */
    async afterEnded(ended: { ref: string; refs: string[]; userId: number; reason: 'expired' | 'destroyed' }): Promise<void> {
      await stopDeploys(ended.userId, ended.refs, undefined, ended.reason === 'expired' ? 'expired' : 'request');
      await announce(ended.refs, ended.reason);
      // 'destroyed': the session middleware dropped a session (ctx.session = null on a pre-auth session), nothing to audit.
      if (ended.reason === 'expired') await audit({ userId: ended.userId, action: 'sign_out', outcome: 'success', detail: { reason: 'expired' } });
    },

    /**
     * Clear-credentials. False when no key was set (nothing happened, nothing is audited). Stops the
     * deploys made with the key it removed: another tab may connect a key and deploy with it while
     * this clear waits for the other processes (the fence), and that key was not cleared.
     */
    async clearKey(ref: string, userId: number, by?: EndRequest): Promise<boolean> {
      const refs = await sessions.refsOf(ref);
      const removed = await sessions.clearCredentials(ref);
      if (removed === null) return false;
      await stopDeploys(userId, refs, removed);
      await announce(refs, 'key_cleared');
      await audit({ userId, action: 'render_key_cleared', outcome: 'success', detail: by?.detail });
      return true;
    },

    /**
     * Store a verified key, only while the session still holds the key the request read (`readFingerprint`,
     * null: none). If it replaces a different one, what was started with the old key stops. 'ended' when
     * the session ended while the key was being verified, 'changed' when its key was cleared or replaced
     * meanwhile (another tab): nothing is stored, so a clear confirmed to the user is not undone by a setup
     * that was sent before it. `priorFingerprint`: the same key's fingerprint under the previous
     * SECRET_KEY, if there is one: a session that stored the key before a rotation names it so, and storing
     * it again changes no key.
     */
    async setKey(ref: string, userId: number, cred: SessionRenderCredentials, readFingerprint: string | null, priorFingerprint: string | null = null, askedAt?: number): Promise<'stored' | 'ended' | 'changed'> {
      const { stored, changed, previousFingerprint, fingerprint } = await sessions.storeCredentials(ref, userId, cred, readFingerprint, priorFingerprint, askedAt);
      if (changed) return 'changed';
      if (!stored) return 'ended';
      if (previousFingerprint && previousFingerprint !== fingerprint) {
        const refs = await sessions.refsOf(ref);
        await stopDeploys(userId, refs, previousFingerprint, 'requestKeyChanged');
        await announce(refs, 'key_changed');
      }
      return 'stored';
    },
  };
}

export type SessionEnding = ReturnType<typeof createSessionEnding>;
