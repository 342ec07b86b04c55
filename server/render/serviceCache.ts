import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { PresentedService } from '../presenters/service.js';
import { systemClock, type Clock } from '../clock.js';
import { deleteIfOurs } from '../redisOwned.js';
import { redisScript } from '../redisScript.js';
import { BudgetExhausted } from './budget.js';
import { RenderApiError } from './errors.js';

/** Whose list it is: one user, one key (by fingerprint), the workspaces their session lists. */
interface ServiceCacheScope {
  userId: number;
  keyFingerprint: string;
  ownerIds: readonly string[];
}

interface ServiceCacheOptions {
  redis: Redis;
  prefix: string;
  /** The age of a list (tests move it by hand); waits are in real time. Default the system clock. */
  clock?: Clock;
  /** A list this young is served as is. Default 8 s. */
  freshMs?: number;
  /** An older list, up to this age, is served at once while one refresh runs in the background; older is never served. Default 20 s. */
  maxStaleMs?: number;
  /** Lock lease for the one loader; longer than a slow multi-page list. Default 15 s. */
  lockMs?: number;
  /** How long others wait for the loader's result before loading themselves. Default 12 s. */
  waitMs?: number;
  /** Poll interval while waiting. Default 50 ms. */
  pollMs?: number;
}

export interface ServiceCache {
  /** The cached list, or the result of `load` — run once across processes for concurrent callers. */
  get(scope: ServiceCacheScope, load: () => Promise<PresentedService[]>): Promise<PresentedService[]>;
  /** After a mutation: every cached list of this user and key is stale, including one being loaded now. */
  invalidate(scope: Pick<ServiceCacheScope, 'userId' | 'keyFingerprint'>): Promise<void>;
}

