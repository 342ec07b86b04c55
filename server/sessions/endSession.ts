import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { AuditInput } from '../audit/types.js';
import type { SessionStore } from './store.js';
import type { SessionRenderCredentials } from './types.js';

/** Why a session (or its consent to use a Render key) ended. Sent to the session's live streams. */
export const SESSION_END_REASONS = ['signed_out', 'signed_in_again', 'expired', 'destroyed', 'key_cleared', 'key_changed', 'token_revoked'] as const;
export type SessionEndReason = typeof SESSION_END_REASONS[number];

export interface SessionEndingDeps {
  sessions: SessionStore;
  /** Publishes on the session's end channel (any connection that is not a subscriber). */
  redis: Redis;
  logger: Logger;
  /** Stops the session's unfinished deploys (all of them, or only those made with one key). */
  revokeDeploys(userId: number, sessionRef: string, onlyKeyFingerprint?: string): Promise<number>;
  /** The audit trail, for the end no route asked for (expiry); routes audit what they do themselves. */
  audit?: { append(input: AuditInput): Promise<unknown> };
}

/**
 * Ending a session, in one place: sign-out, a new sign-in over it, a changed client, expiry, and the
 * two ways its consent to use a Render key ends (the key cleared or replaced). Each one
 *   1. changes the record atomically (destroy + tombstone, or one credential-field update),
 *   2. stops the deploys that session started with the key that is no longer allowed, and
 *   3. publishes the end on the session's channel, so its live streams close in every web process.
 * Ends that a request asked for are audited by its route (it knows who asked and from where); an
 * expiry, which nobody asked for, is audited here as a sign-out with reason `expired`.
 */
export function createSessionEnding(deps: SessionEndingDeps) {
  const { sessions, redis, logger } = deps;

  async function announce(ref: string, reason: SessionEndReason): Promise<void> {
    // Streams also re-check the session at each keepalive, so a lost publish only delays the close.
    await redis.publish(sessions.keys.endChannel(ref), reason).catch((err: unknown) => {
      logger.warn({ err: { message: (err as Error).message }, reason }, 'could not announce a session end');
    });
  }

  async function stopDeploys(userId: number, ref: string, onlyKeyFingerprint?: string): Promise<void> {
    await deps.revokeDeploys(userId, ref, onlyKeyFingerprint).catch((err: unknown) => {
      // The worker stops them anyway when it next loads the session (gone, or another key).
      logger.warn({ err: { message: (err as Error).message } }, 'could not revoke the ended session\'s deploys');
    });
  }

  return {
    /** Destroy the session (it can never be written again), stop its deploys, close its streams. */
    async end(ref: string, userId: number, reason: 'signed_out' | 'signed_in_again' | 'token_revoked'): Promise<void> {
      await sessions.destroyByRef(ref);
      await stopDeploys(userId, ref);
      await announce(ref, reason);
    },

    /** The store found the session expired, or koa-session destroyed it: it is already gone. */
    async afterEnded(ended: { ref: string; userId: number; reason: 'expired' | 'destroyed' }): Promise<void> {
      await stopDeploys(ended.userId, ended.ref);
      await announce(ended.ref, ended.reason);
      // 'destroyed' is the changed-client check ending the session: it raises its own security event.
      if (ended.reason === 'expired') {
        await deps.audit?.append({ userId: ended.userId, action: 'sign_out', outcome: 'success', detail: { reason: 'expired' } }).catch((err: unknown) => {
          logger.error({ err: { message: (err as Error).message } }, 'audit append failed (session expiry)');
        });
      }
    },

    /** Clear-credentials. False when no key was set (nothing happened). */
    async clearKey(ref: string, userId: number): Promise<boolean> {
      const removed = await sessions.clearCredentials(ref);
      if (removed === null) return false;
      await stopDeploys(userId, ref);
      await announce(ref, 'key_cleared');
      return true;
    },

    /**
     * Store a verified key. If it replaces a different one, what was started with the old key stops.
     * False when the session ended while the key was being verified (nothing is stored).
     */
    async setKey(ref: string, userId: number, cred: SessionRenderCredentials): Promise<boolean> {
      const { stored, previousFingerprint } = await sessions.storeCredentials(ref, userId, cred);
      if (!stored) return false;
      if (previousFingerprint && previousFingerprint !== cred.keyFingerprint) {
        await stopDeploys(userId, ref, previousFingerprint);
        await announce(ref, 'key_changed');
      }
      return true;
    },
  };
}

export type SessionEnding = ReturnType<typeof createSessionEnding>;
