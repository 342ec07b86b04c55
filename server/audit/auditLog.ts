import type { Redis } from 'ioredis';
import type { Clock } from '../clock.js';
import { entryHash, GENESIS_HASH } from './canonical.js';
import { sanitizeDetail } from './sanitize.js';
import type { AuditEntry, AuditInput, ChainScope, ChainVerdict } from './types.js';

/**
 * Append to one or two chains at once, but only if every chain head is still what the caller hashed
 * against (compare-and-set). A writer that lost the race gets the current heads back and re-hashes,
 * so concurrent writers in several processes can never fork a chain.
 * KEYS: per chain (entries list, head hash). ARGV: per chain (expected seq, expected hash, new seq, new hash, entry JSON).
 */
const APPEND_IF_HEADS = `
local n = #KEYS / 2
for i = 0, n - 1 do
  local head = redis.call('HMGET', KEYS[i * 2 + 2], 'seq', 'hash')
  if (head[1] or '0') ~= ARGV[i * 5 + 1] or (head[2] or '') ~= ARGV[i * 5 + 2] then
    local out = {0}
    for j = 0, n - 1 do
      local h = redis.call('HMGET', KEYS[j * 2 + 2], 'seq', 'hash')
      table.insert(out, h[1] or '0')
      table.insert(out, h[2] or '')
    end
    return out
  end
end
for i = 0, n - 1 do
  redis.call('RPUSH', KEYS[i * 2 + 1], ARGV[i * 5 + 5])
  redis.call('HSET', KEYS[i * 2 + 2], 'seq', ARGV[i * 5 + 3], 'hash', ARGV[i * 5 + 4])
end
return {1}`;

/**
 * Losing the compare-and-set means another process appended in between. Retries back off with
 * jitter (up to ~50 ms) so a few processes appending at once settle instead of colliding again;
 * within a process appends are already serialised, so contention is only between processes.
 */
const MAX_ATTEMPTS = 100;
const backoff = (attempt: number) => new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** Math.min(attempt, 6))));

interface Head { seq: number; hash: string }

export interface AuditPage { entries: AuditEntry[]; nextCursor: string | null }

/**
 * The append-only, hash-chained audit trail: one chain per user and one global chain, in Redis lists
 * (index = seq - 1) with a head hash {seq, hash} per chain. Each entry's hash covers its content and
 * the previous entry's hash, so an edited, removed, reordered or inserted entry breaks the chain
 * where it happened. Someone able to rewrite a whole chain and its head in Redis could still forge a
 * consistent history; the hashes make tampering evident, not impossible (ship the global head to the
 * log or an external store to anchor it).
 */
