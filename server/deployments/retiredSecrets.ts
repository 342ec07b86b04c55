import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { isStale, open, seal, type Keyring } from '../crypto/keyring.js';
import { errors } from '../errors.js';
import { keysUnder } from '../redis.js';
import { deleteIfOurs } from '../redisOwned.js';
import type { Deploy, DeployStatus } from '../render/types.js';
import type { RenderClient } from '../render/client.js';
import type { Clock } from '../clock.js';
import { readDated } from '../render/renderClock.js';
import { redisScript } from '../redisScript.js';

/**
 * Env var values and secret file contents replaced or removed through the settings routes. Render
 * applies such a change at the next deploy, so the running deploy (and the logs of every earlier
 * one) still hold the old value: it is redacted like a current one. Kept sealed, per service, as
 * long as Render keeps logs (30 days at most), at most MAX_RETIRED entries and MAX_RETIRED_BYTES:
 * past either, the values a running deploy may still print are the last to go (see `dropOrder`).
 */
export const RETIRED_TTL_SEC = 30 * 24 * 3600;
export const MAX_RETIRED = 200;
/**
 * Sealed bytes kept per service (the sum of the entries' lengths in Redis). A secret file may hold
 * 48 KB (secretFiles.ts), about 65 KB sealed (base64url of the JSON entry): by count alone one service
 * could keep some 13 MB in the shared Redis (26 MB while Render cannot say which deploys run), every
 * change past the cap reading and opening all of it. 1 MiB keeps some fifteen full-size files, more
 * than the few deploys that run at once can print (each runs with one value per item, kept last);
 * env var values, mostly short (passwords, tokens: 200 of 4 KB sealed stay under it), stay bound by
 * the count.
 */
const MAX_RETIRED_BYTES = 1024 * 1024;
/**
 * Deciding what to drop past MAX_RETIRED or MAX_RETIRED_BYTES asks Render which deploys run; while it
 * cannot answer (an outage, the key's budget spent), nothing is dropped until the next change, up to
 * twice as many entries and bytes, the oldest beyond them dropped as before.
 */
const HARD_MAX_RETIRED = 2 * MAX_RETIRED;
const HARD_MAX_RETIRED_BYTES = 2 * MAX_RETIRED_BYTES;

export interface RetiredSecretsDeps { redis: Redis; prefix: string; keyring: Keyring }
export const retiredDeps = (deps: { redis: Redis; config: { redisPrefix: string }; keyring: Keyring }): RetiredSecretsDeps =>
  ({ redis: deps.redis, prefix: deps.config.redisPrefix, keyring: deps.keyring });

const keyOf = (d: RetiredSecretsDeps, serviceId: string) => `${d.prefix}:retired-secrets:${serviceId}`;
/** Entries written before the cap knew names and times hold the value alone, sealed under this AAD. */
const valueOnlyAad = (serviceId: string) => `retired-secret:${serviceId}`;
/** Entries now: `{v, n, t, o?}` (the value, which item held it, when it was retired on our clock, `o: 1` when a read found it gone), JSON, sealed. */
const entryAad = (serviceId: string) => `retired-secret:v2:${serviceId}`;

/** `outside`: found gone by a read (seenSecrets.ts), at that read's time, which may be long after the change. */
interface Entry { value: string; name: string | null; at: number; outside: boolean }

/** The entry sealed; null under neither key. */
function openEntry(sealed: string, serviceId: string, keyring: Keyring): Entry | null {
  try {
    const { v, n, t, o } = JSON.parse(open(sealed, entryAad(serviceId), keyring)) as { v: string; n: string; t: number; o?: 1 };
    return { value: v, name: n, at: t, outside: o === 1 };
  } catch { /* an older entry, or sealed under a SECRET_KEY no longer held */ }
  try {
    return { value: open(sealed, valueOnlyAad(serviceId), keyring), name: null, at: 0, outside: false };
  } catch {
    return null;
  }
}

/** One value replaced or removed: `name` tells the item that held it (`env-vars/DB_PASSWORD`). */
export interface Retiring { name: string; value: string }

/**
 * The deploys of the service that may be running (live, or on their way to it), with a time of ours
 * moved onto Render's clock (server/render/renderClock.ts readDated). Throws when Render cannot say.
 */
export type RunningDeploys = () => Promise<{ deploys: Deploy[]; onRender(ours: number): number }>;

/** Deploys that run, or will once they finish: each took (or takes) the values current when it started. */
export const RUNNING_STATUSES: DeployStatus[] = ['live', 'created', 'build_in_progress', 'pre_deploy_in_progress', 'update_in_progress'];

/** Deploys read to learn which run (a live one and those on their way): more than a few only while deploys pile up. */
const RUNNING_DEPLOYS_READ = 20;

