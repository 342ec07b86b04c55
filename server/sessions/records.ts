import type { Redis } from 'ioredis';
import { keyedHash, open, seal, type Keyring } from '../crypto/keyring.js';
import type { Clock } from '../clock.js';
import type { AppSession, SessionRenderCredentials } from './types.js';
import { resealCredentials } from './credentials.js';
import { sessionScripts as lua } from './scripts.js';

/** Record key names and the per-user index, shared by the web app and the workers. */
export function sessionKeys(prefix: string) {
  return {
    record: (ref: string) => `${prefix}:sess:${ref}`,
    /** Left by a destroyed session for its whole absolute lifetime: no write can bring it back. */
    tombstone: (ref: string) => `${prefix}:sess-ended:${ref}`,
    /**
     * Left by a session whose id is derived, not random (a bearer token's), for the absolute lifetime: its
     * ref once held a session, so no new one is made under it (scripts.ts CREATE), even after the record
     * expired in Redis with no tombstone.
     */
    used: (ref: string) => `${prefix}:sess-used:${ref}`,
    userIndex: (userId: number) => `${prefix}:user:${userId}:sessions`,
    /** After a key rotation moved a record: old ref → new ref, so jobs queued with the old ref still find it. */
    movedTo: (ref: string) => `${prefix}:sess-moved:${ref}`,
    /** Pub/sub: a message here means the session ended or its Render key was cleared or changed. */
    endChannel: (ref: string) => `${prefix}:session-ended:${ref}`,
    /** Pub/sub: the ending side's fence (fence.ts), to every process's tracking connection; acks on each one's own channel. */
    fenceChannel: `${prefix}:session-fence`,
    fenceAckChannel: (instance: string) => `${prefix}:session-fence-ack:${instance}`,
  };
}

/** What storing a key did: the fingerprint the session named before (null: none) and the one it names now. */
/** `changed`: not stored, as the session's key was no longer the one the request read (`previousFingerprint`: the key it has now). */
export interface StoredCredentials { stored: boolean; changed: boolean; previousFingerprint: string | null; fingerprint: string | null }

/**
 * Pointers followed from a moved session's old name at most: one per rotation it lived through, so a
 * few; the bound is against a pointer loop a Redis writer (or an older version) could leave.
 */
export const MAX_MOVE_HOPS = 8;

/** How long Redis keeps a record past its deadline (ttlOf): ample for the app's own look at the deadline. */
const TTL_GRACE_MS = 60_000;

export interface LoadedSession { sess: AppSession; version: string; credSealed: string | null }

/**
 * The key's credentials as the session shows them: `rejectedAt` only from the record's own mark (`krej`,
 * '<kfp> <ms>'), and only when the mark names this key. Never from the sealed credentials, which a
 * re-seal may have written with a copy of it: a key stored again starts unmarked.
 */
function withRejection(render: SessionRenderCredentials, mark: string | null): SessionRenderCredentials {
  delete render.rejectedAt;
  const space = mark?.lastIndexOf(' ') ?? -1;
  const at = space > 0 && mark!.slice(0, space) === render.keyFingerprint ? Number(mark!.slice(space + 1)) : NaN;
  if (Number.isFinite(at)) render.rejectedAt = at;
  return render;
}

export interface SessionRecordOptions {
  redis: Redis;
  keyring: Keyring;
  clock: Clock;
  prefix: string;
  idleMs: number;
  absoluteMs: number;
  /** Lifetime of a session that has not signed in (an OAuth round trip in progress). */
  preAuthMs: number;
  /** Called after every write to a ref (the store drops its cached copy). */
  changed(ref: string): void;
}

/**
 * The session records in Redis, without a cache: each lives under an HMAC of the session id (its
 * "ref"), sealed (AES-256-GCM) with the ref as AAD; the Render key is a separate field that only the
 * explicit credential calls write. Idle and absolute expiry are computed here on the injected clock.
 * Every write is conditional (scripts.ts): a whole-record write carries the version it was loaded at,
 * and a destroyed session leaves a tombstone that every write checks.
 */
