import { isStale } from '../crypto/keyring.js';
import type { AppSession, SessionRenderCredentials } from './types.js';
import { readThrough as readThroughCache, type SessionCache } from './cache.js';
import { createSessionRecords, MAX_MOVE_HOPS, sessionKeys, type LoadedSession, type SessionRecordOptions } from './records.js';
import { boundedMemo } from '../boundedMemo.js';

export { sessionKeys, type LoadedSession };

interface SessionStoreOptions extends Omit<SessionRecordOptions, 'preAuthMs' | 'changed'> {
  /** Lifetime of a session that has not signed in (an OAuth round trip in progress); default 10 minutes. */
  preAuthMs?: number;
  /**
   * A session ended without anyone asking for it here: found expired on a read, or destroyed
   * through the session middleware (`ctx.session = null`). The session-ending module stops what it started.
   */
  onEnded?: (ended: EndedSession) => Promise<void>;
  /** Decrypted records kept in this process, invalidated by Redis (server/sessions/cache.ts). */
  cache?: SessionCache<LoadedSession>;
}

/** `refs`: every name the session went by (a rotation moves it: records.ts), its streams and deploys named by any. */
interface EndedSession { ref: string; refs: string[]; userId: number; reason: 'expired' | 'destroyed' }

/** A session destroyed: its user and every name it went by. */
export interface DestroyedSession { userId: number; refs: string[] }

/** A session as a request loaded it: the version its writes must carry (compare-and-set). */
export interface LoadedForRequest {
  /** Not to be mutated: nested objects are frozen, and a cached record is shared by requests. */
  sess: Readonly<AppSession>;
  version: string;
}

/** Nested parts of a loaded record are frozen: a request changes a session only by replacing top-level fields. */
function freezeNested(sess: AppSession): void {
  if (sess.user) Object.freeze(sess.user);
  if (sess.render) { for (const o of sess.render.owners) Object.freeze(o); Object.freeze(sess.render.owners); Object.freeze(sess.render); }
}
/** Cached records are shared by requests: frozen, and each caller that may change one gets its own top level. */
function freezeShared(loaded: LoadedSession): LoadedSession {
  freezeNested(loaded.sess);
  Object.freeze(loaded.sess);
  return Object.freeze(loaded);
}
const copyOf = (loaded: LoadedSession): LoadedSession => ({ ...loaded, sess: { ...loaded.sess } });

/** Session ids seen recently and their refs: the ref is an HMAC, and a signed-in browser sends the same id all day. */
const REF_MEMO_MAX = 10_000;

/**
 * The session store (records.ts has the Redis side): reads through the web process's cache, idle and
 * absolute expiry enforced on every read (an expired record is destroyed, not just ignored), and
 * explicit writes only. Writes are conditional, because a request that loaded the session before a
 * logout or a key change must not undo it when it ends: (a) a whole-record write carries the version
 * its request loaded and is dropped when the record moved on; (b) a destroyed session leaves a
 * tombstone for the absolute lifetime, which every write checks; (c) the Render key is a separate
 * field that only the credential calls write, never a whole-record write.
 */
