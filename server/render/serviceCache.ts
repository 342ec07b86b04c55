import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { PresentedService } from '../presenters/service.js';
import { systemClock, type Clock } from '../clock.js';
import { deleteIfOurs } from '../redisOwned.js';
import { BudgetExhausted } from './budget.js';
import { RenderApiError, RenderKeyWithdrawn } from './errors.js';
import { finishLoad, readOrClaim } from './serviceCacheScripts.js';
import { boundedMemo } from '../boundedMemo.js';

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

/**
 * Loads the list. `askers`: the sessions (refs) of this process that asked for this load, the starter's
 * first; it grows while the load runs as others join it. A load asks before each Render call that one
 * of them still holds the key, and stops when none does (RenderKeyWithdrawn), so a key withdrawn while
 * the load is at Render is not used again, and a joiner that still holds it keeps the load going.
 */
type Load = (askers: Set<string>) => Promise<PresentedService[]>;

export interface ServiceCache {
  /**
   * The cached list, or the result of `load` — run once across processes for concurrent callers.
   * `asker`: the session asking (its ref), added to the askers of the load it starts or joins.
   */
  get(scope: ServiceCacheScope, load: Load, asker?: string): Promise<PresentedService[]>;
  /** After a mutation: every cached list of this user and key is stale, including one being loaded now. */
  invalidate(scope: Pick<ServiceCacheScope, 'userId' | 'keyFingerprint'>): Promise<void>;
}

/** `at`: when the loader finished (the clock's ms), so any process can tell its age. */
interface Entry { gen: string; at: number; services: PresentedService[] }

/** The stored entry: `gen` (a UUID or '0') and a whole `at` first, as `readOrClaim` reads them from its head. */
const entryJson = (gen: string, at: number, services: PresentedService[]) =>
  JSON.stringify({ gen, at: Math.floor(at), services } satisfies Entry);

/** A list, and when the flight that got it is over (its write done, if it loaded). */
interface Flight { services: PresentedService[]; written: Promise<unknown> }
/**
 * A flight callers in this process join: until answered, then until its list is written (`answeredAt`,
 * `written` set at the answer). `gen`: the generation it read first (null if it failed before that).
 */
interface Joinable { services: Promise<PresentedService[]>; gen: Promise<string | null>; askers: Set<string>; answeredAt?: number; written?: Promise<unknown> }
const SETTLED = Promise.resolve();
/** Lists whose generation this process remembers (see `lastGen`); past it, it forgets them all. */
const MAX_REMEMBERED_GENERATIONS = 10_000;

/**
 * A refresh that failed this way keeps the list it would have replaced (Render busy or slow, the
 * budget spent, or the askers' key withdrawn: the list is still the best answer). Anything else — a revoked key (401), a lost
 * workspace (403) — drops it, so the next read waits for Render and shows the user that error.
 */
