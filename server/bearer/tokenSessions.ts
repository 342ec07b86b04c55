import type Koa from 'koa';
import type { AppDeps } from '../deps.js';
import { randomBytes } from 'node:crypto';
import { keyedHash } from '../crypto/keyring.js';
import { AppError, errors } from '../errors.js';
import { GitHubError } from '../github/client.js';
import { sealGithubToken } from '../sessions/credentials.js';
import type { AppSession, SessionUser } from '../sessions/types.js';
import { readThrough } from '../sessions/cache.js';
import type { LoadedForRequest } from '../sessions/store.js';
import { boundedMemo } from '../boundedMemo.js';
import { redisScript } from '../redisScript.js';

/**
 * Token sessions: `Authorization: Bearer <GitHub user token>` maps to a server-side session like a
 * cookie's, found by an HMAC of the token (the token itself is never a key or a value in Redis).
 *
 * `<prefix>:bearer:<HMAC(token)>` is a hash {uid, login, name, avatar, gen, checkedAt}: who GitHub said the token
 * belongs to, and when it last said so. The session id is HMAC(tokenId, gen): a generation number,
 * because an ended session is tombstoned for its whole absolute lifetime (server/sessions/scripts.ts)
 * and the same token must still be able to start a new one after a logout or an expiry. A record Redis
 * expired on its own (its TTL, with nobody reading it past the idle deadline) leaves no tombstone, so a
 * generation's ref is also marked used when its session is made (records.ts create, `derived`): a
 * generation never gets a second session, whose ref would revive the deploys and watch of the first.
 *
 * The web process keeps entries in memory (deps.tokenEntries: the session cache module, tracking this
 * prefix), so a bearer request reads Redis no more than a cookie request. A stale entry is harmless
 * by construction: it names a generation, and the session record of that generation (cached and
 * invalidated the same way) decides whether the session still lives; NEXT_GENERATION answers the
 * current generation whatever this process saw. Every write here drops the entry in this process too.
 */
export interface VerifiedToken {
  tokenId: string; user: SessionUser; sid: string; ref: string;
  /** The token session as this request loaded it (absent when it was just created): the session middleware uses it instead of loading it again. */
  loaded?: LoadedForRequest;
}

/** A token entry as read from Redis (empty when there is none); cached entries are frozen and shared. */
export type TokenEntry = Readonly<Record<string, string>>;

/**
 * Compare-and-bump the generation, so concurrent requests agree on the next one. KEYS: entry. ARGV: gen seen.
 * -1 when the entry names no user: GitHub's refusal deleted it after this request's check (a generation
 * started on it would name no user, and the next refusal could not end its session).
 */
const NEXT_GENERATION = `
if redis.call('HEXISTS', KEYS[1], 'uid') == 0 then return -1 end
local g = redis.call('HGET', KEYS[1], 'gen') or '0'
if g == ARGV[1] then return redis.call('HINCRBY', KEYS[1], 'gen', 1) end
return tonumber(g)`;

/**
 * A check on its way to GitHub leaves a mark in the entry (a field of its own), and GitHub's "valid"
 * is written only while that mark is there: a refusal deletes the whole entry, marks included, so a
 * "valid" GitHub gave before a revocation, arriving after another request's refusal, is not taken
 * (it would trust a revoked token for a whole re-check window). KEYS: entry. ARGV: mark, ttl of a new entry.
 */
const MARK_CHECK = redisScript(`
local new = redis.call('EXISTS', KEYS[1]) == 0
redis.call('HSET', KEYS[1], ARGV[1], '1')
if new then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end`);