/** RunningDeploys read with `client`: one Render call, newest first. */
export const runningDeploysOf = (client: RenderClient, clock: Clock, serviceId: string): RunningDeploys => async () => {
  const { answer, onRender } = await readDated(clock, () => client.listDeploysPage(serviceId, { status: RUNNING_STATUSES, limit: RUNNING_DEPLOYS_READ }));
  return { deploys: answer.items, onRender };
};

/**
 * A compare-and-set the values are kept under (seenSecrets.ts): only while the hash `key` holds `expected`
 * in its field `mac`, which then gets `fields`, in the same script. Without it, two readers that found the
 * same values gone would both keep them.
 */
export interface RetireGuard { key: string; expected: string; fields: { mac: string; kid: string; sealed: string }; keepTtl?: boolean }

/**
 * Keeps `values` sealed with their item's name and the time (ours, `now`; `outside`: found gone by a read,
 * seenSecrets.ts). Past MAX_RETIRED entries or MAX_RETIRED_BYTES it asks `running` (one Render read, only
 * then) which deploys run, and drops what none of them can print first. False only when `guard` did not
 * hold: nothing was kept or set.
 */
export async function retireSecrets(d: RetiredSecretsDeps, serviceId: string, values: Retiring[], now: number, running: RunningDeploys, opts: { guard?: RetireGuard; outside?: boolean } = {}): Promise<boolean> {
  const kept = values.filter((v) => v.value !== '');
  const { guard } = opts;
  if (!kept.length && !guard) return true;
  const key = keyOf(d, serviceId);
  const sealed = kept.map((v) => seal(JSON.stringify({ v: v.value, n: v.name, t: now, ...(opts.outside ? { o: 1 } : {}) }), entryAad(serviceId), d.keyring));
  const keys = guard ? [key, guard.key] : [key];
  const guardArgs = guard ? [guard.expected, guard.fields.mac, guard.fields.kid, guard.fields.sealed, guard.keepTtl ? 0 : RETIRED_TTL_SEC] : ['', '', '', '', 0];
  const [length, bytes] = (await PUSH(d.redis, keys, [HARD_MAX_RETIRED, HARD_MAX_RETIRED_BYTES, RETIRED_TTL_SEC, ...guardArgs, ...sealed])) as [number, number];
  if (length === -1) return false;
  if (length <= MAX_RETIRED && bytes <= MAX_RETIRED_BYTES) return true;
  let deploys: Awaited<ReturnType<RunningDeploys>>;
  try {
    deploys = await running();
  } catch {
    return true; // the change goes ahead; dropped at a later one, once Render answers (the hard bounds meanwhile)
  }
  const list = await d.redis.lrange(key, 0, -1);
  await d.redis.eval(TRIM, 1, key, MAX_RETIRED, MAX_RETIRED_BYTES, ...dropOrder(list, serviceId, d.keyring, deploys));
  return true;
}

/** Only the guard's fields set, nothing kept (a view stored or re-sealed): false when the guard did not hold. */
export const setGuarded = (d: RetiredSecretsDeps, serviceId: string, guard: RetireGuard): Promise<boolean> =>
  retireSecrets(d, serviceId, [], 0, () => Promise.reject(new Error('nothing kept: the running deploys are not read')), { guard });

/**
 * With a guard (KEYS[2], a hash): nothing at all unless its `mac` is ARGV[4] (or it has none and ARGV[4]
 * is ''); then its mac, kid and sealed are set to ARGV[5..7] and its TTL to ARGV[8] seconds (0: kept).
 * Pushes the sealed values (ARGV[9..], if any) and renews the TTL (ARGV[3]), then drops the oldest entries while the list holds
 * more than ARGV[1] entries or ARGV[2] bytes (never the values just pushed: one is at most a 48 KB file).
 * Returns the entries and bytes left ({-1, 0}: the guard did not hold; {0, 0}: nothing pushed). One
 * script: no reader sees the list over the hard bounds.
 */
const PUSH = redisScript(`
if #KEYS == 2 then
  if (redis.call('HGET', KEYS[2], 'mac') or '') ~= ARGV[4] then return {-1, 0} end
  redis.call('HSET', KEYS[2], 'mac', ARGV[5], 'kid', ARGV[6], 'sealed', ARGV[7])
  if ARGV[8] ~= '0' then redis.call('EXPIRE', KEYS[2], ARGV[8]) end
end
local pushed = #ARGV - 8
if pushed == 0 then return {0, 0} end
redis.call('LPUSH', KEYS[1], unpack(ARGV, 9))
redis.call('EXPIRE', KEYS[1], ARGV[3])
local list = redis.call('LRANGE', KEYS[1], 0, -1)
local n, bytes = #list, 0
for _, v in ipairs(list) do bytes = bytes + #v end
while n > pushed and (n > tonumber(ARGV[1]) or bytes > tonumber(ARGV[2])) do
  redis.call('RPOP', KEYS[1])
  bytes = bytes - #list[n]
  n = n - 1
end
return {n, bytes}`);

