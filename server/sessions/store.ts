import type { Redis } from 'ioredis';
import { isStale, keyedHash, open, seal, type Keyring } from '../crypto/keyring.js';
import type { Clock } from '../clock.js';
import type { AppSession, SessionRenderCredentials } from './types.js';
import { resealCredentials } from './credentials.js';
import { sessionScripts as lua } from './scripts.js';
import type { SessionCache } from './cache.js';

export interface SessionStoreOptions {
  redis: Redis;
  keyring: Keyring;
  clock: Clock;
  prefix: string;
  idleMs: number;
  absoluteMs: number;
  /** Lifetime of a session that has not signed in (an OAuth round trip in progress). */
  preAuthMs?: number;
  /**
   * A session ended without anyone asking for it here: found expired on a read, or destroyed
   * through koa-session (`ctx.session = null`). The session-ending module stops what it started.
   */
  onEnded?: (ended: EndedSession) => Promise<void>;
  /** Decrypted records kept in this process, invalidated by Redis (server/sessions/cache.ts). */
  cache?: SessionCache<LoadedSession>;
}

export interface EndedSession { ref: string; userId: number; reason: 'expired' | 'destroyed' }

/** Record key names and the per-user index, shared by the web app and the workers. */
export function sessionKeys(prefix: string) {
  return {
    record: (ref: string) => `${prefix}:sess:${ref}`,
    /** Left by a destroyed session for its whole absolute lifetime: no write can bring it back. */
    tombstone: (ref: string) => `${prefix}:sess-ended:${ref}`,
    userIndex: (userId: number) => `${prefix}:user:${userId}:sessions`,
    /** After a key rotation moved a record: old ref → new ref, so jobs queued with the old ref still find it. */
    movedTo: (ref: string) => `${prefix}:sess-moved:${ref}`,
    /** Pub/sub: a message here means the session ended or its Render key was cleared or changed. */
    endChannel: (ref: string) => `${prefix}:session-ended:${ref}`,
  };
}

export interface LoadedSession { sess: AppSession; version: string; credSealed: string | null }
type Loaded = LoadedSession;

/** Cached records are shared by requests: nested parts are frozen, each caller gets its own top level. */
function freezeShared(loaded: Loaded): Loaded {
  const { sess } = loaded;
  if (sess.user) Object.freeze(sess.user);
  if (sess.render) { for (const o of sess.render.owners) Object.freeze(o); Object.freeze(sess.render.owners); Object.freeze(sess.render); }
  return Object.freeze(loaded);
}
const copyOf = (loaded: Loaded): Loaded => ({ ...loaded, sess: { ...loaded.sess } });

/**
 * Session store for koa-session: records live in Redis under an HMAC of the session id (its "ref"),
 * sealed (AES-256-GCM) with the ref as AAD. Idle and absolute expiry are enforced here against the
 * injected clock, and an expired record is destroyed, not just ignored.
 *
 * Writes are conditional, because koa-session writes the whole session back at the end of every
 * request that changed it: a request that loaded the session before a logout or a key change must
 * not undo it when it ends. So (a) a whole-record write carries the version its request loaded and
 * is dropped when the record moved on (one Lua call compares and sets); (b) a destroyed session
 * leaves a tombstone for the absolute lifetime, which every write checks; (c) the Render key is a
 * separate field that only the explicit credential calls write, never a whole-record write.
 */
