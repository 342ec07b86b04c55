import type { Redis } from 'ioredis';
import type { Clock } from '../clock.js';
import type { Keyring } from '../crypto/keyring.js';
import { redisScript } from '../redisScript.js';
import { createAppender, headSigned, storedHead, type Head } from './append.js';
import { ADOPT_UNSIGNED, CURSOR_AFTER, READ_PAGE, RESIGN_CHECKPOINT, RESIGN_HEAD, TRIM_TO_CHECKPOINT, UNREADABLE_HEAD_MARK } from './scripts.js';
import { checkpointText, createAuditSigner, headText, type Checkpoint } from './signing.js';
import { GENESIS, headNumber, UNREADABLE_HEAD, verifyEntries, verifySegment, type Anchor } from './verify.js';
import type { AuditEntry, ChainScope, ChainVerdict } from './types.js';

/** How long chains grow. Old entries go in steps of the checkpoint interval, never past a checkpoint. */
interface AuditRetention {
  /** Entries kept per user chain. */
  maxEntries: number;
  /** Entries kept in the global chain (every user's entries and the security events). */
  globalMaxEntries: number;
  /** Entries older than this are removed (when their chain is next written or read). */
  maxAgeMs: number;
}

const DEFAULT_RETENTION: AuditRetention = { maxEntries: 5_000, globalMaxEntries: 200_000, maxAgeMs: 90 * 86_400_000 };

/** The first time whose ISO form has more than four digits of year. */
const LAST_ISO_MS = Date.parse('9999-12-31T23:59:59.999Z') + 1;

/** A signed checkpoint every this many entries: what verification starts from and trimming stops at. */
const CHECKPOINT_EVERY = 100;

/** A page of a chain and the verdict on it: `from`–`to` is the stretch that was checked, between two signed anchors. */
export interface AuditPage {
  entries: AuditEntry[];
  nextCursor: string | null;
  verdict: ChainVerdict & { from: number; to: number };
  /** seq of the oldest entry still kept (older ones were removed by retention). */
  retainedFrom: number;
}

const parse = <T>(raw: string | null | undefined): T | null => { try { return raw ? JSON.parse(raw) as T : null; } catch { return null; } };

/**
 * The append-only, hash-chained audit trail: one chain per user and one global chain. Each entry's
 * hash covers its content and the previous entry's hash, so an edited, removed, reordered or
 * inserted entry breaks the chain where it happened. The head and every CHECKPOINT_EVERY-th entry
 * are signed under a key derived from SECRET_KEY: reading a page verifies only the stretch between
 * the signed anchors around it (cost independent of the chain's length), retention can drop
 * everything before a checkpoint and the rest still proves its continuity, and someone who can
 * write Redis without SECRET_KEY cannot forge a consistent history.
 */
