import type { Redis } from 'ioredis';
import { keyedHash, open, seal, type Keyring } from '../crypto/keyring.js';
import type { Clock } from '../clock.js';
import type { AppSession } from './types.js';
import { resealCredentials } from './credentials.js';

export interface SessionStoreOptions {
  redis: Redis;
  keyring: Keyring;
  clock: Clock;
  prefix: string;
  idleMs: number;
  absoluteMs: number;
  /** Lifetime of a session that has not signed in (an OAuth round trip in progress). */
  preAuthMs?: number;
}

/** Record key names and the per-user index, shared by the web app and the workers. */
export function sessionKeys(prefix: string) {
  return {
    record: (ref: string) => `${prefix}:sess:${ref}`,
    userIndex: (userId: number) => `${prefix}:user:${userId}:sessions`,
    /** After a key rotation moved a record: old ref → new ref, so jobs queued with the old ref still find it. */
    movedTo: (ref: string) => `${prefix}:sess-moved:${ref}`,
  };
}

/**
 * Session store for koa-session: records live in Redis under an HMAC of the session id (its "ref"),
 * the whole record AES-256-GCM encrypted with the ref as AAD. Idle and absolute expiry are enforced
 * here against the injected clock, and an expired record is destroyed, not just ignored.
 * A per-user index of refs lets logout-everywhere and credential revocation find a user's sessions.
 */
export function createSessionStore(opts: SessionStoreOptions) {
  const { redis, keyring, clock, idleMs, absoluteMs } = opts;
  const preAuthMs = opts.preAuthMs ?? 10 * 60_000;
  const keys = sessionKeys(opts.prefix);

  const refOf = (sid: string) => keyedHash(`sid:${sid}`, keyring.current);
  const previousRefOf = (sid: string) => (keyring.previous ? keyedHash(`sid:${sid}`, keyring.previous) : null);

  async function readRecord(ref: string): Promise<AppSession | undefined> {
    const raw = await redis.get(keys.record(ref));
    if (!raw) return undefined;
    try {
      return JSON.parse(open(raw, ref, keyring)) as AppSession;
    } catch {
      return undefined; // tampered, or sealed with a key we no longer hold
    }
  }

  function expired(sess: AppSession): boolean {
    const now = clock.now();
    if (typeof sess.createdAt !== 'number' || now - sess.createdAt >= absoluteMs) return true;
    const limit = sess.user ? idleMs : preAuthMs;
    return typeof sess.lastSeenAt === 'number' && now - sess.lastSeenAt >= limit;
  }

  async function writeRecord(ref: string, sess: AppSession): Promise<void> {
    const now = clock.now();
    const createdAt = sess.createdAt ?? now;
    const idle = sess.user ? idleMs : preAuthMs;
    // Redis TTL as a backstop: never beyond the idle window nor the absolute end.
    const ttl = Math.max(1000, Math.min(idle, createdAt + absoluteMs - now));
    const multi = redis.multi().set(keys.record(ref), seal(JSON.stringify(sess), ref, keyring), 'PX', ttl);
    if (sess.user) {
      multi.sadd(keys.userIndex(sess.user.id), ref).pexpire(keys.userIndex(sess.user.id), absoluteMs);
    }
    await multi.exec();
  }

  async function destroyRef(ref: string): Promise<void> {
    const sess = await readRecord(ref);
    const multi = redis.multi().del(keys.record(ref));
    if (sess?.user) multi.srem(keys.userIndex(sess.user.id), ref);
    await multi.exec();
  }

  return {
    refOf,
    /** Load a live session by ref (workers): undefined when gone or expired. */
    async loadByRef(ref: string): Promise<AppSession | undefined> {
      let sess = await readRecord(ref);
      if (!sess) {
        const moved = await redis.get(keys.movedTo(ref));
        if (moved) { ref = moved; sess = await readRecord(moved); }
      }
      if (!sess) return undefined;
      if (expired(sess)) { await destroyRef(ref); return undefined; }
      return sess;
    },

    // koa-session store interface
    async get(sid: string): Promise<AppSession | undefined> {
      const ref = refOf(sid);
      let sess = await readRecord(ref);
      let moved = false;
      // Only on a miss: the previous key's ref costs an HMAC, and is needed during a rotation only.
      const prevRef = sess ? null : previousRefOf(sid);
      if (!sess && prevRef) {
        // Rotation: the record is still under the previous key's ref. Move it, and leave a pointer
        // for deploys already queued with the old ref.
        sess = await readRecord(prevRef);
        if (sess) {
          await destroyRef(prevRef);
          await redis.set(keys.movedTo(prevRef), ref, 'PX', absoluteMs);
          moved = true;
        }
      }
      if (!sess) return undefined;
      if (expired(sess)) { await destroyRef(ref); return undefined; }
      // Credentials sealed with the previous key are re-sealed now, while it can still open them.
      if (resealCredentials(sess, keyring) || moved) await writeRecord(ref, sess);
      return sess;
    },
    async set(sid: string, sess: AppSession): Promise<void> {
      // koa-session passes maxAge too (a number or the string 'session'); expiry is ours, so it is ignored.
      const ref = refOf(sid);
      const record = { ...sess } as AppSession & { _expire?: unknown; _maxAge?: unknown };
      delete record._expire;
      delete record._maxAge;
      await writeRecord(ref, { ...record, createdAt: record.createdAt ?? clock.now(), lastSeenAt: record.lastSeenAt ?? clock.now() });
    },
    async destroy(sid: string): Promise<void> {
      await destroyRef(refOf(sid));
      const prevRef = previousRefOf(sid);
      if (prevRef) await destroyRef(prevRef);
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
