import type { Redis } from 'ioredis';
import { redisScript } from '../redisScript.js';

/**
 * A round's writes, each made only while the settings it began with are still the user's current ones
 * and the round still holds its lock. A settings write that changes what a round reads of them gets a
 * new generation (`gen`, in clear beside the sealed record; WRITE_SETTINGS); turning the watch off
 * deletes the settings. A round still at Render when the
 * watch was turned off (or on again, or changed) then writes no findings, groups, cursors or status,
 * and claims no alert: the check and the write are one script, so none lands after the off. Likewise a
 * round that outlived its lock (`token`: the next round may be running, with newer cursors). Our own
 * Render reads (the self-call ledger) are not guarded: they are about calls already made, and expire on
 * their own.
 */
export class WatchEnded extends Error {
  constructor() { super('the watch this round began for has ended or changed, or the round outlived its lock'); this.name = 'WatchEnded'; }
}

/** What a round's writes check: the settings' generation it began with, and its lock's token. */
export interface RoundGuard { gen: string; token: string }

/**
 * Lua: does the round's lock (`lock`) still hold its `token`, and are the settings at `key` still of
 * generation `gen`? ('' for settings written without one.)
 */
export const CURRENT = `
local function current(key, gen, lock, token)
  return redis.call('GET', lock) == token and redis.call('EXISTS', key) == 1 and (redis.call('HGET', key, 'gen') or '') == gen
end
`;

/**
 * Lua: the findings' eviction index (`evict`, a zset beside `order` with the same members), ordered as they
 * go past the cap: by severity (1 low, 2 medium, 3 high; an unreadable finding counts as low), then by
 * `order`'s score (last seen, ms; ties by id, as in `order`): rank * 1e13 + score, exact in a double (and
 * apart by rank) until the year 2286. Eviction is then ZRANGE evict 0 excess-1: O(excess · log n), no
 * finding read. Every script that adds to or removes from `order` does the same to `evict` (UPSERT,
 * TAKE_BACK); `rebuildIndex` makes it again from `order` and the findings (one HGET each).
 */
const EVICT_INDEX = `
local EVICT_RANK = { low = 1, medium = 2, high = 3 }
local function evictRank(json)
  local ok, f = pcall(cjson.decode, json or '')
  return (ok and type(f) == 'table' and EVICT_RANK[f.severity]) or 1
end
local function evictScore(json, score)
  return string.format('%.17g', evictRank(json) * 1e13 + tonumber(score))
end
local function rebuildIndex(findings, order, evict)
  redis.call('DEL', evict)
  local from = 0
  while true do
    local page = redis.call('ZRANGE', order, from, from + 499, 'WITHSCORES')
    if #page == 0 then break end
    for i = 1, #page, 2 do
      redis.call('ZADD', evict, evictScore(redis.call('HGET', findings, page[i]), page[i + 1]), page[i])
    end
    from = from + 500
  end
end
-- The first n of the index go, \`keep\` (when given) passed over.
local function evictFirst(findings, order, evict, n, keep)
  local gone = 0
  if n < 1 then return 0 end
  for _, id in ipairs(redis.call('ZRANGE', evict, 0, n)) do
    if gone >= n then break end
    if id ~= keep then
      redis.call('ZREM', evict, id)
      if redis.call('ZREM', order, id) == 1 then
        redis.call('HDEL', findings, id)
        gone = gone + 1
      end
    end
  end
  return gone
end
`;

/**
 * KEYS findings, order, settings, lock, unreported, evict[, groups]; ARGV id, json, score, replace, max, ttl, gen,
 * token, keep-from score ('' for none)[, group field, group state, groups TTL ms]. -1: not current.
 * Findings last seen before keep-from go (each is kept 30 days after last seen: the hash's TTL, renewed by
 * every write, kept one seen months ago while newer ones came). A log group's state (the last line it
 * counted) is written with its finding: a round ended between the two (its key withdrawn) would otherwise
 * leave a finding that counted lines its group state says are still to count, and the next round counted
 * them again. Past `max`, the oldest low findings go first, then medium, then high: kept as the newest `max`, a
 * burst of failed Render sign-ins (a low finding each, and anyone who knows a member's email can make them)
 * pushed out the shell opened just before it; a new low finding that goes itself (all others kept are more
 * severe) is not new, and a medium or high one written never goes in its own write. Which go is read from `evict` (EVICT_INDEX), not from the findings themselves: a scan of every
 * kept finding (HGET and decode each) ran inside Redis at every write past the cap once the kept ones were
 * mostly medium or high (a crash loop's high finding per event fills the cap in hours), ~10 ms of the Redis
 * every tenant shares per write, up to ~100 writes a round, and anyone can make low findings at will.
 * A new finding is noted as unreported until its round has reported it (`reported`): 1 (new)
 * also for one a round wrote and died before reporting, which the next round reads again and would
 * otherwise find known, never audited or alerted.
 */
