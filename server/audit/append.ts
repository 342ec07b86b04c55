import { randomBytes } from 'node:crypto';
import { ReplyError, type Redis } from 'ioredis';
import type { Clock } from '../clock.js';
import { redisScript } from '../redisScript.js';
import { entryHash, GENESIS_HASH } from './canonical.js';
import { headNumber } from './verify.js';
import { sanitizeDetail } from './sanitize.js';
import { APPEND_IF_HEADS } from './scripts.js';
import { checkpointText, headText, type Checkpoint, type createAuditSigner } from './signing.js';
import type { AuditEntry, AuditInput, ChainScope } from './types.js';
import { boundedMemo } from '../boundedMemo.js';

/**
 * A chain head as this process knows it. `signed`: its signature verified when it was read (or this
 * process wrote it). A head that does not verify was changed by someone without SECRET_KEY; what is
 * appended after it gets no valid signature either, so the chain stays reported instead of the
 * next append vouching for the forged history (signing its continuation).
 */
export interface Head {
  seq: number; hash: string; base: number; signed: boolean;
  /**
   * Signed with a key this process does not hold: a SECRET_KEY rotation rolling out, a process that
   * has the new key wrote it. This one can neither vouch for it nor call it forged: it does not append.
   */
  newerKey?: boolean;
  /**
   * Its seq or base as stored, when one of them is not a whole number (a Redis writer's): the
   * compare-and-set compares these, and the head is continued unverified like any head that does not
   * verify (`seq`: the stored one if it reads, else where the entries end; `base`: 0 if unreadable,
   * which stays as it is in Redis, so the chain stays reported).
   */
  stored?: { seq: string; base: string };
}

/** What a head gets in place of a signature when it continues one that did not verify. */
export const UNVERIFIED = { kid: 'unverified', mac: 'unverified' } as const;

/**
 * Losing the compare-and-set means another process appended in between. Retries back off with
 * jitter (up to ~50 ms) so a few processes appending at once settle instead of colliding again;
 * within a process appends are already serialised, so contention is only between processes.
 */
const MAX_ATTEMPTS = 100;
const backoff = (attempt: number) => new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** Math.min(attempt, 6))));

/** Appends written by one script call at most (bounds the script's arguments and its time in Redis). */
const MAX_BATCH = 128;

/** The user's chain (unless there is no user, or the entry is for the global chain only) and the global chain. */
/** Whether a head read from Redis carries a valid signature (an empty chain has none to carry). */
export function headSigned(signer: ReturnType<typeof createAuditSigner>, chain: string, seq: number, hash: string, base: number, kid?: string | null, mac?: string | null): boolean {
  return seq === 0 || signer.verify(headText(chain, seq, hash, base), { kid: kid ?? undefined, mac: mac ?? undefined });
}

/** A head as read from Redis, judged by its signature (see Head). */
export function judgedHead(signer: ReturnType<typeof createAuditSigner>, chain: string, seq: number, hash: string, base: number, kid?: string | null, mac?: string | null): Head {
  const signed = headSigned(signer, chain, seq, hash, base, kid, mac);
  const newerKey = !signed && /^[0-9a-f]{8}$/.test(kid ?? '') && !signer.holds(kid!);
  return { seq, hash, base, signed, ...(newerKey ? { newerKey } : {}) };
}

/**
 * A head as stored in Redis (seq, hash, base, kid, mac; absent fields as null or as the scripts give
 * them, '0' and ''), judged. `length`: how many entries the chain's list holds, where a head whose seq
 * is unreadable is continued from. Before, such a seq read as NaN: every compare-and-set against it
 * failed until the append gave up.
 */
export function storedHead(signer: ReturnType<typeof createAuditSigner>, chain: string, fields: ReadonlyArray<string | null | undefined>, length: number): Head {
  const [seqRaw, hash, baseRaw, kid, mac] = fields;
  const [seq, base] = [headNumber(seqRaw), headNumber(baseRaw)];
  if (seq !== null && base !== null) return judgedHead(signer, chain, seq, hash ?? '', base, kid, mac);
  return { seq: seq || (base ?? 0) + length, hash: hash ?? '', base: base ?? 0, signed: false, stored: { seq: seqRaw ?? '0', base: baseRaw ?? '0' } };
}