/**
 * Removes the listed entries (ARGV[3..]), in that order, while the list holds more than ARGV[1]
 * entries or ARGV[2] bytes: a change meanwhile is counted.
 */
const TRIM = `
local n, bytes = 0, 0
for _, v in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do n = n + 1; bytes = bytes + #v end
local i = 3
while (n > tonumber(ARGV[1]) or bytes > tonumber(ARGV[2])) and i <= #ARGV do
  if redis.call('LREM', KEYS[1], 1, ARGV[i]) > 0 then n = n - 1; bytes = bytes - #ARGV[i] end
  i = i + 1
end
return n`;

/**
 * A deploy takes each value between its creation and its end (docs/render-api.md: a change applies at
 * the next deploy). Ours is taken before Render is asked to change the value (one settings call
 * later: Render's 15 s timeout, a wait for the key's budget), and moved onto Render's clock to a second or two: an entry may be the
 * value a deploy took from BEFORE_MS before the deploy's creation to AFTER_MS after its end.
 */
const BEFORE_MS = 60_000;
const AFTER_MS = 5_000;

/**
 * The list's entries in the order they may be dropped. A deploy runs with each item's value as it was
 * when the deploy took it: the value replaced by the item's first change after then. So for each
 * running deploy and item, the candidates are the entries retired in the deploy's span (above) and
 * the first after it, in that order; any other entry is a value set and replaced while no deploy took
 * it, or that only deploys no longer running had. Dropped first: what cannot be opened, then the
 * others oldest first, then the candidates, latest in their order first (a deploy takes its values
 * early: the first candidate is the likeliest, and is the one value when changes came after the
 * deploy). Entries from before names and times were kept are never candidates: they are the oldest.
 * An entry found gone by a read after the span (seenSecrets.ts) is stamped when found, not when changed:
 * it and the entry after it are the candidates, in that order. Exported for its test
 * (test/server/logSeenSecrets.test.ts).
 */
export function dropOrder(list: string[], serviceId: string, keyring: Keyring, running: { deploys: Deploy[]; onRender(ours: number): number }): string[] {
  const unreadable: string[] = [];
  const entries: Array<{ sealed: string; entry: Entry }> = [];
  // The list is newest first (LPUSH): oldest first from here on.
  for (const sealed of [...list].reverse()) {
    const opened = openEntry(sealed, serviceId, keyring);
    if (opened) entries.push({ sealed, entry: opened }); else unreadable.push(sealed);
  }
  const byItem = new Map<string, Array<{ sealed: string; at: number; outside: boolean }>>();
  for (const { sealed, entry } of entries) {
    if (entry.name === null) continue;
    const item = byItem.get(entry.name) ?? [];
    item.push({ sealed, at: running.onRender(entry.at), outside: entry.outside });
    byItem.set(entry.name, item);
  }
  /** Each candidate's place among its deploy's and item's (0: the likeliest), the least over deploys. */
  const rank = new Map<string, number>();
  for (const deploy of running.deploys) {
    if (!deploy.status || !RUNNING_STATUSES.includes(deploy.status)) continue;
    const created = Date.parse(deploy.createdAt ?? '');
    const finished = deploy.finishedAt ? Date.parse(deploy.finishedAt) : Number.NaN;
    const from = Number.isFinite(created) ? created - BEFORE_MS : -Infinity;
    const to = Number.isFinite(finished) ? finished + AFTER_MS : Infinity;
    for (const item of byItem.values()) {
      let place = 0;
      let afterLate = false;
      for (const { sealed, at, outside } of item) {
        if (at < from) continue;
        rank.set(sealed, Math.min(rank.get(sealed) ?? Infinity, place));
        if (afterLate) break;
        place += 1;
        // One found gone by a read after the span may have changed long before its time: the deploy took
        // its value (the likelier: the deploy ran before the read that last saw it) or the next one's, which
        // is ranked after it and is the last.
        if (outside && at > to) { afterLate = true; continue; }
        if (at > to) break; // the first after the deploy's span
      }
    }
  }
  const oldestFirst = entries.map((e) => e.sealed);
  const candidates = oldestFirst.filter((s) => rank.has(s)).sort((a, b) => rank.get(b)! - rank.get(a)!); // stable: ties oldest first
  return [...unreadable, ...oldestFirst.filter((s) => !rank.has(s)), ...candidates];
}