export function createAuditLog(opts: { redis: Redis; prefix: string; clock: Clock }) {
  const { redis, prefix, clock } = opts;
  const chainId = (scope: ChainScope) => (scope === 'global' ? 'global' : `user:${scope.userId}`);
  const keys = (scope: ChainScope) => {
    const base = `${prefix}:audit:${chainId(scope)}`;
    return { entries: `${base}:entries`, head: `${base}:head` };
  };

  async function readHead(scope: ChainScope): Promise<Head> {
    const [seq, hash] = await redis.hmget(keys(scope).head, 'seq', 'hash');
    return { seq: Number(seq ?? 0), hash: hash ?? '' };
  }

  // One append at a time per process: every append touches the global head, so letting them race
  // locally would only turn into compare-and-set retries.
  let tail: Promise<unknown> = Promise.resolve();

  async function appendNow(input: AuditInput): Promise<AuditEntry> {
    const at = new Date(clock.now()).toISOString();
    const detail = sanitizeDetail(input.detail as Record<string, unknown> | undefined);
    const scopes: ChainScope[] = input.userId === null || input.globalOnly ? ['global'] : [{ userId: input.userId }, 'global'];
    let heads = await Promise.all(scopes.map(readHead));
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const entries = scopes.map((scope, i) => {
        const head = heads[i]!;
        const body: Omit<AuditEntry, 'hash'> = {
          chain: chainId(scope), seq: head.seq + 1, at, userId: input.userId, action: input.action, outcome: input.outcome,
          detail, prevHash: head.seq === 0 ? GENESIS_HASH : head.hash,
        };
        return { ...body, hash: entryHash(body) };
      });
      const redisKeys = scopes.flatMap((s) => [keys(s).entries, keys(s).head]);
      const args = scopes.flatMap((_, i) => [String(heads[i]!.seq), heads[i]!.hash, String(entries[i]!.seq), entries[i]!.hash, JSON.stringify(entries[i])]);
      const res = (await redis.eval(APPEND_IF_HEADS, redisKeys.length, ...redisKeys, ...args)) as Array<number | string>;
      if (Number(res[0]) === 1) return entries[0]!;
      heads = scopes.map((_, i) => ({ seq: Number(res[1 + i * 2]), hash: String(res[2 + i * 2] ?? '') }));
      if (attempt > 0) await backoff(attempt);
    }
    throw new Error('audit append: chain head kept moving; gave up');
  }

  /** Entries and head in one MULTI: a consistent snapshot even while other processes append. */
  async function snapshot(scope: ChainScope): Promise<{ entries: Array<AuditEntry | null>; head: Head }> {
    const k = keys(scope);
    const res = await redis.multi().hmget(k.head, 'seq', 'hash').lrange(k.entries, 0, -1).exec();
    if (!res || res.some(([err]) => err)) throw new Error('audit: cannot read the chain');
    const [seq, hash] = res[0]![1] as [string | null, string | null];
    const entries = (res[1]![1] as string[]).map((r) => { try { return JSON.parse(r) as AuditEntry; } catch { return null; } });
    return { entries, head: { seq: Number(seq ?? 0), hash: hash ?? '' } };
  }

  return {
    keys,
    /** Append to the user's chain (if any) and the global chain, atomically. Returns the user's (or global) entry. */
    append(input: AuditInput): Promise<AuditEntry> {
      const run = tail.then(() => appendNow(input), () => appendNow(input));
      tail = run.catch(() => {});
      return run;
    },

    /** The user's entries, newest first. The cursor is the seq of the oldest entry already returned. */
    async listForUser(userId: number, page: { limit: number; cursor?: string | null }): Promise<AuditPage> {
      const key = keys({ userId }).entries;
      const end = page.cursor ? Number(page.cursor) - 2 : (await redis.llen(key)) - 1;
      if (!Number.isSafeInteger(end) || end < 0) return { entries: [], nextCursor: null };
      const start = Math.max(0, end - page.limit + 1);
      const raw = await redis.lrange(key, start, end);
      const entries = raw.map((r) => { try { return JSON.parse(r) as AuditEntry; } catch { return null; } })
        .filter((e): e is AuditEntry => e !== null).reverse();
      return { entries, nextCursor: start > 0 ? String(start + 1) : null };
    },

    /** Walk a chain from the start; the first broken place is reported with its seq. */
    async verifyChain(scope: ChainScope): Promise<ChainVerdict> {
      const { entries, head } = await snapshot(scope);
      return verifyEntries(chainId(scope), entries, head);
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;

/** The verification itself, separate from Redis so its judgement can be tested on any sequence. */
export function verifyEntries(chain: string, entries: Array<AuditEntry | null>, head: Head): ChainVerdict {
  const length = entries.length;
  const bad = (seq: number, problem: Extract<ChainVerdict, { valid: false }>['problem'], message: string): ChainVerdict =>
    ({ valid: false, length, seq, problem, message });
  const seqs = entries.map((e) => e?.seq);
  let prev = GENESIS_HASH;
  for (let i = 0; i < entries.length; i++) {
    const expected = i + 1;
    const e = entries[i];
    if (!e || typeof e !== 'object') return bad(expected, 'unreadable', `entry ${expected} is not readable`);
    if (e.seq !== expected) {
      if (seqs.filter((s) => s === e.seq).length > 1) return bad(e.seq, 'inserted', `two entries claim seq ${e.seq}: one was inserted`);
      if (!seqs.includes(expected)) return bad(expected, 'missing', `entry ${expected} was removed`);
      return bad(expected, 'reordered', `entry ${e.seq} sits where entry ${expected} belongs`);
    }
    if (e.chain !== chain) return bad(e.seq, 'inserted', `entry ${e.seq} belongs to another chain`);
    if (entryHash(e) !== e.hash) return bad(e.seq, 'edited', `entry ${e.seq} was changed after it was written`);
    if (e.prevHash !== prev) return bad(e.seq, 'broken_link', `entry ${e.seq} does not follow entry ${e.seq - 1}: one of them was replaced`);
    prev = e.hash;
  }
  if (head.seq > length) return bad(length + 1, 'truncated', `entries ${length + 1}–${head.seq} were removed from the end`);
  if (head.seq < length) return bad(head.seq + 1, 'inserted', `entries after ${head.seq} were appended outside the audit log`);
  if (length > 0 && head.hash !== prev) return bad(length, 'edited', `entry ${length} does not match the chain head`);
  return { valid: true, length };
}