const UPSERT = `${CURRENT}
${EVICT_INDEX}
if not current(KEYS[3], ARGV[7], KEYS[4], ARGV[8]) then return -1 end
if ARGV[10] then
  redis.call('HSET', KEYS[7], ARGV[10], ARGV[11])
  redis.call('PEXPIRE', KEYS[7], ARGV[12])
end
local created = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
local wrote = created == 1 or ARGV[4] == '1'
if created == 0 and ARGV[4] == '1' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
if created == 1 then
  redis.call('HSET', KEYS[5], ARGV[1], '1')
  redis.call('EXPIRE', KEYS[5], ARGV[6])
elseif redis.call('HEXISTS', KEYS[5], ARGV[1]) == 1 then
  created = 1
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
-- Indexed by the finding as kept: the one written, or (not replaced) the one already there.
local kept = ARGV[2]
if not wrote then kept = redis.call('HGET', KEYS[1], ARGV[1]) end
redis.call('ZADD', KEYS[6], evictScore(kept, ARGV[3]), ARGV[1])
if ARGV[9] ~= '' then
  local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[9])
  for _, id in ipairs(stale) do
    redis.call('HDEL', KEYS[1], id)
    redis.call('ZREM', KEYS[6], id)
  end
  if #stale > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[9]) end
end
-- Findings written before the index (or by an older process during a rolling upgrade): the index is built again from \`order\` once, here, rather than
-- each write past the cap falling back to the scan: kept findings are rewritten only when seen again, so
-- an upgraded user at the cap would have paid the scan at every write for up to 30 days.
if redis.call('ZCARD', KEYS[6]) ~= redis.call('ZCARD', KEYS[2]) then rebuildIndex(KEYS[1], KEYS[2], KEYS[6]) end
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if excess > 0 then
  -- Past the cap, the oldest low findings go first, then medium, then high (one unreadable counts as low).
  -- An index entry whose finding is no longer in \`order\` (counts alike by chance) is dropped; short of
  -- the excess, the index is built again and the rest taken from it.
  -- The finding written, medium or high, is not among them: one read late (an older backlog page of
  -- events, its last seen older than the kept ones) went in its own write, never reported, when the kept
  -- ones were all as severe (a crash loop's high findings), and a medium one whenever they were all high.
  local keep = nil
  if evictRank(kept) >= 2 then keep = ARGV[1] end
  if evictFirst(KEYS[1], KEYS[2], KEYS[6], excess, keep) < excess then
    rebuildIndex(KEYS[1], KEYS[2], KEYS[6])
    evictFirst(KEYS[1], KEYS[2], KEYS[6], redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5]), keep)
  end
  -- A low finding written went itself (every other kept is more severe, or as low and seen later): not
  -- new, and not noted as unreported. Said to be new, it was alerted and audited and was nowhere on the
  -- page (its id a 404), and again at every write.
  if created == 1 and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
    redis.call('HDEL', KEYS[5], ARGV[1])
    created = 0
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('EXPIRE', KEYS[6], ARGV[6])
return created`;

/** KEYS target, settings, lock; ARGV gen, token, then SET's value, EX s. */
const SET = `${CURRENT}
if not current(KEYS[2], ARGV[1], KEYS[3], ARGV[2]) then return -1 end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
return 1`;

