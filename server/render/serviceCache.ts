import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { PresentedService } from '../presenters/service.js';
import { deleteIfOurs } from '../redisOwned.js';

/** Whose list it is: one user, one key (by fingerprint), the workspaces their session lists. */
interface ServiceCacheScope {
  userId: number;
  keyFingerprint: string;
  ownerIds: readonly string[];
}

interface ServiceCacheOptions {
  redis: Redis;
  prefix: string;
  /** How long a list is served from Redis. Default 10 s. */
  ttlMs?: number;
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

interface Entry { gen: string; services: PresentedService[] }

/**
 * A short per-user, per-key cache of the services list with single flight, so UI polling (and many
 * tabs, and many web processes) spends one round of Render GETs per TTL instead of one per request.
 * In-process: concurrent callers share one promise. Across processes: a Redis lock elects one loader;
 * the rest poll the cache, bounded by waitMs.
 */
export function createServiceCache(opts: ServiceCacheOptions): ServiceCache {
  const { redis, prefix } = opts;
  const ttlMs = opts.ttlMs ?? 10_000;
  const lockMs = opts.lockMs ?? 15_000;
  const waitMs = opts.waitMs ?? 12_000;
  const pollMs = opts.pollMs ?? 50;
  const inflight = new Map<string, Promise<PresentedService[]>>();

  const base = (s: Pick<ServiceCacheScope, 'userId' | 'keyFingerprint'>) => `${prefix}:svc-cache:${s.userId}:${s.keyFingerprint}`;
  const keysOf = (s: ServiceCacheScope) => {
    const owners = createHash('sha256').update([...s.ownerIds].sort().join(',')).digest('hex').slice(0, 16);
    const b = base(s);
    return { base: b, gen: `${b}:gen`, data: `${b}:${owners}:data`, lock: `${b}:${owners}:lock` };
  };

  function read(raw: string | null, gen: string): PresentedService[] | null {
    if (!raw) return null;
    try {
      const entry = JSON.parse(raw) as Entry;
      return entry.gen === gen && Array.isArray(entry.services) ? entry.services : null;
    } catch {
      return null;
    }
  }

  async function loadOnce(k: ReturnType<typeof keysOf>, load: () => Promise<PresentedService[]>): Promise<PresentedService[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const [genRaw, raw] = await redis.mget(k.gen, k.data);
      const gen = genRaw ?? '0';
      const hit = read(raw ?? null, gen);
      if (hit) return hit;
      const token = randomBytes(12).toString('hex');
      if (await redis.set(k.lock, token, 'PX', lockMs, 'NX')) {
        try {
          const services = await load();
          const entry: Entry = { gen, services };
          await redis.eval(WRITE_IF_GENERATION, 2, k.gen, k.data, gen, JSON.stringify(entry), String(ttlMs));
          return services;
        } finally {
          await deleteIfOurs(redis, k.lock, token).catch(() => false);
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
      await redis.multi().incr(`${b}:gen`).pexpire(`${b}:gen`, 3_600_000).exec();
    },
  };
}