const keepsStale = (err: unknown) => err instanceof BudgetExhausted || err instanceof RenderKeyWithdrawn || (err instanceof RenderApiError && err.retryable);

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
  const inflight = new Map<string, Joinable>();
  /** Lock keys of the background refreshes this process runs (one per list and generation), and their askers. */
  const refreshing = new Map<string, Set<string>>();
  // The generation last seen per user and key, so a read can claim the right lock in its own round trip
  // (a list never invalidated is at '0'; a guess made stale by another process costs one more trip).
  const lastGen = boundedMemo<string, string>(MAX_REMEMBERED_GENERATIONS);
  const remember = (listBase: string, gen: string) => {
    if (lastGen.get(listBase) !== gen) lastGen.set(listBase, gen);
  };
  // Lock tokens: unique per process and claim; nothing secret, so no random draw per read.
  const tokenBase = randomUUID();
  let tokens = 0;
  const nextToken = () => `${tokenBase}.${tokens++}`;

  // `v2`: the presented service's shape (previewOf since v2), so a list cached by a process of the version
  // before (a rolling deploy runs both) is not answered by this one, nor this one's by it.
  const base = (s: Pick<ServiceCacheScope, 'userId' | 'keyFingerprint'>) => `${prefix}:svc-cache:v2:${s.userId}:${s.keyFingerprint}`;
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

  /**
   * Loads, then writes the list and gives the lock back in one round trip. The list is answered as soon
   * as Render's answers are in, before its write (`written` settles after it; a failed write costs only a
   * later reload, the lock lapsing after lockMs). A failed load gives the lock back; when Render refused
   * the refresh of a served list (`dropOnRefusal`), it drops that list in the same step.
   */
  async function loadAndWrite(k: Keys, gen: string, token: string, load: () => Promise<PresentedService[]>, dropOnRefusal = false): Promise<Flight> {
    const finish = (entry: string) => finishLoad(redis, [k.gen, k.data, lockOf(k, gen)], [gen, entry, maxStaleMs, token]);
    let services: PresentedService[];
    try {
      services = await load();
    } catch (err) {
      await (dropOnRefusal && !keepsStale(err) ? finish('') : deleteIfOurs(redis, lockOf(k, gen), token)).catch(() => false);
      throw err;
    }
    return { services, written: finish(entryJson(gen, clock.now(), services)).catch(() => undefined) };
  }

  /**
   * One refresh behind a served list, unless one already runs (here, or in another process: the lock).
   * Its askers are those of the flight that started it (`askers`, the set `load` reads), and of each
   * flight here that found it running: nobody waits for it, so it goes on only while one of them holds the key.
   */
  function refreshInBackground(k: Keys, gen: string, load: () => Promise<PresentedService[]>, askers: Set<string>): void {
    const lock = lockOf(k, gen);
    const running = refreshing.get(lock);
    if (running) {
      for (const ref of askers) running.add(ref);
      return;
    }
    refreshing.set(lock, askers);
    const token = nextToken();
    void (async () => {
      if (!(await redis.set(lock, token, 'PX', lockMs, 'NX'))) return;
      await (await loadAndWrite(k, gen, token, load, true)).written;
    })().catch(() => undefined).finally(() => refreshing.delete(lock));
  }

  async function loadOnce(k: Keys, load: () => Promise<PresentedService[]>, askers: Set<string>, onGen: (gen: string) => void): Promise<Flight> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const token = nextToken();
      const now = clock.now();
      const expected = lastGen.get(k.base) ?? '0';
      const [gen, raw, claimed] = await readOrClaim(redis, [k.gen, k.data, lockOf(k, expected)], [expected, token, lockMs, Math.floor(now), maxStaleMs]) as [string, string | null, number];
      remember(k.base, gen);
      onGen(gen);
      if (claimed === 1) return loadAndWrite(k, gen, token, load);
      if (claimed === -1) continue; // not the generation this process knew: ask again with its lock
      const hit = read(raw, gen);
      const age = hit ? now - hit.at : Infinity;
      if (hit && age < freshMs) return { services: hit.services, written: SETTLED };
      if (hit && age < maxStaleMs) {
        refreshInBackground(k, gen, load, askers);
        return { services: hit.services, written: SETTLED };
      }
      // Another loader holds this generation's lock. Bounded wait: past it we load ourselves; the
      // per-key Render budget still caps the calls.
      if (Date.now() >= deadline) return { services: await load(), written: SETTLED };
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  /** A flight of this process for `k`, joinable by later callers; after `previous`'s write when given. */
  function startFlight(k: Keys, load: Load, asker: string | undefined, previous?: Promise<unknown>): Joinable {
    let readGen!: (gen: string | null) => void;
    const gen = new Promise<string | null>((ok) => { readGen = ok; });
    const askers = new Set<string>(asker === undefined ? [] : [asker]);
    const run = () => load(askers);
    const flight = previous ? previous.then(() => loadOnce(k, run, askers, readGen)) : loadOnce(k, run, askers, readGen);
    const joinable: Joinable = { services: flight.then((f) => f.services), gen, askers };
    void flight.then(() => readGen(null), () => readGen(null)); // settles `gen` if the flight failed before its first read
    inflight.set(k.data, joinable);
    const forget = () => { if (inflight.get(k.data) === joinable) inflight.delete(k.data); };
    flight.then((f) => {
      joinable.answeredAt = clock.now();
      joinable.written = f.written;
      return f.written;
    }).then(forget, forget);
    return joinable;
  }

  /**
   * Join a flight unless the generation moved since it read its own: a change answered by another
   * process (whose invalidate cannot reach this process's flights) must not be answered from a load
   * that began before it. One GET per read that joins a load still under way (such reads asked Redis
   * nothing before): a load takes Render round trips, the window this closes; the answer's own write,
   * one Redis round trip, is left.
   */
  async function joinIfCurrent(k: Keys, running: Joinable, load: Load, asker: string | undefined): Promise<PresentedService[]> {
    // An asker of the load from now on, before the generation check's round trip: it may be what keeps
    // the load going (Load) through a call made meanwhile.
    if (asker !== undefined) running.askers.add(asker);
    const [theirs, now] = await Promise.all([running.gen, redis.get(k.gen)]);
    const current = now ?? '0';
    if (theirs === current) return running.services;
    // Another caller may have started the flight of the new generation meanwhile: join that one.
    const latest = inflight.get(k.data);
    if (latest && latest !== running && await latest.gen === current) return join(latest, asker);
    remember(k.base, current);
    return startFlight(k, load, asker).services;
  }

  function join(running: Joinable, asker: string | undefined): Promise<PresentedService[]> {
    if (asker !== undefined) running.askers.add(asker);
    return running.services;
  }

  return {
    get(scope, load, asker) {
      const k = keysOf(scope);
      const running = inflight.get(k.data);
      // Callers in this process join the flight until its list is written, not only until it is answered,
      // but only while that list is still fresh: one answered freshMs ago whose write is still pending is
      // read again after that write, its age checked as any read's (else a stale list would be served
      // with no refresh behind it, or one past maxStaleMs served at all).
      // A flight still loading from Render may have begun before a change another process answered:
      // joined only if the generation has not moved (joinIfCurrent). One answered, its write on its way,
      // is joined as it is: the check would wait behind that write on the connection.
      if (running) {
        if (running.answeredAt === undefined) return joinIfCurrent(k, running, load, asker);
        // Answered: its askers may still be those of the refresh it started behind a stale list.
        if (clock.now() - running.answeredAt < freshMs) return join(running, asker);
      }
      return startFlight(k, load, asker, running?.written).services;
    },

    async invalidate(scope) {
      const b = base(scope);
      // New callers in this process must not join a flight that started before the change.
      for (const key of inflight.keys()) if (key.startsWith(`${b}:`)) inflight.delete(key);
      // A fresh random generation, not a counter: one SET instead of a MULTI of INCR and PEXPIRE (a worker
      // drops the list twice per deploy); a reader only ever compares generations for equality.
      // randomUUID draws from a pool Node refills 128 at a time: randomBytes was a getrandom call each
      // (0.6% of the worker's busy time in the pipeline profile, twice per deploy).
      const gen = randomUUID();
      await redis.set(`${b}:gen`, gen, 'PX', 3_600_000);
      remember(b, gen);
    },
  };
}