/** GitHub's "valid", if this check's mark is still there. KEYS: entry. ARGV: mark, ttl, then field/value pairs. Returns 1 or 0. */
const VOUCH = redisScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`);

/**
 * GitHub's refusal: the entry goes, and the session it names now (not as this check read it: a request
 * on another process may have started one while the check was out) is the one to end. KEYS: entry.
 */
const REFUSE = redisScript(`
local e = redis.call('HMGET', KEYS[1], 'uid', 'gen')
redis.call('DEL', KEYS[1])
return {e[1] or '', e[2] or '0'}`);

/** SECRET_KEY rotation: the entry under the previous key's name becomes this one, unless this one names a user. KEYS: entry, previous entry. */
const ADOPT_PREVIOUS = redisScript(`
if redis.call('HEXISTS', KEYS[1], 'uid') == 1 or redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('RENAME', KEYS[2], KEYS[1])
return 1`);

const REFUSED = 'GitHub does not accept this token (bad, expired or revoked). Create a new token and try again.';
const NOT_A_USER = 'GitHub will not say whose token this is (403): Actions\' own GITHUB_TOKEN or an app\'s installation token is not a user token. Send a GitHub OAuth token or a personal access token.';

/** A new entry holding only marks lives this long: far past a check's deadline (10 s an attempt). */
const MARK_TTL_MS = 5 * 60_000;

/** Token session ids remembered (≈ tokens in use per process); past it the memory starts over. */
const SID_MEMO_MAX = 10_000;

/** Token ids remembered (≈ tokens in use per process); past it the memory starts over. */
const TOKEN_ID_MEMO_MAX = 10_000;

/** GitHub's token alphabet; anything else (or longer) is not a token and never reaches GitHub. */
const TOKEN_SHAPE = /^[A-Za-z0-9_]{20,255}$/;

export function createTokenSessions(deps: AppDeps) {
  const { redis, keyring, clock, sessions, config } = deps;
  const entryKey = (tokenId: string) => tokenEntryKey(config.redisPrefix, tokenId);
  // Only entries that name a user are kept: an empty one is a token GitHub has not vouched for yet.
  const readEntry = (tokenId: string) => readThrough(deps.tokenEntries, tokenId, () => redis.hgetall(entryKey(tokenId)), (e) => (e.uid ? Object.freeze(e) : undefined));
  const changed = (tokenId: string) => deps.tokenEntries?.invalidate(tokenId);
  // A token's session id is an HMAC of its id and generation: remembered, as a token sends the same id all day.
  const sids = boundedMemo<string, string>(SID_MEMO_MAX);
  // A token's id is an HMAC of the token: remembered for tokens that resolved to a live session, as a
  // script sends the same token all day. Keyed by the token itself, so: bounded in number and in time
  // (no longer than GitHub's word is trusted, BEARER_RECHECK_SECONDS), filled only by tokens GitHub
  // vouched for (made-up ones never fill it), dropped when GitHub refuses the token. SECURITY.md
  // ("What is stored where") says why this is no worse than the session cache.
  const tokenIds = boundedMemo<string, { id: string; until: number }>(TOKEN_ID_MEMO_MAX);
  const tokenIdOf = (token: string) => {
    const known = tokenIds.get(token);
    if (known && known.until > clock.now()) return known.id;
    if (known) tokenIds.delete(token);
    return keyedHash(`github-token:${token}`, keyring.current);
  };
  const rememberTokenId = (token: string, id: string) => {
    if (tokenIds.has(token)) return;
    tokenIds.set(token, { id, until: clock.now() + config.bearerRecheckMs });
  };
  // During a SECRET_KEY rotation a token's entry and session are still named by the previous key's HMACs
  // (SECURITY.md): found by those names and moved, as the session store moves a cookie's record.
  const previousTokenIdOf = (token: string) => (keyring.previous ? keyedHash(`github-token:${token}`, keyring.previous) : null);
  const previousSidOf = (token: string, gen: number) => {
    const previous = keyring.previous;
    return previous ? () => keyedHash(`bearer-session:${previousTokenIdOf(token)!}:${gen}`, previous) : undefined;
  };
  async function adoptPreviousEntry(token: string, tokenId: string): Promise<TokenEntry | undefined> {
    const previousId = previousTokenIdOf(token);
    if (!previousId || !(await ADOPT_PREVIOUS(redis, [entryKey(tokenId), entryKey(previousId)], []))) return undefined;
    changed(tokenId);
    return (await readEntry(tokenId)).value;
  }
  const sidOf = (tokenId: string, gen: number) => {
    const at = `${tokenId}:${gen}`;
    let sid = sids.get(at);
    if (sid === undefined) {
      sid = keyedHash(`bearer-session:${at}`, keyring.current);
      sids.set(at, sid);
    }
    return sid;
  };

  /** Ends the token session an entry names; the ref it ended, or null when the entry names no user. */
  async function endSessionOf(entry: { uid?: string; gen?: string }, token: string, tokenId: string): Promise<string | null> {
    if (!entry.uid) return null;
    const gen = Number(entry.gen ?? 0);
    const sid = sidOf(tokenId, gen);
    // Still under the previous key's name (not used since a rotation): moved first, so that one ends.
    if (keyring.previous) await sessions.load(sid, false, previousSidOf(token, gen));
    const ref = sessions.refOf(sid);
    await deps.sessionEnding.end(ref, Number(entry.uid), 'token_revoked');
    return ref;
  }

  /**
   * GitHub refused the token (a check's answer, or a route's own call: `refused` below). The entry goes, marks
   * included, in one script: a check still out for it then cannot write GitHub's earlier "valid" (VOUCH finds
   * its mark gone and asks again), and a request on its way to a session finds no user to start a generation
   * for (NEXT_GENERATION's -1). This process forgets the token's id, and the session the entry names now (not
   * as some request read it) ends. Only this token's entry and session: the user's other tokens and cookie
   * sessions are not GitHub's refusal. The ref ended, if the entry named one.
   */
  async function refuse(token: string, tokenId: string): Promise<string | null> {
    tokenIds.delete(token);
    const [uid, gen] = await REFUSE(redis, [entryKey(tokenId)], []) as [string, string];
    changed(tokenId);
    return endSessionOf({ uid, gen }, token, tokenId);
  }

  /** Ask GitHub who the token belongs to; a bad, expired or revoked token, or one GitHub will not name a user for (403), ends its session (401). */
  async function check(ctx: Koa.Context, token: string, tokenId: string, entry: TokenEntry): Promise<SessionUser> {
    // A second attempt only when a refusal (or a Redis writer) took this check's mark: GitHub is asked again.
    for (let attempt = 0; attempt < 2; attempt++) {
      const mark = `check:${randomBytes(9).toString('base64url')}`;
      await MARK_CHECK(redis, [entryKey(tokenId)], [mark, MARK_TTL_MS]);
      changed(tokenId);
      let user: SessionUser;
      try {
        const viewer = await deps.upstream.github(token).getViewer();
        user = { id: viewer.id, login: viewer.login, name: viewer.name, avatarUrl: viewer.avatarUrl };
      } catch (err) {
        // 403 (not a rate limit) is GitHub refusing to say whose token it is: one of no user (Actions' GITHUB_TOKEN,
        // an app's installation token) or a suspended account. Not vouched for, so refused as a 401 is, not "GitHub down".
        if (!(err instanceof GitHubError) || (err.kind !== 'unauthorized' && err.kind !== 'forbidden')) {
          await redis.hdel(entryKey(tokenId), mark).catch(() => {}); // the entry's TTL removes it otherwise
          changed(tokenId);
          if (!(err instanceof GitHubError)) throw err;
          ctx.state.log?.warn({ kind: err.kind }, 'GitHub token check failed');
          throw errors.githubUnavailable();
        }
        await refuse(token, tokenId);
        await deps.security.signInFailed(ctx, 'github_token_invalid');
        throw errors.githubTokenInvalid(err.kind === 'forbidden' ? NOT_A_USER : REFUSED);
      }
      if (entry.uid && entry.uid !== String(user.id)) await endSessionOf(entry, token, tokenId);
      const vouched = await VOUCH(redis, [entryKey(tokenId)], [mark, config.sessionAbsoluteMs,
        'uid', String(user.id), 'login', user.login, 'name', user.name ?? '', 'avatar', user.avatarUrl, 'checkedAt', String(clock.now())]);
      changed(tokenId);
      if (vouched === 1) return user;
    }
    throw errors.githubUnavailable();
  }

  /** The user an entry names, if GitHub vouched for it within the re-check window. */
  function freshUser(entry: TokenEntry): SessionUser | undefined {
    const checkedAt = Number(entry.checkedAt ?? 0);
    const now = clock.now();
    if (!entry.uid || !entry.login || checkedAt > now || now - checkedAt >= config.bearerRecheckMs) return undefined;
    return { id: Number(entry.uid), login: entry.login, name: entry.name || null, avatarUrl: entry.avatar ?? '' };
  }

  // Concurrent requests of one token that all need a check (a script's first burst) share one GitHub
  // call per process. The entry is read again first: a check that finished after this request read
  // it may have written it.
  const checking = new Map<string, Promise<SessionUser>>();
  // Refused tokens have a per-IP limit of their own (deps.security.tokenChecks), not the browser's
  // sign-in limit, which a valid token's re-check every window would spend all day. A token GitHub has
  // not vouched for lately (`known`: its entry names a user) claims a try from its own address before
  // it starts or joins a check: a joiner must not ride past its limit on another's check, nor share
  // another's 429. The try is given back unless GitHub refuses the token; a known one's refusal is counted.
  async function checkOnce(ctx: Koa.Context, token: string, tokenId: string, known: boolean): Promise<SessionUser> {
    const limit = deps.security.tokenChecks;
    if (!known) await limit.claim(ctx);
    let pending = checking.get(tokenId);
    if (!pending) {
      pending = (async () => {
        const { value: entry } = await readEntry(tokenId);
        return freshUser(entry) ?? (await check(ctx, token, tokenId, entry));
      })().finally(() => checking.delete(tokenId));
      checking.set(tokenId, pending);
    }
    let refused = false;
    try {
      return await pending;
    } catch (err) {
      refused = err instanceof AppError && err.code === 'github_token_invalid';
      throw err;
    } finally {
      const settle = refused ? (known ? limit.countRefused(ctx) : null) : (known ? null : limit.giveBack(ctx));
      await settle?.catch((err: unknown) => ctx.state.log?.warn({ err: { message: (err as Error).message } }, 'token check not counted'));
    }
  }

  /** The live token session for this request's user, created (as a new generation if need be). */
  async function sessionFor(ctx: Koa.Context, token: string, tokenId: string, user: SessionUser, seenGen: number): Promise<{ sid: string; ref: string; loaded?: LoadedForRequest }> {
    let gen = seenGen;
    for (let attempt = 0; attempt < 3; attempt++) {
      const sid = sidOf(tokenId, gen);
      const ref = sessions.refOf(sid);
      // Settled: the entry was just read through its cache (or each later attempt waited on Redis).
      const loaded = await sessions.load(sid, true, previousSidOf(token, gen));
      const sess = loaded?.sess;
      if (sess?.bearer && sess.user?.id === user.id) return { sid, ref, loaded };
      if (!sess) {
        const fresh: AppSession = { user, githubTokenSealed: sealGithubToken(user.id, token, keyring), bearer: true };
        // Derived: this ref may have held a session whose record Redis expired (no tombstone then); such a
        // ref is refused, and the next generation taken, so what was bound to that session stays ended.
        if (await sessions.create(sid, fresh, { previousSid: previousSidOf(token, gen) })) {
          await deps.security.recordAudit(ctx, { userId: user.id, action: 'sign_in', outcome: 'success', detail: { login: user.login } });
          return { sid, ref };
        }
        // Raced by a concurrent first request of the same token: its session is this one too (a new
        // generation here would leave that one orphaned, and the requests on different sessions).
        const raced = await sessions.load(sid, true);
        if (raced?.sess.bearer && raced.sess.user?.id === user.id) return { sid, ref, loaded: raced };
      }
      // Ended (tombstoned, or expired in Redis: its ref marked used): the next generation, agreed through Redis.
      gen = Number(await redis.eval(NEXT_GENERATION, 1, entryKey(tokenId), String(gen)));
      changed(tokenId);
      if (gen < 0) throw errors.githubTokenInvalid(REFUSED);
    }
    throw errors.githubTokenInvalid('Could not start a session for this token. Try again.');
  }

  return {
    /** Verify the token (GitHub at most every BEARER_RECHECK_SECONDS) and return its live session. */
    async resolve(ctx: Koa.Context, token: string): Promise<VerifiedToken> {
      if (!TOKEN_SHAPE.test(token)) throw errors.githubTokenInvalid('This is not a GitHub token. Send a GitHub OAuth token or personal access token.');
      const tokenId = tokenIdOf(token);
      let { value: entry } = await readEntry(tokenId);
      if (!entry.uid && keyring.previous) entry = (await adoptPreviousEntry(token, tokenId)) ?? entry;
      const user = freshUser(entry) ?? (await checkOnce(ctx, token, tokenId, Boolean(entry.uid)));
      const session = await sessionFor(ctx, token, tokenId, user, Number(entry.gen ?? 0));
      rememberTokenId(token, tokenId);
      return { tokenId, user, ...session };
    },

    /**
     * Whether GitHub still vouches for the token as this user's (asked again only past the re-check window),
     * for a request that outlives that window (a live update stream); no session is made. A refusal ends the
     * token session and throws 401 github_token_invalid, as in resolve.
     */
    async vouches(ctx: Koa.Context, token: string, userId: number): Promise<boolean> {
      const tokenId = tokenIdOf(token);
      const { value: entry } = await readEntry(tokenId);
      return (freshUser(entry) ?? (await checkOnce(ctx, token, tokenId, Boolean(entry.uid)))).id === userId;
    },

    /**
     * GitHub refused the token on a route's own call, after this request's check passed on the entry's word
     * (server/sessions/githubRefusal.ts). Ended as a check's refusal ends it (`refuse`): before, the entry kept
     * vouching for a token the server had just answered 401 for, and the next request ran on its session (its
     * Render key included) until BEARER_RECHECK_SECONDS ran out. `verified` is what this request resolved, so
     * only the token it sent is refused; the session it ran on ends too if the entry names another generation
     * by now, or none (a refusal on another request took the entry first).
     */
    async refused(token: string, verified: Pick<VerifiedToken, 'tokenId' | 'user' | 'ref'>): Promise<void> {
      const ended = await refuse(token, verified.tokenId);
      if (ended !== verified.ref) await deps.sessionEnding.end(verified.ref, verified.user.id, 'token_revoked');
    },

    /**
     * GitHub refused the token of the token session `ref` outside a request (a worker's deploy step or commit
     * status): ended as `refused` ends it. Before, the worker ended the deployment "Sign in again" while the
     * entry went on vouching for the token, and the next requests ran on its session, Render key included,
     * until BEARER_RECHECK_SECONDS ran out.
     */
    async refusedOutsideRequest(token: string, ref: string, userId: number): Promise<void> {
      const ended = await refuse(token, tokenIdOf(token));
      if (ended !== ref) await deps.sessionEnding.end(ref, userId, 'token_revoked');
    },
  };
}

/** Where a token's entry lives; the web process's entry cache tracks `tokenEntryKey(prefix, '')`. */
export const tokenEntryKey = (prefix: string, tokenId: string) => `${prefix}:bearer:${tokenId}`;