/**
 * One change of an item (`env-vars/DB_PASSWORD`) at a time, across web processes. A change reads the
 * value it replaces, keeps it (`retireSecrets`), then asks Render to replace it: two changes at once
 * would both read the same value, and the one written between them would be replaced without being
 * kept, so a deploy that started with it would print it in clear. Held longer than a change's Render
 * calls can take (two at 15 s each, and a read of the running deploys past the cap); a change that
 * finds the item taken waits for its turn, up to TURN_WAIT_MS, then is refused as nothing changed.
 * `holdMs`: for a change that makes more Render calls than that (a service's settings save, up to five).
 */
const TURN_MS = 60_000;
const TURN_WAIT_MS = 20_000;
const TURN_POLL_MS = 50;
const turnKeyOf = (d: RetiredSecretsDeps, serviceId: string, item: string) => `${d.prefix}:item-turn:${serviceId}:${item}`;

export async function inItemTurn<T>(d: RetiredSecretsDeps, serviceId: string, item: string, change: () => Promise<T>, waitMs = TURN_WAIT_MS, holdMs = TURN_MS): Promise<T> {
  const key = turnKeyOf(d, serviceId, item);
  const token = randomUUID();
  const giveUpAt = Date.now() + waitMs;
  while ((await d.redis.set(key, token, 'PX', holdMs, 'NX')) === null) {
    if (Date.now() >= giveUpAt) {
      throw errors.conflict('item_change_in_progress', `Another change of ${item.split('/').pop()} is still on its way to Render; nothing was changed. Try again in a few seconds.`, undefined, { 'Retry-After': '5' });
    }
    await sleep(TURN_POLL_MS);
  }
  try {
    return await change();
  } finally {
    await deleteIfOurs(d.redis, key, token).catch(() => false); // else it lapses after holdMs
  }
}

/**
 * A counter per service bumped by every change of an env var or secret file through the settings: a
 * live tail, which reuses the values it redacts with for minutes, reads them again once it moves.
 */
const generationKeyOf = (d: RetiredSecretsDeps, serviceId: string) => `${d.prefix}:secrets-gen:${serviceId}`;

export async function secretsChanged(d: RetiredSecretsDeps, serviceId: string): Promise<void> {
  const key = generationKeyOf(d, serviceId);
  await d.redis.multi().incr(key).expire(key, RETIRED_TTL_SEC).exec();
}

export async function secretsGeneration(d: RetiredSecretsDeps, serviceId: string): Promise<string> {
  return (await d.redis.get(generationKeyOf(d, serviceId))) ?? '0';
}

export async function retiredSecrets(d: RetiredSecretsDeps, serviceId: string): Promise<string[]> {
  const out: string[] = [];
  for (const sealed of await d.redis.lrange(keyOf(d, serviceId), 0, -1)) {
    // Null: sealed under a SECRET_KEY no longer held (two rotations ago), nothing to redact with.
    const opened = openEntry(sealed, serviceId, d.keyring);
    if (opened) out.push(opened.value);
  }
  return out;
}

/**
 * Replaces each listed sealed value (ARGV: old, new, old, new…) wherever it still is in the list, in
 * place: a value retired meanwhile (LPUSH) or a trim does not shift what is replaced. The TTL stays.
 */
const RESEAL = `
local map = {}
for i = 1, #ARGV, 2 do map[ARGV[i]] = ARGV[i + 1] end
local n = 0
for i, v in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if map[v] then redis.call('LSET', KEYS[1], i - 1, map[v]); n = n + 1 end
end
return n`;

/**
 * During a SECRET_KEY rotation (workers/rotationSweep.ts): every retired value still sealed with the
 * previous key is sealed again with the current one. Kept 30 days, they outlive the rotation; once
 * SECRET_KEY_PREVIOUS is removed, one nobody re-sealed could no longer be opened, and the old value
 * the running deploy still prints would show in clear. Returns how many were re-sealed.
 */
export async function resealRetiredSecrets(d: RetiredSecretsDeps): Promise<number> {
  if (!d.keyring.previous) return 0;
  const prefix = `${d.prefix}:retired-secrets:`;
  let resealed = 0;
  for await (const key of keysUnder(d.redis, prefix)) {
    const serviceId = key.slice(prefix.length);
    const pairs: string[] = [];
    for (const sealed of await d.redis.lrange(key, 0, -1)) {
      if (!isStale(sealed, d.keyring)) continue;
      // Under neither key: nothing to save. The plaintext and its AAD are kept as they were.
      let plain: string;
      let aad: string;
      try {
        aad = entryAad(serviceId);
        plain = open(sealed, aad, d.keyring);
      } catch {
        try { aad = valueOnlyAad(serviceId); plain = open(sealed, aad, d.keyring); } catch { continue; }
      }
      pairs.push(sealed, seal(plain, aad, d.keyring));
    }
    if (pairs.length) resealed += Number(await d.redis.eval(RESEAL, 1, key, ...pairs));
  }
  return resealed;
}