export function createSessionRecords(opts: SessionRecordOptions) {
  const { redis, keyring, clock, idleMs, absoluteMs, preAuthMs, changed } = opts;
  const keys = sessionKeys(opts.prefix);
  const refOf = (sid: string) => keyedHash(`sid:${sid}`, keyring.current);
  const previousRefOf = (sid: string) => (keyring.previous ? keyedHash(`sid:${sid}`, keyring.previous) : null);
  const credAad = (ref: string) => `${ref}:render`;

  async function read(ref: string): Promise<LoadedSession | undefined> {
    let fields: Array<string | null>;
    try {
      fields = await redis.hmget(keys.record(ref), 'v', 'rec', 'cred', 'krej');
    } catch (err) {
      if (err instanceof Error && err.message.includes('WRONGTYPE')) return undefined; // a record from before versioned sessions
      throw err;
    }
    const [version, rec, cred, rejected] = fields;
    if (!version || !rec) return undefined;
    try {
      const sess = JSON.parse(open(rec, ref, keyring)) as AppSession;
      delete sess.render;
      if (cred) sess.render = withRejection(JSON.parse(open(cred, credAad(ref), keyring)) as SessionRenderCredentials, rejected ?? null);
      return { sess, version, credSealed: cred ?? null };
    } catch {
      return undefined; // tampered, or sealed with a key we no longer hold
    }
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
    // Redis TTL as a backstop, a little past the idle window or the absolute end: the app ends a session
    // that expired (destroyed, tombstoned, deploys stopped, streams told, audited) when it finds it so;
    // a record Redis had dropped at the deadline would just be gone when the stream's timer looked.
    return Math.max(1000, Math.min(idle, createdAt + absoluteMs - now)) + TTL_GRACE_MS;
  }

  /** The record as sealed: everything except the credentials, which have their own field. */
  function sealRecord(ref: string, sess: AppSession): string {
    const { render: _credentials, ...rest } = sess as AppSession & { _expire?: unknown; _maxAge?: unknown; _session?: unknown };
    const record: Record<string, unknown> = { ...rest };
    // Left in records written by koa-session (before server/sessions/middleware.ts replaced it).
    delete record._expire;
    delete record._maxAge;
    delete record._session;
    return seal(JSON.stringify(record), ref, keyring);
  }

  /**
   * Adds the ref to the user's index, and drops the refs whose record is gone: a session nobody signed out
   * of ends with its record's TTL, which leaves the index alone, and the index's own TTL is renewed at
   * every sign-in, so a user who signs in daily (a CI token) grew it without end. At sign-in only.
   */
  async function indexUser(ref: string, userId: number | undefined): Promise<void> {
    if (userId === undefined) return;
    const index = keys.userIndex(userId);
    const [, , members] = (await redis.multi().sadd(index, ref).pexpire(index, absoluteMs).smembers(index).exec()) ?? [];
    const refs = (members?.[1] as string[] | undefined) ?? [];
    if (refs.length < 2) return;
    const alive = await Promise.all(refs.map((r) => redis.exists(keys.record(r))));
    const gone = refs.filter((r, i) => r !== ref && alive[i] === 0);
    if (gone.length) await redis.srem(index, ...gone);
  }

  /**
   * Only if neither the record nor a tombstone exists (an id is never used twice). `derived`: the id is
   * not random but made again from the same input (a bearer token's generation), so the ref is also
   * marked used, and refused if it (or `derived.previousRef`, its name under the previous SECRET_KEY)
   * ever held a session: a record Redis expired leaves no tombstone. Random ids (cookies, per-request
   * key sessions) cannot come back and skip the mark.
   */
  async function create(ref: string, sess: AppSession, derived?: { previousRef: string | null }): Promise<boolean> {
    const cred = sess.render ? seal(JSON.stringify(sess.render), credAad(ref), keyring) : '';
    const marks = !derived ? [] : derived.previousRef ? [keys.used(ref), keys.used(derived.previousRef)] : [keys.used(ref)];
    const created = await lua.create(redis, [keys.record(ref), keys.tombstone(ref), ...marks], [
      sealRecord(ref, sess), ttlOf(sess), sess.user ? String(sess.user.id) : '', cred, sess.render?.keyFingerprint ?? '', absoluteMs,
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

  /** Delete and tombstone one name: false when no record was there, else its uid ('' before sign-in) and its other names. */
  async function destroyOne(ref: string): Promise<false | { uid: string; aka: string[] }> {
    const res = await lua.destroy(redis, [keys.record(ref), keys.tombstone(ref)], [absoluteMs]).finally(() => changed(ref));
    if (!Array.isArray(res)) return false;
    const [uid, aka] = res as [string, string];
    return { uid, aka: aka.split(' ').filter(Boolean) };
  }

  /**
   * Delete and tombstone, wherever the session is now: a rotation may have moved it from this name
   * (a request on a process with the other key, maybe while this one was on its way), so the pointers
   * are followed, each name on the way tombstoned. The user id the session had and every name it went
   * by (null: pre-auth or already gone).
   */
  async function destroy(ref: string): Promise<{ userId: number; refs: string[] } | null> {
    const visited: string[] = [];
    for (let at: string | null = ref; at !== null && visited.length < MAX_MOVE_HOPS && !visited.includes(at); at = await redis.get(keys.movedTo(at))) {
      visited.push(at);
      const found = await destroyOne(at);
      if (found === false) continue;
      if (found.uid === '') return null;
      const userId = Number(found.uid);
      await redis.srem(keys.userIndex(userId), at);
      return { userId, refs: [...new Set([...visited, ...found.aka])] };
    }
    return null;
  }

  /** Delete and tombstone a session that has not signed in: true only for the one call that found it. */
  async function consumePreAuth(ref: string): Promise<boolean> {
    const found = await destroyOne(ref);
    return found !== false && found.uid === '';
  }

  /** This name and every other one the session behind it went by, wherever it is now (rotations: MOVE in scripts.ts). */
  async function refsOf(ref: string): Promise<string[]> {
    const at = await whereIs(ref);
    const aka = await redis.hget(keys.record(at), 'aka').catch(() => null);
    return [...new Set([ref, at, ...(aka ?? '').split(' ').filter(Boolean)])];
  }

  /** Where the session once named `ref` is now: its pointers followed, a bounded number of hops. */
  async function whereIs(ref: string): Promise<string> {
    const seen = [ref];
    for (;;) {
      const next = await redis.get(keys.movedTo(seen.at(-1)!));
      if (next === null || seen.includes(next) || seen.length > MAX_MOVE_HOPS) return seen.at(-1)!;
      seen.push(next);
    }
  }

  /** After a SECRET_KEY rotation: credentials sealed with the previous key are re-sealed now. The version after. */
  async function reseal(ref: string, loaded: LoadedSession): Promise<string> {
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
   * Rotation: the record is still under the previous key's ref. Moved to the current ref, re-sealed, in
   * one step (MOVE in scripts.ts) while it is still the record read; a pointer from the old ref lets deploys
   * queued with it find it. During a rolling deploy the other kind of process moves it back the same way.
   */
  async function moveFromPrevious(prevRef: string, ref: string): Promise<LoadedSession | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const old = await read(prevRef);
      if (!old) return read(ref); // gone, or another request moved it here first
      const uid = old.sess.user?.id;
      const cred = old.sess.render ? seal(JSON.stringify(old.sess.render), credAad(ref), keyring) : '';
      const moved = await lua.move(redis,
        [keys.record(prevRef), keys.record(ref), keys.tombstone(ref), keys.movedTo(prevRef), keys.movedTo(ref), keys.used(prevRef), keys.used(ref),
          ...(uid === undefined ? [] : [keys.userIndex(uid)])],
        [old.version, old.credSealed ?? '', sealRecord(ref, old.sess), ttlOf(old.sess), uid === undefined ? '' : String(uid), cred, absoluteMs, ref, prevRef],
      ).finally(() => { changed(prevRef); changed(ref); });
      if (moved !== -1) return read(ref); // moved, or taken, ended or moved by another request
    }
    return read(ref);
  }

  /**
   * `priorFingerprint`: the key's fingerprint under the previous SECRET_KEY. A session that holds the
   * same key under it (stored before a rotation) keeps that fingerprint. `fingerprint`: the one stored.
   */
  /** `readFingerprint`: the key's fingerprint the request found in the session (null: none); stored only while it still is. */
  /** `askedAt`: when Render was asked about the key (default its verifiedAt): a refusal of it noted later stays (scripts.ts). */
  async function storeCredentials(ref: string, userId: number, cred: SessionRenderCredentials, readFingerprint: string | null, priorFingerprint: string | null = null, askedAt = cred.verifiedAt): Promise<StoredCredentials> {
    const sealCred = (keyFingerprint: string) => seal(JSON.stringify({ ...cred, keyFingerprint }), credAad(ref), keyring);
    const res = await lua.storeCredentials(redis, [keys.record(ref), keys.tombstone(ref)], [
      sealCred(cred.keyFingerprint), cred.keyFingerprint, String(userId),
      priorFingerprint ?? '', priorFingerprint ? sealCred(priorFingerprint) : '', readFingerprint ?? '', String(askedAt),
    ]).finally(() => changed(ref)) as [number, string, string];
    return { stored: res[0] === 1, changed: res[0] === 2, previousFingerprint: res[1] || null, fingerprint: res[2] || null };
  }

  /**
   * Render refused the key `keyFingerprint` (401): noted on the session while it still holds that key
   * (scripts.ts MARK_KEY_REJECTED). 'other': the session is gone, not this user's, or holds another key or none.
   */
  async function markKeyRejected(ref: string, userId: number, keyFingerprint: string): Promise<'marked' | 'already' | 'other'> {
    const res = await lua.markKeyRejected(redis, [keys.record(ref), keys.tombstone(ref)], [keyFingerprint, String(userId), `${keyFingerprint} ${clock.now()}`]);
    if (res === 1) changed(ref);
    return res === 1 ? 'marked' : res === 2 ? 'already' : 'other';
  }

  async function clearCredentials(ref: string): Promise<string | null> {
    const previous = await lua.clearCredentials(redis, [keys.record(ref)], []).finally(() => changed(ref));
    return typeof previous === 'string' && previous !== '' ? previous : null;
  }

  async function discard(ref: string, userId: number): Promise<void> {
    await redis.multi().del(keys.record(ref)).srem(keys.userIndex(userId), ref).exec();
  }

  return {
    keys, refOf, previousRefOf, read, deadlineOf, create, writeIfVersion, destroy, consumePreAuth, reseal, moveFromPrevious, refsOf, whereIs,
    storeCredentials, clearCredentials, markKeyRejected, discard,
    expired: (sess: AppSession) => clock.now() >= deadlineOf(sess),
  };
}