export function createSessionStore(opts: SessionStoreOptions) {
  const { redis, keyring } = opts;
  const records = createSessionRecords({
    redis, keyring, clock: opts.clock, prefix: opts.prefix, idleMs: opts.idleMs, absoluteMs: opts.absoluteMs,
    preAuthMs: opts.preAuthMs ?? 10 * 60_000,
    // After every write of ours: this process never answers from the version it just replaced.
    changed: (ref) => opts.cache?.invalidate(ref),
  });
  const { keys, refOf, previousRefOf, expired } = records;
  const refMemo = boundedMemo<string, string>(REF_MEMO_MAX);
  function memoRefOf(sid: string): string {
    let ref = refMemo.get(sid);
    if (ref === undefined) {
      ref = refOf(sid);
      refMemo.set(sid, ref);
    }
    return ref;
  }

  /** Signed-in records that need no re-sealing are cached (pre-auth ones carry grant's mutable state). */
  const cacheable = (l: LoadedSession) => Boolean(l.sess.user) && l.sess.grant === undefined
    && !(l.sess.githubTokenSealed && isStale(l.sess.githubTokenSealed, keyring))
    && !(l.sess.render && isStale(l.sess.render.apiKeySealed, keyring));

  /** A record through the per-process cache (cache.ts readThrough); a hit is the shared frozen copy: callers that may change it take a copy. */
  async function readThrough(ref: string, settled = false): Promise<{ loaded: LoadedSession; hit: boolean } | undefined> {
    const found = await readThroughCache(opts.cache, ref, () => records.read(ref), (l) => (l && cacheable(l) ? freezeShared(copyOf(l)) : undefined), settled);
    return found.value && { loaded: found.value, hit: found.hit };
  }

  /**
   * The writes that end a session or take authority from it (destroy, a key cleared or replaced) are
   * answered only once every process caching sessions has dropped its copy (cache.ts dropEverywhere),
   * so a request sent after the answer, to whichever process, sees the change. Only when something
   * changed: a session already gone was fenced by whoever ended it. An expiry is not fenced: every
   * process checks the deadline on each hit itself.
   */
  const dropEverywhere = async () => { await opts.cache?.dropEverywhere(); };
  async function destroyByRef(ref: string): Promise<DestroyedSession | null> {
    const ended = await records.destroy(ref);
    if (ended !== null) await dropEverywhere();
    return ended;
  }

  /**
   * A credential write to the session named `ref`, made again where a SECRET_KEY rotation moved it if
   * it found nothing there: during a rolling deploy a request on the other kind of process may move
   * it between this request's load and its write (a clear that missed would leave the key in place).
   */
  async function wherever<T>(ref: string, write: (at: string) => Promise<T>, done: (result: T) => boolean): Promise<T> {
    let at = ref;
    let result = await write(at);
    for (let hops = 0; !done(result) && hops < MAX_MOVE_HOPS; hops++) {
      const moved = await records.whereIs(at);
      if (moved === at) break;
      at = moved;
      result = await write(at);
    }
    return result;
  }

  async function endExpired(ref: string): Promise<void> {
    const ended = await records.destroy(ref);
    if (ended !== null) await opts.onEnded?.({ ref, ...ended, reason: 'expired' });
  }

  /**
   * The live session behind a session id (cookie or bearer), or undefined when gone or expired.
   * `settled`: see cache.ts readThrough (the bearer path, right after reading the token's entry).
   */
  async function load(sid: string, settled = false, previousSid?: () => string): Promise<LoadedForRequest | undefined> {
    const ref = memoRefOf(sid);
    const found = await readThrough(ref, settled);
    if (found?.hit) {
      // Cached records are never stale-sealed (cacheable), so there is nothing to re-seal.
      if (expired(found.loaded.sess)) { await endExpired(ref); return undefined; }
      return found.loaded;
    }
    let loaded = found?.loaded;
    // Only on a miss: the previous key's ref costs an HMAC, and is needed during a rotation only.
    // A bearer token's session id is itself an HMAC under SECRET_KEY: its id under the previous key (`previousSid`).
    const prevRef = loaded || !keyring.previous ? null : previousRefOf(previousSid ? previousSid() : sid);
    if (!loaded && prevRef) loaded = await records.moveFromPrevious(prevRef, ref);
    if (!loaded) return undefined;
    if (expired(loaded.sess)) { await endExpired(ref); return undefined; }
    const version = await records.reseal(ref, loaded);
    freezeNested(loaded.sess);
    return { sess: loaded.sess, version };
  }

  return {
    // Memoised: routes and the bearer path ask for the ref of the same few ids on every request.
    refOf: memoRefOf,
    keys,
    deadlineOf: records.deadlineOf,
    load,

    /** The live session behind a session id (tests): a copy to read. */
    async get(sid: string): Promise<AppSession | undefined> {
      const found = await load(sid);
      return found && { ...found.sess };
    },

    /**
     * Write a session back (whole record, never the credentials), only if it is still at the version
     * its request loaded: a stale write (ended, expired or changed meanwhile) is dropped. The new version, or null.
     */
    async save(sid: string, version: string, sess: AppSession): Promise<string | null> {
      const now = opts.clock.now();
      return records.writeIfVersion(memoRefOf(sid), version, { ...sess, createdAt: sess.createdAt ?? now, lastSeenAt: sess.lastSeenAt ?? now });
    },

    /** Load a live session by ref (workers, SSE): undefined when gone or expired. */
    async loadByRef(asked: string): Promise<AppSession | undefined> {
      let ref = asked;
      let loaded = (await readThrough(ref))?.loaded;
      // Moved by a rotation: where its pointers lead, read there. During a rolling deploy requests on the two
      // kinds of process move it back and forth, and a move can land between any two of these reads (back
      // under the name asked after it missed there, or away from where the pointer led): each attempt follows
      // the pointers from the name asked again, until the same name misses twice (gone) or the attempts run out.
      // Read as gone, a live session stopped its deploys as credentials_revoked (found by a rotation probe).
      for (let attempt = 0, missed: string | null = null; !loaded && attempt < MAX_MOVE_HOPS; attempt++) {
        const at = await records.whereIs(asked);
        if (at === missed) break;
        loaded = await records.read(at);
        ref = at;
        missed = at;
      }
      if (!loaded) return undefined;
      if (expired(loaded.sess)) { await endExpired(ref); return undefined; }
      return copyOf(loaded).sess;
    },

    /**
     * A new session under a fresh id: fails if the id was ever used. `derived`: the id is made again from
     * the same input (a bearer token's generation, not random): its ref is marked used and refused once it
     * held a session, under this key or (`previousSid`, its id under the previous one) the other (records.ts).
     */
    async create(sid: string, sess: AppSession, derived?: { previousSid?: () => string }): Promise<boolean> {
      const now = opts.clock.now();
      const previousRef = derived?.previousSid && keyring.previous ? previousRefOf(derived.previousSid()) : null;
      return records.create(refOf(sid), { ...sess, createdAt: sess.createdAt ?? now, lastSeenAt: sess.lastSeenAt ?? now }, derived && { previousRef });
    },

    /** Destroy by ref (the session-ending module): the user id the live session had and its names, else null. */
    destroyByRef,

    /** This ref and the other names its session went by during rotations: its end is announced on each. */
    refsOf: records.refsOf,

    /** Destroy by id (sign-in's new id, `ctx.session = null`), under the previous key's ref too. */
    async destroy(sid: string): Promise<void> {
      const ref = memoRefOf(sid);
      const ended = await records.destroy(ref);
      const prevRef = previousRefOf(sid);
      const prevEnded = prevRef ? await records.destroy(prevRef) : null;
      if (ended !== null || prevEnded !== null) await dropEverywhere();
      // Either name: a rotation may have left it under the previous key's (a rolling deploy, records.ts).
      if (ended !== null) await opts.onEnded?.({ ref, ...ended, reason: 'destroyed' });
      else if (prevEnded !== null) await opts.onEnded?.({ ref: prevRef!, ...prevEnded, reason: 'destroyed' });
    },

    /**
     * End the pre-auth session a sign-in started in, once: false when it was gone already (another
     * return of the same sign-in used it, or it expired), so one sign-in makes one signed-in session.
     */
    consumePreAuth: (sid: string) => records.consumePreAuth(memoRefOf(sid)),

    /**
     * Delete a per-request key session (X-Render-Api-Key) without a tombstone: its id is random and
     * never reused, and a whole-record write needs the record to exist, so nothing can bring it back.
     */
    discard: records.discard,

    /**
     * Store a verified key in a live session of this user, as one field update (a whole-record write
     * can neither revert nor resurrect it), only while the session holds the key the request read
     * (`readFingerprint`, null: none). `stored` false: the session ended meanwhile, or (`changed`) its
     * key was cleared or replaced meanwhile. `priorFingerprint`: the key's fingerprint under the previous SECRET_KEY (records.ts).
     */
    async storeCredentials(ref: string, userId: number, cred: SessionRenderCredentials, readFingerprint: string | null, priorFingerprint: string | null = null, askedAt?: number) {
      const stored = await wherever(ref, (at) => records.storeCredentials(at, userId, cred, readFingerprint, priorFingerprint, askedAt), (r) => r.stored || r.changed);
      if (stored.stored && stored.previousFingerprint && stored.previousFingerprint !== stored.fingerprint) await dropEverywhere(); // a key replaced
      return stored;
    },

    /**
     * Render refused the key `keyFingerprint` (a 401 to a call made with it): noted on the session as one field
     * update, only while it is this user's and still holds that key (a key replaced or cleared meanwhile is not
     * marked), never on an ended session (no write brings it back). 'other' when not marked for those reasons.
     * A new mark waits, as a cleared key does, until every web process has dropped its copy: Redis may answer
     * the write before another process's invalidation arrives, and a status read sent after the refusal was
     * answered (or after a deploy ended on it, workers/tasks/deployTask.ts) must say so wherever it lands.
     */
    async markKeyRejected(ref: string, userId: number, keyFingerprint: string) {
      const marked = await wherever(ref, (at) => records.markKeyRejected(at, userId, keyFingerprint), (r) => r !== 'other');
      if (marked === 'marked') await dropEverywhere();
      return marked;
    },

    /** Remove the key as one field update. The fingerprint of the key that was removed, null if none was set. */
    async clearCredentials(ref: string): Promise<string | null> {
      const removed = await wherever(ref, (at) => records.clearCredentials(at), (r) => r !== null);
      if (removed !== null) await dropEverywhere();
      return removed;
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;