export function createAuditLog(opts: {
  redis: Redis; prefix: string; clock: Clock; keyring: Keyring; retention?: Partial<AuditRetention>; checkpointEvery?: number;
  /** A chain without a signed head was verified and adopted (logged: see adoptUnsigned). */
  onAdopted?: (chain: string, length: number) => void;
}) {
  const { redis, prefix, clock } = opts;
  const retention = { ...DEFAULT_RETENTION, ...opts.retention };
  const every = opts.checkpointEvery ?? CHECKPOINT_EVERY;
  const signer = createAuditSigner(opts.keyring);
  const cursorAfterScript = redisScript(CURSOR_AFTER);
  const chainId = (scope: ChainScope) => (scope === 'global' ? 'global' : `user:${scope.userId}`);
  const keys = (scope: ChainScope) => {
    const base = `${prefix}:audit:${chainId(scope)}`;
    return { entries: `${base}:entries`, head: `${base}:head`, checkpoints: `${base}:checkpoints` };
  };
  const keyList = (scope: ChainScope) => { const k = keys(scope); return [k.entries, k.head, k.checkpoints]; };

  async function readHead(scope: ChainScope): Promise<Head> {
    const fields = await redis.hmget(keys(scope).head, 'seq', 'hash', 'base', 'kid', 'mac');
    const [seq, base] = [headNumber(fields[0]), headNumber(fields[2])];
    if (seq !== null && seq > 0 && base !== null && !fields[4] && await adoptUnsigned(scope)) return readHead(scope);
    // A head whose seq or base is unreadable is continued after the entries there (unverified, see storedHead).
    return storedHead(signer, chainId(scope), fields, seq === null || base === null ? await redis.llen(keys(scope).entries) : 0);
  }

  /**
   * A chain from before heads and checkpoints were signed (no head mac): verified once from its
   * first entry, then given its checkpoints and a signed head, so it pages and trims like any other.
   * A chain that does not verify is left unsigned: every read then reports it. O(length), once.
   * Each adoption is reported (a warning in the log): someone who can write Redis could strip a
   * head's signature to get a rewritten chain adopted, so adoptions after the upgrade are suspect.
   */
  async function adoptUnsigned(scope: ChainScope): Promise<boolean> {
    const chain = chainId(scope);
    const k = keys(scope);
    const res = await redis.multi().hmget(k.head, 'seq', 'hash', 'base', 'mac').lrange(k.entries, 0, -1).exec();
    if (!res || res.some(([err]) => err)) return false;
    const [seqRaw, hashRaw, baseRaw, mac] = res[0]![1] as Array<string | null>;
    const [seq, hash] = [headNumber(seqRaw), hashRaw ?? ''];
    if (mac || seq === null || seq === 0 || headNumber(baseRaw) !== 0) return false;
    const entries = (res[1]![1] as string[]).map((x) => parse<AuditEntry>(x));
    if (!verifyEntries(chain, entries, { seq, hash }).valid) return false;
    const checkpoints = entries.filter((e): e is AuditEntry => e !== null && e.seq % every === 0)
      .flatMap((e) => [String(e.seq), JSON.stringify({ seq: e.seq, hash: e.hash, at: e.at, ...signer.sign(checkpointText(chain, e.seq, e.hash, e.at)) })]);
    const sig = signer.sign(headText(chain, seq, hash, 0));
    const adopted = Number(await redis.eval(ADOPT_UNSIGNED, 3, ...keyList(scope), String(seq), hash, sig.kid, sig.mac, ...checkpoints)) === 1;
    if (adopted) opts.onAdopted?.(chain, seq);
    return adopted;
  }

  const appender = createAppender({ redis, clock, signer, every, chainId, keyList, readHead, enforceRetention });

  /**
   * A checkpoint as stored, if its signature holds. One signed with SECRET_KEY_PREVIOUS (during a
   * rotation) is re-signed with the current key as it is read, so it still verifies once the
   * previous key is removed (only if the checkpoint is still there).
   */
  async function checkedCheckpoint(scope: ChainScope, raw: string | null | undefined, seq: number): Promise<Anchor | null> {
    const chain = chainId(scope);
    const cp = parse<Checkpoint>(raw);
    if (!cp || cp.seq !== seq || typeof cp.hash !== 'string' || typeof cp.at !== 'string') return null;
    const text = checkpointText(chain, cp.seq, cp.hash, cp.at);
    if (!signer.verify(text, cp)) return null;
    if (cp.kid !== opts.keyring.current.kid) {
      const fresh = JSON.stringify({ seq: cp.seq, hash: cp.hash, at: cp.at, ...signer.sign(text) });
      await redis.eval(RESIGN_CHECKPOINT, 1, keys(scope).checkpoints, String(seq), fresh).catch(() => 0);
    }
    return { seq: cp.seq, hash: cp.hash };
  }

  const unsigned = (seq: number, message: string): Extract<ChainVerdict, { valid: false }> => ({ valid: false, length: 0, seq, problem: 'unsigned', message });

  /**
   * Drop entries beyond the retention policy, up to the newest checkpoint that is over the count or
   * age limit; the head is re-signed with the new base. Returns how many entries were removed.
   */
  async function enforceRetention(scope: ChainScope): Promise<number> {
    const k = keys(scope);
    const res = await redis.multi().hmget(k.head, 'seq', 'hash', 'base', 'kid', 'mac').hgetall(k.checkpoints).exec();
    if (!res || res.some(([err]) => err)) return 0;
    const [seqRaw, hash, baseRaw, kid, mac] = res[0]![1] as Array<string | null>;
    const seq = headNumber(seqRaw);
    const base = headNumber(baseRaw);
    // A head that does not verify (or does not read) is not re-signed (that would vouch for a forged
    // history), nor is the evidence before it trimmed.
    if (seq === null || base === null || !headSigned(signer, chainId(scope), seq, hash ?? '', base, kid, mac)) return 0;
    const checkpoints = res[1]![1] as Record<string, string>;
    const max = scope === 'global' ? retention.globalMaxEntries : retention.maxEntries;
    let target = seq - base > max ? Math.ceil((seq - max) / every) * every : base;
    const cutoff = clock.now() - retention.maxAgeMs;
    for (const raw of Object.values(checkpoints)) {
      const cp = parse<Checkpoint>(raw);
      if (cp && cp.seq > target && cp.seq <= seq && Date.parse(cp.at) < cutoff) target = cp.seq;
    }
    if (target <= base || target > seq || !checkpoints[String(target)]) return 0;
    const sig = signer.sign(headText(chainId(scope), seq, hash ?? '', target));
    const done = await redis.eval(TRIM_TO_CHECKPOINT, 3, ...keyList(scope), String(seq), hash ?? '', String(base), String(target), sig.kid, sig.mac);
    if (Number(done) !== 1) return 0;
    appender.remember(chainId(scope), { seq, hash: hash ?? '', base: target, signed: true });
    return target - base;
  }

  /** Newest first; the cursor is the seq of the oldest entry already returned. Verifies what it returns. */
  async function page(scope: ChainScope, req: { limit: number; cursor?: string | null }, adopted = false): Promise<AuditPage> {
    await enforceRetention(scope).catch(() => 0);
    const chain = chainId(scope);
    const r = (await redis.eval(READ_PAGE, 3, ...keyList(scope), String(req.cursor ? Number(req.cursor) : 0), String(req.limit), String(every))) as Array<string | number | string[]>;
    if (r[0] === UNREADABLE_HEAD_MARK) {
      // Its seq or base is not a number (a Redis writer's): nothing can be placed or checked against it.
      return { entries: [], nextCursor: null, verdict: { ...unsigned(0, UNREADABLE_HEAD), length: Number(r[1]), from: 0, to: 0 }, retainedFrom: 1 };
    }
    const [seq, hash, base] = [Number(r[0]), String(r[1]), Number(r[2])];
    const head = { kid: String(r[3]), mac: String(r[4]) };
    if (seq > 0 && !head.mac && !adopted && await adoptUnsigned(scope)) return page(scope, req, true);
    const [lo, hi, c0] = [Number(r[5]), Number(r[6]), Number(r[7])];
    // A checkpoint past the head: an older signed head was put back and the entries after it removed.
    const pastCheckpoint = Number(r[12]) === 1 ? (Math.floor(seq / every) + 1) * every : 0;
    const raw = r[10] as string[];
    const retainedFrom = base + 1;
    if (hi === 0) {
      // No head, yet entries: the head was deleted, which would otherwise pass for an empty chain.
      const left = seq === 0 ? Number(r[11] ?? 0) : 0;
      // Nothing to show (a cursor at the start, or a base at the head): a head there still has to be ours.
      const forged = seq > 0 && !signer.verify(headText(chain, seq, hash, base), head);
      const verdict = left > 0 ? { ...unsigned(1, `the chain head is missing while ${left} entries remain: it was deleted`), length: left }
        : forged ? unsigned(seq, 'the chain head\'s signature does not verify: the chain was rewritten') : { valid: true as const, length: 0 };
      return { entries: [], nextCursor: null, verdict: { ...verdict, from: 0, to: 0 }, retainedFrom };
    }
    const entries = raw.map((x) => parse<AuditEntry>(x));
    const c1 = Math.ceil(hi / every) * every;
    const from = c0 + 1;
    const to = Math.min(c1, seq);
    const start = c0 === 0 ? GENESIS : await checkedCheckpoint(scope, String(r[8]), c0);
    const end = c1 <= seq ? await checkedCheckpoint(scope, String(r[9]), c1)
      : signer.verify(headText(chain, seq, hash, base), head) ? { seq, hash } : null;
    let verdict: ChainVerdict;
    if (!start) verdict = unsigned(c0, `the checkpoint at entry ${c0} is missing or its signature does not verify`);
    else if (!end) verdict = unsigned(to, c1 <= seq ? `the checkpoint at entry ${c1} is missing or its signature does not verify` : 'the chain head\'s signature does not verify: the chain was rewritten');
    else if (pastCheckpoint) verdict = { ...unsigned(pastCheckpoint, `the checkpoint at entry ${pastCheckpoint} is past the chain head (entry ${seq}): the head was put back and the entries after it removed`), length: entries.length };
    else verdict = verifySegment(chain, entries, start, end);
    const shown = entries.filter((e): e is AuditEntry => e !== null && e.seq >= lo && e.seq <= hi).reverse();
    return { entries: shown, nextCursor: lo > retainedFrom ? String(lo) : null, verdict: { ...verdict, from, to }, retainedFrom };
  }

  /** The whole retained chain, every checkpoint in it and the head (operations and tests; O(length)). */
  async function verifyChain(scope: ChainScope): Promise<ChainVerdict> {
    const chain = chainId(scope);
    const k = keys(scope);
    const res = await redis.multi().hmget(k.head, 'seq', 'hash', 'base', 'kid', 'mac').hgetall(k.checkpoints).lrange(k.entries, 0, -1).exec();
    if (!res || res.some(([err]) => err)) throw new Error('audit: cannot read the chain');
    const [seqRaw, hashRaw, baseRaw, kid, mac] = res[0]![1] as Array<string | null>;
    const [seq, hash, base] = [headNumber(seqRaw), hashRaw ?? '', headNumber(baseRaw)];
    const checkpoints = res[1]![1] as Record<string, string>;
    const entries = (res[2]![1] as string[]).map((x) => parse<AuditEntry>(x));
    // Read as NaN, a garbled seq skipped the signature check below and every comparison with it failed.
    if (seq === null || base === null) return { ...unsigned(0, UNREADABLE_HEAD), length: entries.length };
    const start = base === 0 ? GENESIS : await checkedCheckpoint(scope, checkpoints[String(base)], base);
    if (!start) return unsigned(base, `the checkpoint at entry ${base}, where the kept part of the chain starts, is missing or forged`);
    // Only a chain with no head and no entries is empty: anything else is vouched for by a signed head.
    const headless = [seqRaw, hashRaw, baseRaw, kid, mac].every((v) => v === null);
    if (headless && entries.length > 0) {
      return { ...unsigned(1, `the chain head is missing while ${entries.length} entries remain: it was deleted`), length: entries.length };
    }
    if (!headless && !signer.verify(headText(chain, seq, hash, base), { kid: kid ?? undefined, mac: mac ?? undefined })) {
      return unsigned(seq, 'the chain head\'s signature does not verify: the chain was rewritten');
    }
    const verdict = verifySegment(chain, entries, start, { seq, hash });
    if (!verdict.valid) return verdict;
    for (const [field, raw] of Object.entries(checkpoints)) {
      const at = Number(field);
      const cp = await checkedCheckpoint(scope, raw, at);
      if (!cp || (at > base && entries[at - base - 1]?.hash !== cp.hash)) return { ...unsigned(at, `the checkpoint at entry ${at} does not match the chain`), length: verdict.length };
    }
    return verdict;
  }

  /**
   * A cursor that starts a page at the newest entry written before `ms` (one script: a binary search
   * on the entries' times, O(log length)). null when every kept entry is older (start at the newest).
   */
  async function cursorAfter(scope: ChainScope, ms: number): Promise<string | null> {
    if (!(ms < LAST_ISO_MS)) return null; // past year 9999 the ISO form changes shape (+010000-…): every entry is older
    const k = keys(scope);
    const seq = Number(await cursorAfterScript(redis, [k.entries, k.head], [new Date(ms).toISOString()]));
    return seq > 0 ? String(seq) : null;
  }

  /**
   * During a SECRET_KEY rotation: re-sign every head and checkpoint still signed with the previous
   * key (each worker runs this at start and again while the rotation lasts: workers/rotationSweep.ts). A head is otherwise re-signed only by an append, and
   * an append no longer extends a head it cannot verify: a user idle through the overlap would find
   * their chain reported as rewritten once SECRET_KEY_PREVIOUS is removed. Returns the heads re-signed.
   */
  async function resignStale(): Promise<number> {
    const previous = opts.keyring.previous;
    if (!previous) return 0;
    const chainPrefix = `${prefix}:audit:`;
    let [cursor, resigned] = ['0', 0];
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${chainPrefix}*:head`, 'COUNT', 500);
      cursor = next;
      for (const key of found) {
        const chain = key.slice(chainPrefix.length, -':head'.length);
        const userId = /^user:(\d+)$/.exec(chain)?.[1];
        if (chain !== 'global' && !userId) continue;
        const scope: ChainScope = userId ? { userId: Number(userId) } : 'global';
        for (const [at, raw] of Object.entries(await redis.hgetall(keys(scope).checkpoints))) {
          if (parse<Checkpoint>(raw)?.kid === previous.kid) await checkedCheckpoint(scope, raw, Number(at));
        }
        const [seq, hash, base, kid, mac] = await redis.hmget(key, 'seq', 'hash', 'base', 'kid', 'mac');
        const [seqN, baseN] = [headNumber(seq), headNumber(base)];
        if (kid !== previous.kid || seqN === null || baseN === null || !headSigned(signer, chain, seqN, hash ?? '', baseN, kid, mac)) continue;
        const sig = signer.sign(headText(chain, seqN, hash ?? '', baseN));
        resigned += Number(await redis.eval(RESIGN_HEAD, 1, key, seq ?? '0', hash ?? '', base ?? '0', kid, mac ?? '', sig.kid, sig.mac));
      }
    } while (cursor !== '0');
    return resigned;
  }

  return {
    keys,
    cursorAfter,
    resignStale,
    /** Append to the user's chain (if any) and the global chain, atomically. Returns the user's (or global) entry. */
    append: appender.append,
    /** Read ahead what an append for this user will need (see createAppender's prefetch). */
    prefetch: appender.prefetch,
    page: (scope: ChainScope, req: { limit: number; cursor?: string | null }) => page(scope, req),
    /** The user's entries, newest first (see page). */
    async listForUser(userId: number, req: { limit: number; cursor?: string | null }): Promise<{ entries: AuditEntry[]; nextCursor: string | null }> {
      const { entries, nextCursor } = await page({ userId }, req);
      return { entries, nextCursor };
    },
    verifyChain,
    enforceRetention,
    /**
     * Whether an append for this user (null: the global chain only) would be written: false when a
     * head it extends is signed with a key this process does not hold (another SECRET_KEY). For a
     * change that must not happen unaudited, checked before it is made.
     */
    async appendable(userId: number | null): Promise<boolean> {
      const scopes: ChainScope[] = userId === null ? ['global'] : [{ userId }, 'global'];
      for (const scope of scopes) if ((await readHead(scope)).newerKey) return false;
      return true;
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;

export { verifyEntries } from './verify.js';