/**
 * The round's end. KEYS settings, cursors, status, lock, due; ARGV gen, user id, status, status TTL s,
 * cursors TTL ms, next due ms ('' for none), now ms, token, then the cursors' fields and values. The lock
 * no longer the round's (it lapsed; the next round may hold it): nothing at all, that round's lock and
 * lease stand. The due time is set XX (a stopped watch is not added back) and LT (one restarted with a
 * new interval keeps its earlier time; a claim's lease is later than any next due time). Settings not
 * current: only the lock goes, and a watch turned on again meanwhile (its
 * claim stepped aside for this round's lock, a lease ahead) is due at once, as a new watch is.
 */
const END_ROUND = `${CURRENT}
if redis.call('GET', KEYS[4]) ~= ARGV[8] then return 0 end
local ours = current(KEYS[1], ARGV[1], KEYS[4], ARGV[8])
if ours then
  if #ARGV > 8 then
    for i = 9, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
    redis.call('PEXPIRE', KEYS[2], ARGV[5])
  end
  redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
  if ARGV[6] ~= '' then redis.call('ZADD', KEYS[5], 'XX', 'LT', ARGV[6], ARGV[2]) end
else
  redis.call('ZADD', KEYS[5], 'XX', 'LT', ARGV[7], ARGV[2])
end
redis.call('DEL', KEYS[4])
if ours then return 1 end
return 0`;

/**
 * A round stops the watch it began for (no settings, session gone). KEYS lock, due, intervals, then the
 * watch's keys, settings first (store.ts `watchKeys`, the list turning the watch off deletes too); ARGV
 * gen, user id, now ms, token. Settings written since (on again, from another session) are another
 * watch: they stay, and are due at once. A round that outlived its lock does nothing (the round
 * holding it now decides).
 */
const END_WATCH = `
if redis.call('GET', KEYS[1]) ~= ARGV[4] then return 0 end
if (redis.call('HGET', KEYS[4], 'gen') or '') == ARGV[1] then
  redis.call('DEL', unpack(KEYS, 4))
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
else
  redis.call('ZADD', KEYS[2], 'XX', 'LT', ARGV[3], ARGV[2])
end
redis.call('DEL', KEYS[1])
return 1`;

/**
 * A settings save and the watch's schedule, one script. KEYS settings, due, intervals; ARGV ref, sealed
 * data, the generation to keep, a new generation, TTL ms, user id, interval ms, restart ('1'), now ms, and
 * (when given) the sealed data the save read ('' for none): another save's since, and nothing is written
 * (nil), so no save writes over settings it did not see (a webhook set in one tab, lost to an interval
 * saved in another that read before it).
 * The generation is kept only while the settings are still of the one to keep: the caller compared the
 * opened settings of that generation with the new ones and found nothing a round reads changed (the form
 * saved again unchanged), so a round running goes on and its work stands; any other save, or a save
 * racing another, is a new generation and ends that round. A new watch, or a new interval (`restart`),
 * is due at once (as a BullMQ job scheduler's first job was); otherwise the watch keeps its rhythm.
 */
const WRITE_SETTINGS = `
if ARGV[10] ~= nil and (redis.call('HGET', KEYS[1], 'data') or '') ~= ARGV[10] then return false end
local gen = ARGV[4]
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'gen') == ARGV[3] then gen = ARGV[3] end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'ref', ARGV[1], 'data', ARGV[2], 'gen', gen)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if ARGV[8] == '1' then redis.call('ZADD', KEYS[2], ARGV[9], ARGV[6]) else redis.call('ZADD', KEYS[2], 'NX', ARGV[9], ARGV[6]) end
redis.call('HSET', KEYS[3], ARGV[6], ARGV[7])
return gen`;

/** KEYS findings, order, lock, evict; ARGV token, finding id. Only while the lock is still the round's (no other round touched the finding). */
// KEYS[5] (when given): the findings taken back after their detection was audited, ARGV[3] its TTL in seconds.
const TAKE_BACK = `if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[2])
if KEYS[5] then
  redis.call('HSET', KEYS[5], ARGV[2], '1')
  redis.call('EXPIRE', KEYS[5], tonumber(ARGV[3]))
end
return 1`;

// By EVALSHA: each script's text crosses the connection once per process.
const scripts = { upsert: redisScript(UPSERT), takeBack: redisScript(TAKE_BACK), set: redisScript(SET), endRound: redisScript(END_ROUND), endWatch: redisScript(END_WATCH), writeSettings: redisScript(WRITE_SETTINGS) };