const scopesOf = (input: AuditInput): ChainScope[] => {
  if (input.userId === null || input.globalOnly) return ['global'];
  return input.userOnly ? [{ userId: input.userId }] : [{ userId: input.userId }, 'global'];
};

interface Pending { input: AuditInput; resolve: (e: AuditEntry) => void; reject: (err: unknown) => void }

/**
 * Appends, one batch at a time per process (every append touches the global head, so racing them
 * locally would only turn into compare-and-set retries): the appends that arrive while a batch is
 * in Redis go together in the next one — one EVALSHA and one head signature per chain for all of
 * them (group commit), instead of one round trip each behind the previous one.
 */
export function createAppender(opts: {
  redis: Redis; clock: Clock; signer: ReturnType<typeof createAuditSigner>; every: number;
  chainId: (scope: ChainScope) => string; keyList: (scope: ChainScope) => string[];
  readHead: (scope: ChainScope) => Promise<Head>; enforceRetention: (scope: ChainScope) => Promise<number>;
}) {
  const { redis, clock, signer, every, chainId, keyList } = opts;
  // By EVALSHA: every audited request appends, and the script's text need not cross the connection each time.
  const appendIfHeads = redisScript(APPEND_IF_HEADS);

  // The heads this process last wrote or was told of, per chain: a batch hashes and signs against
  // them without reading them first. The script compares seq, hash and base, so a stale one
  // (another process appended, or trimmed) only costs a retry with the heads it returns. Bounded:
  // a miss just reads the head.
  const known = boundedMemo<string, Head>(10_000);
  // One under a key this process does not hold is not kept: the next append reads the head again.
  const remember = (chain: string, head: Head) => { if (head.newerKey) known.delete(chain); else known.set(chain, head); };
  // Head reads in flight (a batch's or a prefetch's): a batch waits for one rather than sending another.
  // What a read finds is kept unless this process has since written a later head.
  const reading = new Map<string, Promise<Head>>();
  const readHead = (chain: string, scope: ChainScope): Promise<Head> => {
    let p = reading.get(chain);
    if (!p) {
      const read: Promise<Head> = opts.readHead(scope).then((head) => {
        if (!(head.seq < (known.get(chain)?.seq ?? 0))) remember(chain, head);
        return head;
      }).finally(() => { if (reading.get(chain) === read) reading.delete(chain); });
      reading.set(chain, p = read);
    }
    return p;
  };
  // When any head is unknown, all are read: one round trip either way, and a known one may be stale
  // (the global head, after another process appended) and would cost a retry.
  const readHeads = (chains: Map<string, ChainScope>, fresh = false): Promise<Head[]> | null => {
    if (!fresh && [...chains.keys()].every((chain) => known.has(chain) && !reading.has(chain))) return null;
    return Promise.all([...chains].map(([chain, scope]) => readHead(chain, scope)));
  };

  async function write(batch: Pending[]): Promise<AuditEntry[]> {
    const at = new Date(clock.now()).toISOString();
    const items = batch.map(({ input }) => ({
      input, detail: sanitizeDetail(input.detail as Record<string, unknown> | undefined),
      scopes: scopesOf(input),
      // Kept across this call's attempts: a resend after a lost answer carries the very same entries.
      nonce: randomBytes(12).toString('hex'),
    }));
    const chains = new Map<string, ChainScope>();
    for (const item of items) for (const scope of item.scopes) chains.set(chainId(scope), scope);
    const order = [...chains.keys()];
    // After a read, what the process knows is the later of it and what a batch wrote meanwhile.
    const read = await readHeads(chains);
    let heads = new Map(order.map((chain, i) => [chain, known.get(chain) ?? read![i]!]));
    let answerLost = false;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if ([...heads.values()].some((h) => h.newerKey)) {
        throw new Error('audit append: a chain head is signed with a SECRET_KEY this process does not hold (a rotation rolling out); not appended');
      }
      const running = new Map([...heads].map(([chain, h]) => [chain, { seq: h.seq, hash: h.hash, entries: [] as string[], checkpoints: [] as string[] }]));
      const firsts = items.map(({ input, detail, scopes, nonce }) => scopes.map((scope) => {
        const chain = chainId(scope);
        const r = running.get(chain)!;
        const body: Omit<AuditEntry, 'hash'> = {
          chain, seq: r.seq + 1, at, userId: input.userId, action: input.action, outcome: input.outcome,
          detail, prevHash: r.seq === 0 ? GENESIS_HASH : r.hash, nonce,
        };
        const e: AuditEntry = { ...body, hash: entryHash(body) };
        [r.seq, r.hash] = [e.seq, e.hash];
        r.entries.push(JSON.stringify(e));
        if (e.seq % every === 0) {
          const cp: Checkpoint = { seq: e.seq, hash: e.hash, at, ...signer.sign(checkpointText(chain, e.seq, e.hash, at)) };
          r.checkpoints.push(String(e.seq), JSON.stringify(cp));
        }
        return e;
      })[0]!);
      const args = order.flatMap((chain) => {
        const [h, r] = [heads.get(chain)!, running.get(chain)!];
        const sig = h.signed ? signer.sign(headText(chain, r.seq, r.hash, h.base)) : UNVERIFIED;
        return [h.stored?.seq ?? String(h.seq), h.hash, h.stored?.base ?? String(h.base), String(r.seq), r.hash, sig.kid, sig.mac, String(r.entries.length), String(r.checkpoints.length / 2), ...r.entries, ...r.checkpoints];
      });
      const written = async () => {
        for (const chain of order) {
          const [h, r] = [heads.get(chain)!, running.get(chain)!];
          // The script leaves base as it was: an unreadable one is still what the next compare-and-set meets.
          remember(chain, { seq: r.seq, hash: r.hash, base: h.base, signed: h.signed, ...(h.stored ? { stored: { seq: String(r.seq), base: h.stored.base } } : {}) });
        }
        // A new checkpoint is where retention can cut: trim that chain now (bounded work, every `every` appends).
        for (const chain of order) if (running.get(chain)!.checkpoints.length > 0) await opts.enforceRetention(chains.get(chain)!).catch(() => 0);
        return firsts;
      };
      let res: Array<number | string>;
      try {
        res = (await appendIfHeads(redis, order.flatMap((chain) => keyList(chains.get(chain)!)), args)) as Array<number | string>;
      } catch (err) {
        // No answer (the connection dropped and ioredis gave the script up, or it timed out): Redis may have run
        // it or not. The same call is sent again once the connection is back (same heads, same entries): the
        // script finds its entries there ({2}), or writes them, or answers the heads that moved on. The entry
        // is not lost to a blip, nor written twice.
        if (err instanceof ReplyError || answerLost) throw err;
        answerLost = true;
        continue;
      }
      // 2: written already, by this very call's earlier run (its answer lost; ioredis sent it again).
      if (Number(res[0]) === 1 || Number(res[0]) === 2) return written();
      // The heads another process (or a Redis writer) left: each is trusted only if its signature holds.
      const found = order.map((chain, i) => {
        const fields = res.slice(1 + i * 5, 6 + i * 5).map(String);
        return [chain, storedHead(signer, chain, fields, Number(res[1 + order.length * 5 + i] ?? 0))] as const;
      });
      heads = new Map(found);
      for (const [chain, h] of heads) remember(chain, h);
      if (attempt > 0) await backoff(attempt);
    }
    throw new Error('audit append: chain head kept moving; gave up');
  }

  const queue: Pending[] = [];
  let writing = false;
  async function drain() {
    writing = true;
    while (queue.length > 0) {
      const batch = queue.splice(0, MAX_BATCH);
      try {
        const entries = await write(batch);
        batch.forEach((p, i) => p.resolve(entries[i]!));
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    writing = false;
  }

  return {
    remember,
    /**
     * Read the heads an append to this user's chain needs, even those this process knows: called where
     * a request sends other commands, the reads share their round trip, and the append that follows
     * sends only its script. Known heads are read too because they are usually stale where prefetch is
     * called: the web and the worker both append to the global chain and the user's for every deploy
     * (requested, finished), so the head one process remembers has mostly moved by its next append,
     * and a stale head costs a failed compare-and-set, a second round trip and signing again.
     */
    prefetch(userId: number): void {
      void readHeads(new Map<string, ChainScope>([[chainId({ userId }), { userId }], [chainId('global'), 'global']]), true)?.catch(() => {});
    },
    append(input: AuditInput): Promise<AuditEntry> {
      return new Promise<AuditEntry>((resolve, reject) => {
        queue.push({ input, resolve, reject });
        if (!writing) void drain();
      });
    },
  };
}