// Write only if nobody invalidated since the loader read the generation: a list fetched before a
// suspend must not be cached after it.
const WRITE_IF_GENERATION = `
if (redis.call('GET', KEYS[1]) or '0') == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;
/** Drop the list only while the generation is still the one it was loaded for (a newer list is left alone). */
const DROP_IF_GENERATION = `
if (redis.call('GET', KEYS[1]) or '0') == ARGV[1] then return redis.call('DEL', KEYS[2]) end
return 0`;
// By EVALSHA: the text need not cross on every refresh.
const writeIfGeneration = redisScript(WRITE_IF_GENERATION);
const dropIfGeneration = redisScript(DROP_IF_GENERATION);

/** `at`: when the loader finished (the clock's ms), so any process can tell its age. */
interface Entry { gen: string; at: number; services: PresentedService[] }

/**
 * A refresh that failed this way keeps the list it would have replaced (Render busy or slow, the
 * budget spent: the list is still the best answer). Anything else — a revoked key (401), a lost
 * workspace (403) — drops it, so the next read waits for Render and shows the user that error.
 */
const keepsStale = (err: unknown) => err instanceof BudgetExhausted || (err instanceof RenderApiError && err.retryable);

/**
 * A short per-user, per-key cache of the services list with single flight, so UI polling (and many
 * tabs, and many web processes) spends one round of Render GETs per refresh instead of one per
 * request. Stale-while-revalidate: past `freshMs` a read still answers from the cache and starts one
 * refresh behind it, so a poller waits for Render only when the list is missing, older than
 * `maxStaleMs`, or invalidated by a change (whose next read always waits for Render).
 * In-process: concurrent callers share one promise. Across processes: a Redis lock per generation
 * elects one loader; the rest poll the cache, bounded by waitMs.
 */
export function createServiceCache(opts: ServiceCacheOptions): ServiceCache {
  const { redis, prefix } = opts;
  const clock = opts.clock ?? systemClock;
  const freshMs = opts.freshMs ?? 8_000;
  const maxStaleMs = opts.maxStaleMs ?? 20_000;
  const lockMs = opts.lockMs ?? 15_000;
  const waitMs = opts.waitMs ?? 12_000;
  const pollMs = opts.pollMs ?? 50;
  const inflight = new Map<string, Promise<PresentedService[]>>();
  /** Lock keys of the background refreshes this process runs (one per list and generation). */
  const refreshing = new Set<string>();

  const base = (s: Pick<ServiceCacheScope, 'userId' | 'keyFingerprint'>) => `${prefix}:svc-cache:${s.userId}:${s.keyFingerprint}`;
  const keysOf = (s: ServiceCacheScope) => {
    const owners = createHash('sha256').update([...s.ownerIds].sort().join(',')).digest('hex').slice(0, 16);
    const b = base(s);
    return { base: b, gen: `${b}:gen`, data: `${b}:${owners}:data` };
  };
  type Keys = ReturnType<typeof keysOf>;
  // Per generation: a loader that starts after an invalidation never waits behind one from before it.
  const lockOf = (k: Keys, gen: string) => `${k.data}:lock:${gen}`;

  function read(raw: string | null, gen: string): Entry | null {
    if (!raw) return null;
    try {
      const entry = JSON.parse(raw) as Entry;
      return entry.gen === gen && Array.isArray(entry.services) && typeof entry.at === 'number' ? entry : null;
    } catch {
      return null;
    }
  }

  async function loadAndWrite(k: Keys, gen: string, load: () => Promise<PresentedService[]>): Promise<PresentedService[]> {
    const services = await load();
    const entry: Entry = { gen, at: clock.now(), services };
    await writeIfGeneration(redis, [k.gen, k.data], [gen, JSON.stringify(entry), String(maxStaleMs)]);
    return services;
  }

  /** One refresh behind a served list, unless one already runs (here, or in another process: the lock). */
  function refreshInBackground(k: Keys, gen: string, load: () => Promise<PresentedService[]>): void {
    const lock = lockOf(k, gen);
    if (refreshing.has(lock)) return;
    refreshing.add(lock);
    const token = randomBytes(12).toString('hex');
    void (async () => {
      if (!(await redis.set(lock, token, 'PX', lockMs, 'NX'))) return;
      try {
        await loadAndWrite(k, gen, load);
      } catch (err) {
        if (!keepsStale(err)) await dropIfGeneration(redis, [k.gen, k.data], [gen]);
      } finally {
        await deleteIfOurs(redis, lock, token).catch(() => false);
      }
    })().catch(() => undefined).finally(() => refreshing.delete(lock));
  }

  async function loadOnce(k: Keys, load: () => Promise<PresentedService[]>): Promise<PresentedService[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const [genRaw, raw] = await redis.mget(k.gen, k.data);
      const gen = genRaw ?? '0';
      const hit = read(raw ?? null, gen);
      const age = hit ? clock.now() - hit.at : Infinity;
      if (hit && age < freshMs) return hit.services;
      if (hit && age < maxStaleMs) {
        refreshInBackground(k, gen, load);
        return hit.services;
      }
      const lock = lockOf(k, gen);
      const token = randomBytes(12).toString('hex');
      if (await redis.set(lock, token, 'PX', lockMs, 'NX')) {
        try {
          return await loadAndWrite(k, gen, load);
        } finally {
          await deleteIfOurs(redis, lock, token).catch(() => false);
        }
      }
      // Bounded wait: past it we load ourselves; the per-key Render budget still caps the calls.
      if (Date.now() >= deadline) return load();
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  return {
    get(scope, load) {
      const k = keysOf(scope);
      const running = inflight.get(k.data);
      if (running) return running;
      const p = loadOnce(k, load).finally(() => { if (inflight.get(k.data) === p) inflight.delete(k.data); });
      inflight.set(k.data, p);
      return p;
    },

    async invalidate(scope) {
      const b = base(scope);
      // New callers in this process must not join a flight that started before the change.
      for (const key of inflight.keys()) if (key.startsWith(`${b}:`)) inflight.delete(key);
      // A fresh random generation, not a counter: one SET instead of a MULTI of INCR and PEXPIRE (a worker
      // drops the list twice per deploy); a reader only ever compares generations for equality.
      // randomUUID draws from a pool Node refills 128 at a time: randomBytes was a getrandom call each
      // (0.6% of the worker's busy time in the pipeline profile, twice per deploy).
      await redis.set(`${b}:gen`, randomUUID(), 'PX', 3_600_000);
    },
  };
}