const checked = (answer: unknown): number => {
  const n = Number(answer);
  if (n === -1) throw new WatchEnded();
  return n;
};

export const guardedWrites = {
  /** Insert or replace a finding, keeping the newest `max`; true when it is new (or written and not yet reported). */
  async upsert(redis: Redis, k: { findings: string; order: string; settings: string; lock: string; unreported: string; evict: string; groups?: string }, round: RoundGuard,
    a: { id: string; json: string; score: number; replace: boolean; max: number; ttlSec: number; keepFrom?: number; group?: { field: string; value: string; ttlMs: number } }): Promise<boolean> {
    const keys = [k.findings, k.order, k.settings, k.lock, k.unreported, k.evict];
    const args: Array<string | number> = [a.id, a.json, a.score, a.replace ? '1' : '0', a.max, a.ttlSec, round.gen, round.token, a.keepFrom ?? ''];
    if (a.group && k.groups) { keys.push(k.groups); args.push(a.group.field, a.group.value, a.group.ttlMs); }
    return checked(await scripts.upsert(redis, keys, args)) === 1;
  },
  /**
   * A new finding the round wrote but may not report (its key withdrawn meanwhile) is removed again, while
   * the round still holds its lock; `audited` (its detection already in the audit trail) is noted with it.
   */
  async takeBack(redis: Redis, k: { findings: string; order: string; lock: string; evict: string }, round: RoundGuard, id: string, audited?: { key: string; ttlSec: number }): Promise<void> {
    const keys = [k.findings, k.order, k.lock, k.evict];
    const args: Array<string | number> = [round.token, id];
    if (audited) { keys.push(audited.key); args.push(audited.ttlSec); }
    await scripts.takeBack(redis, keys, args);
  },

  async set(redis: Redis, k: { target: string; settings: string; lock: string }, round: RoundGuard, value: string, ttlSec: number): Promise<void> {
    checked(await scripts.set(redis, [k.target, k.settings, k.lock], [round.gen, round.token, value, ttlSec]));
  },
  /** True when the round's writes were made (its lock still its own, its settings still current). */
  async endRound(redis: Redis, k: { settings: string; cursors: string; status: string; lock: string; due: string }, round: RoundGuard,
    a: { userId: number; status: string; statusTtlSec: number; cursorsTtlMs: number; nextDueMs?: number; nowMs: number; cursors: Map<string, string> }): Promise<boolean> {
    const args: Array<string | number> = [round.gen, a.userId, a.status, a.statusTtlSec, a.cursorsTtlMs, a.nextDueMs ?? '', a.nowMs, round.token];
    for (const [field, value] of a.cursors) args.push(field, value);
    return Number(await scripts.endRound(redis, [k.settings, k.cursors, k.status, k.lock, k.due], args)) === 1;
  },
  /** `watch`: the watch's keys, settings first. */
  async endWatch(redis: Redis, k: { lock: string; due: string; intervals: string; watch: string[] }, round: RoundGuard, a: { userId: number; nowMs: number }): Promise<void> {
    await scripts.endWatch(redis, [k.lock, k.due, k.intervals, ...k.watch], [round.gen, a.userId, a.nowMs, round.token]);
  },
  /**
   * The generation written: `keepGen` while the settings are still of it, else `newGen`. Null when `ifData`
   * (the sealed record the save read, '' for none) was given and the settings are no longer that: nothing written.
   */
  async writeSettings(redis: Redis, k: { settings: string; due: string; intervals: string }, a: { ref: string; data: string; keepGen: string; newGen: string; ttlMs: number; userId: number; intervalMs: number; restart: boolean; nowMs: number; ifData?: string }): Promise<string | null> {
    const args: Array<string | number> = [a.ref, a.data, a.keepGen, a.newGen, a.ttlMs, a.userId, a.intervalMs, a.restart ? '1' : '0', a.nowMs];
    if (a.ifData !== undefined) args.push(a.ifData);
    return await scripts.writeSettings(redis, [k.settings, k.due, k.intervals], args) as string | null;
  },
};