export function createSessionStore(opts: SessionStoreOptions) {
  const { redis, keyring, clock, idleMs, absoluteMs } = opts;
  const preAuthMs = opts.preAuthMs ?? 10 * 60_000;
  const keys = sessionKeys(opts.prefix);
  /** Per request (koa context): the version each session id was loaded at. */
  const loadedVersions = new WeakMap<object, Map<string, string>>();

  const refOf = (sid: string) => keyedHash(`sid:${sid}`, keyring.current);
  const previousRefOf = (sid: string) => (keyring.previous ? keyedHash(`sid:${sid}`, keyring.previous) : null);
  const credAad = (ref: string) => `${ref}:render`;

  async function readRecord(ref: string): Promise<Loaded | undefined> {
    let fields: Array<string | null>;
    try {
      fields = await redis.hmget(keys.record(ref), 'v', 'rec', 'cred');
    } catch (err) {
      if (err instanceof Error && err.message.includes('WRONGTYPE')) return undefined; // a record from before versioned sessions
      throw err;
    }
    const [version, rec, cred] = fields;
    if (!version || !rec) return undefined;
    try {
      const sess = JSON.parse(open(rec, ref, keyring)) as AppSession;
      delete sess.render;
      if (cred) sess.render = JSON.parse(open(cred, credAad(ref), keyring)) as SessionRenderCredentials;
      return { sess, version, credSealed: cred ?? null };
    } catch {
      return undefined; // tampered, or sealed with a key we no longer hold
    }
  }

  /** Signed-in records that need no re-sealing are cached (pre-auth ones carry grant's mutable state). */
  const cacheable = (l: Loaded) => Boolean(l.sess.user) && l.sess.grant === undefined
    && !(l.sess.githubTokenSealed && isStale(l.sess.githubTokenSealed, keyring))
    && !(l.sess.render && isStale(l.sess.render.apiKeySealed, keyring));

  /** readRecord through the per-process cache. A hit is used after pending invalidations have run. */
  async function readThrough(ref: string): Promise<Loaded | undefined> {
    const { cache } = opts;
    if (!cache) return readRecord(ref);
    if (cache.lookup(ref)) {
      await cache.settle();
      const hit = cache.lookup(ref);
      if (hit) return copyOf(hit);
    }
    const ticket = cache.begin(ref);
    let loaded: Loaded | undefined;
    try {
      loaded = await readRecord(ref);
    } finally {
      cache.fill(ticket, loaded && cacheable(loaded) ? freezeShared(copyOf(loaded)) : undefined);
    }
    return loaded;
  }

  /** After every write of ours: this process never answers from the version it just replaced. */
  const changed = (ref: string) => opts.cache?.invalidate(ref);

  function expired(sess: AppSession): boolean {
    return clock.now() >= deadlineOf(sess);
  }

  /** When this session expires (idle or absolute, whichever is first), on the injected clock. */
  function deadlineOf(sess: AppSession): number {
    if (typeof sess.createdAt !== 'number') return 0;
    const absolute = sess.createdAt + absoluteMs;
    if (typeof sess.lastSeenAt !== 'number') return absolute;
    return Math.min(absolute, sess.lastSeenAt + (sess.user ? idleMs : preAuthMs));
  }

  function ttlOf(sess: AppSession): number {
    const now = clock.now();
    const createdAt = sess.createdAt ?? now;
    const idle = sess.user ? idleMs : preAuthMs;
    // Redis TTL as a backstop: never beyond the idle window nor the absolute end.
    return Math.max(1000, Math.min(idle, createdAt + absoluteMs - now));
  }

  /** The record as sealed: everything except the credentials, which have their own field. */
  function sealRecord(ref: string, sess: AppSession): string {
    const { render: _credentials, ...rest } = sess as AppSession & { _expire?: unknown; _maxAge?: unknown; _session?: unknown };
    const record: Record<string, unknown> = { ...rest };
    delete record._expire;
    delete record._maxAge;
    delete record._session;
    return seal(JSON.stringify(record), ref, keyring);
  }

  async function indexUser(ref: string, userId: number | undefined): Promise<void> {
    if (userId === undefined) return;
    await redis.multi().sadd(keys.userIndex(userId), ref).pexpire(keys.userIndex(userId), absoluteMs).exec();
  }

  async function createRecord(ref: string, sess: AppSession): Promise<boolean> {
    const cred = sess.render ? seal(JSON.stringify(sess.render), credAad(ref), keyring) : '';
    const created = await lua.create(redis, [keys.record(ref), keys.tombstone(ref)], [
      sealRecord(ref, sess), ttlOf(sess), sess.user ? String(sess.user.id) : '', cred, sess.render?.keyFingerprint ?? '',
    ]).finally(() => changed(ref));
    if (created === 1) await indexUser(ref, sess.user?.id);
    return created === 1;
  }

  /** Compare-and-set of the whole record (never the credentials). The new version, or null when stale. */
  async function writeIfVersion(ref: string, version: string, sess: AppSession): Promise<string | null> {
    const next = await lua.writeIfVersion(redis, [keys.record(ref), keys.tombstone(ref)], [
      version, sealRecord(ref, sess), ttlOf(sess), sess.user ? String(sess.user.id) : '',
    ]).finally(() => changed(ref));
    if (typeof next !== 'number' || next === 0) return null;
    await indexUser(ref, sess.user?.id);
    return String(next);
  }

  /** Delete and tombstone. The user id the session had (null: pre-auth or already gone). */
  async function destroyRef(ref: string): Promise<number | null> {
    const uid = await lua.destroy(redis, [keys.record(ref), keys.tombstone(ref)], [absoluteMs]).finally(() => changed(ref));
    if (typeof uid !== 'string' || uid === '') return null;
    const userId = Number(uid);
    await redis.srem(keys.userIndex(userId), ref);
    return userId;
  }

  async function endExpired(ref: string): Promise<void> {
    const userId = await destroyRef(ref);
    if (userId !== null) await opts.onEnded?.({ ref, userId, reason: 'expired' });
  }

  /** After a SECRET_KEY rotation: credentials sealed with the previous key are re-sealed now. */
  async function reseal(ref: string, loaded: Loaded): Promise<string> {
    const { sess } = loaded;
    const tokenBefore = sess.githubTokenSealed;
    const keyBefore = sess.render?.apiKeySealed;
    if (!resealCredentials(sess, keyring)) return loaded.version;
    if (sess.render && sess.render.apiKeySealed !== keyBefore && loaded.credSealed) {
      const cred = seal(JSON.stringify(sess.render), credAad(ref), keyring);
      await lua.resealCredentials(redis, [keys.record(ref)], [loaded.credSealed, cred]).finally(() => changed(ref));
    }
    if (sess.githubTokenSealed !== tokenBefore) return (await writeIfVersion(ref, loaded.version, sess)) ?? loaded.version;
    return loaded.version;
  }

  /**
   * Rotation: the record is still under the previous key's ref. Re-create it under the current ref
   * (re-sealed), drop the old one, and leave a pointer for deploys already queued with the old ref.
   */
  async function moveFromPrevious(prevRef: string, ref: string): Promise<Loaded | undefined> {
    const old = await readRecord(prevRef);
    if (!old) return undefined;
    if (!(await createRecord(ref, old.sess))) return readRecord(ref); // another request moved it first
    await redis.multi().del(keys.record(prevRef)).set(keys.movedTo(prevRef), ref, 'PX', absoluteMs).exec().finally(() => changed(prevRef));
    if (old.sess.user) await redis.srem(keys.userIndex(old.sess.user.id), prevRef);
    return readRecord(ref);
  }

  function remember(ctx: object | undefined, sid: string, version: string): void {
    if (!ctx) return;
    let versions = loadedVersions.get(ctx);
    if (!versions) { versions = new Map(); loadedVersions.set(ctx, versions); }
    versions.set(sid, version);
  }

  return {
    refOf,
    keys,
    deadlineOf,

    /** Load a live session by ref (workers, SSE): undefined when gone or expired. */
    async loadByRef(ref: string): Promise<AppSession | undefined> {
      let loaded = await readThrough(ref);
      if (!loaded) {
        const moved = await redis.get(keys.movedTo(ref));
        if (moved) { ref = moved; loaded = await readRecord(moved); }
      }
      if (!loaded) return undefined;
      if (expired(loaded.sess)) { await endExpired(ref); return undefined; }
      return loaded.sess;
    },

    /** A new session written directly (tests, benchmarks): fails if the id was ever used. */
    async create(sid: string, sess: AppSession): Promise<boolean> {
      const now = clock.now();
      return createRecord(refOf(sid), { ...sess, createdAt: sess.createdAt ?? now, lastSeenAt: sess.lastSeenAt ?? now });
    },

    /** Destroy by ref (the session-ending module). The user id the live session had, else null. */
    destroyByRef: destroyRef,

    /**
     * Delete a per-request key session (X-Render-Api-Key) without a tombstone: its id is random and
     * never reused, and a whole-record write needs the record to exist, so nothing can bring it back.
     */
    async discard(ref: string, userId: number): Promise<void> {
      await redis.multi().del(keys.record(ref)).srem(keys.userIndex(userId), ref).exec();
    },

    /**
     * Store a verified key in a live session of this user, as one field update (a whole-record write
     * can neither revert nor resurrect it). `stored` false: the session ended meanwhile.
     */
    async storeCredentials(ref: string, userId: number, cred: SessionRenderCredentials): Promise<{ stored: boolean; previousFingerprint: string | null }> {
      const res = await lua.storeCredentials(redis, [keys.record(ref), keys.tombstone(ref)], [
        seal(JSON.stringify(cred), credAad(ref), keyring), cred.keyFingerprint, String(userId),
      ]).finally(() => changed(ref)) as [number, string];
      return { stored: res[0] === 1, previousFingerprint: res[1] || null };
    },

    /** Remove the key as one field update. The fingerprint of the key that was removed, null if none was set. */
    async clearCredentials(ref: string): Promise<string | null> {
      const previous = await lua.clearCredentials(redis, [keys.record(ref)], []).finally(() => changed(ref));
      return typeof previous === 'string' && previous !== '' ? previous : null;
    },

    // koa-session store interface
    async get(sid: string, _maxAge?: unknown, ko?: { ctx?: object }): Promise<AppSession | undefined> {
      const ref = refOf(sid);
      let loaded = await readThrough(ref);
      // Only on a miss: the previous key's ref costs an HMAC, and is needed during a rotation only.
      const prevRef = loaded ? null : previousRefOf(sid);
      if (!loaded && prevRef) loaded = await moveFromPrevious(prevRef, ref);
      if (!loaded) return undefined;
      if (expired(loaded.sess)) { await endExpired(ref); return undefined; }
      remember(ko?.ctx, sid, await reseal(ref, loaded));
      return loaded.sess;
    },
    async set(sid: string, sess: AppSession, _maxAge?: unknown, ko?: { ctx?: object }): Promise<void> {
      // koa-session passes maxAge (a number or 'session'); expiry is ours, so it is ignored.
      const ref = refOf(sid);
      const record = { ...sess, createdAt: sess.createdAt ?? clock.now(), lastSeenAt: sess.lastSeenAt ?? clock.now() };
      const version = ko?.ctx ? loadedVersions.get(ko.ctx)?.get(sid) : undefined;
      if (version === undefined) {
        // A session this request did not load is a new one (a fresh id): never credentials from memory.
        delete record.render;
        if (await createRecord(ref, record)) remember(ko?.ctx, sid, '1');
        return;
      }
      // Stale (ended, expired or changed since this request loaded it): the write is dropped.
      const next = await writeIfVersion(ref, version, record);
      if (next) remember(ko?.ctx, sid, next);
    },
    async destroy(sid: string): Promise<void> {
      const ref = refOf(sid);
      const userId = await destroyRef(ref);
      const prevRef = previousRefOf(sid);
      if (prevRef) await destroyRef(prevRef);
      if (userId !== null) await opts.onEnded?.({ ref, userId, reason: 'destroyed' });
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
