import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { isStale, open, seal, type Keyring } from '../crypto/keyring.js';
import { guardedWrites, type RoundGuard } from './guardedWrites.js';
import { deleteIfOurs } from '../redisOwned.js';
import { keysUnder } from '../redis.js';
import { redisScript } from '../redisScript.js';
import { leaseOf, MAX_WATCH_INTERVAL_MS, scheduleKeys, unscheduleWatch } from './schedule.js';
import type { Finding, SentinelSettings, SentinelStatus } from './types.js';
import type { RenderCallInfo, RenderCallOutcome } from '../render/transport.js';
import { believable, onRenderClockIfApart } from '../render/renderClock.js';
import type { Clock } from '../clock.js';

export const MAX_FINDINGS = 500;
const FINDINGS_TTL_SEC = 30 * 24 * 3600;
/** A finding taken back after its audit waits this long for the round with the new key (minutes, as a rule). */
const AUDITED_BACK_TTL_SEC = 24 * 3600;
/**
 * How long a note of our own audited Render call is kept (each note, and the ledger's key after its last
 * note), and how far apart call and audit entry may be. A round's own read is audited by Render after the
 * round read the audit log, so the next round, an interval later, takes its note: with rounds an hour apart
 * (the page's maximum) a one-hour ledger forgot it just before, and our own read was reported as a threat.
 * Kept for two of the longest intervals and a round's lease (a round late, or one that outlived its lock
 * and was run again), 4 hours. Notes still match only an entry within SELF_CALL_WINDOW_MS of them.
 */
export const SELF_CALL_KEEP_MS = 2 * MAX_WATCH_INTERVAL_MS + leaseOf(MAX_WATCH_INTERVAL_MS);
const SELF_CALL_WINDOW_MS = 2 * 60_000;

export function sentinelKeys(prefix: string) {
  const base = `${prefix}:sentinel`;
  return {
    settings: (userId: number) => `${base}:settings:${userId}`,
    findings: (userId: number) => `${base}:findings:${userId}`,
    order: (userId: number) => `${base}:findings:${userId}:order`,
    /** `order`'s members by how they go past MAX_FINDINGS (severity, then last seen: guardedWrites.ts EVICT_INDEX). */
    evict: (userId: number) => `${base}:findings:${userId}:evict`,
    cursors: (userId: number) => `${base}:cursors:${userId}`,
    groups: (userId: number) => `${base}:groups:${userId}`,
    status: (userId: number) => `${base}:status:${userId}`,
    lock: (userId: number) => `${base}:status:${userId}:lock`,
    selfCalls: (userId: number) => `${base}:self:${userId}`,
    auditedTakenBack: (userId: number) => `${base}:audited-back:${userId}`,
    unreported: (userId: number) => `${base}:unreported:${userId}`,
    alertOnce: (userId: number, key: string) => `${base}:alerted:${userId}:${key}`,
    alertRate: (userId: number) => `${base}:alert-rate:${userId}`,
    deployAlertRate: (userId: number) => `${base}:deploy-alert-rate:${userId}`,
  };
}

/** A stable id from parts (never from secrets): the same Render entry always maps to the same finding. */
export function findingId(...parts: string[]): string {
  return `fnd_${createHash('sha256').update(parts.join('\u0000')).digest('base64url').slice(0, 20)}`;
}

const settingsAad = (userId: number, ref: string) => `sentinel-settings:user:${userId}:ref:${ref}`;

/** Settings as stored (the ref in clear, the record sealed with it in the AAD), or null. */
function openSettings(userId: number, ref: string | null | undefined, data: string | null | undefined, keyring: Keyring): SentinelSettings | null {
  if (!ref || !data) return null;
  try {
    const s = JSON.parse(open(data, settingsAad(userId, ref), keyring)) as SentinelSettings;
    return s.sessionRef === ref ? s : null;
  } catch {
    return null; // edited, moved, or sealed with a retired SECRET_KEY
  }
}

/**
 * Settings as stored, with their generation ('' for none), for a save that may keep it (putSettings), and
 * (read from Redis) the sealed record itself ('' for none): a save given it is made only over that record.
 */
export interface StoredSettings { settings: SentinelSettings | null; gen: string; data?: string }

const parseStatus = (raw: string | null): SentinelStatus => (raw ? (JSON.parse(raw) as SentinelStatus) : { lastRunAt: null, auditUnavailable: [], lastProblem: null });

/**
 * A round's cursors (JSON by field), read at its start; a cursor set to what it already holds is not
 * written back, so a round that found nothing new writes none (positions of windows read empty move only
 * once they are minutes old: watcher.ts `readTo`).
 */
export function roundCursors(raw: Record<string, string>) {
  const values = new Map(Object.entries(raw));
  const changed = new Map<string, string>();
  return {
    changed,
    get<T>(field: string): T | null {
      const text = values.get(field);
      if (!text) return null;
      try { return JSON.parse(text) as T; } catch { return null; }
    },
    /** `null` clears a field (kept as the text `null`). Only a field that ends the round other than it began is written (endRound). */
    set(field: string, value: unknown): void {
      if (value === null && !values.has(field)) return;
      const text = JSON.stringify(value);
      values.set(field, text);
      if (text === (Object.hasOwn(raw, field) ? raw[field] : 'null')) changed.delete(field);
      else changed.set(field, text);
    },
  };
}
export type RoundCursors = ReturnType<typeof roundCursors>;
const slackAad = (userId: number) => `sentinel-slack:user:${userId}`;
/** The settings' sealed data replaced only while it is still what was read (a save meanwhile wins); TTL and generation stay. */
const RESEAL_IF_UNCHANGED = `if redis.call('HGET', KEYS[1], 'data') == ARGV[1] then redis.call('HSET', KEYS[1], 'data', ARGV[2]) return 1 end
return 0`;

/** KEYS settings, cursors, groups (store.ts `watchKeys`), due, intervals; ARGV gen, user id. 1: the watch of that generation was removed. */
const dropIfGen = redisScript(`local gen = redis.call('HGET', KEYS[1], 'gen')
if not gen or gen ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[2])
redis.call('HDEL', KEYS[5], ARGV[2])
return 1`);

/**
 * Sentinel's Redis state. Settings are sealed with the enabling session's ref in the AAD, so a record
 * moved to another session (or edited) does not open; the Slack URL inside is sealed again on its
 * own. Findings hold no secrets (titles, ids, redacted lines) and outlive the session: they are history.
 */
export function createSentinelStore(opts: { redis: Redis; prefix: string; keyring: Keyring; absoluteMs: number }) {
  const { redis, keyring } = opts;
  const keys = sentinelKeys(opts.prefix);
  const userKeys = (userId: number) => ({ settings: keys.settings(userId), cursors: keys.cursors(userId), groups: keys.groups(userId), status: keys.status(userId), lock: keys.lock(userId) });
  /** What a watch owns (settings first), deleted with it: turned off (dropWatch), or stopped by a round (endWatch). */
  const watchKeys = (userId: number) => [keys.settings(userId), keys.cursors(userId), keys.groups(userId)];
  const openSlackUrl = (userId: number, sealed: string | null): string | null => {
    if (!sealed) return null;
    try { return open(sealed, slackAad(userId), keyring); } catch { return null; }
  };
  /** The same watch for a round: all a round reads of its settings (workers/tasks/sentinelTask.ts), the webhook opened (each save seals it anew). */
  const sameForRound = (userId: number, a: SentinelSettings, b: SentinelSettings) => a.enabled === b.enabled && a.sessionRef === b.sessionRef
    && a.intervalMs === b.intervalMs && openSlackUrl(userId, a.slackSealed) === openSlackUrl(userId, b.slackSealed);

  return {
    keys,
    /**
     * During a SECRET_KEY rotation (workers/rotationSweep.ts): settings, and the Slack webhook sealed
     * inside them, still sealed with the previous key are sealed again with the current one. They live as
     * long as the session that turned the watch on: once SECRET_KEY_PREVIOUS is removed, settings nobody
     * re-sealed no longer open and the watch reads as off (no rounds, no alerts). Only the seal changes:
     * the generation stays (a round reads the same watch), and the write is made only while the record is
     * still the one read. Returns how many were re-sealed.
     */
    async resealStale(): Promise<number> {
      if (!keyring.previous) return 0;
      const prefix = keys.settings(0).slice(0, -1);
      let resealed = 0;
      for await (const key of keysUnder(redis, prefix)) {
        const userId = Number(key.slice(prefix.length));
        if (!Number.isSafeInteger(userId)) continue;
        const [ref, data] = await redis.hmget(key, 'ref', 'data');
        const s = openSettings(userId, ref, data, keyring);
        if (!s || !ref || !data) continue; // gone, or under neither key: nothing to save
        const slackStale = s.slackSealed !== null && isStale(s.slackSealed, keyring);
        if (!isStale(data, keyring) && !slackStale) continue;
        const slackUrl = openSlackUrl(userId, s.slackSealed);
        const fresh: SentinelSettings = { ...s, slackSealed: slackUrl === null ? s.slackSealed : seal(slackUrl, slackAad(userId), keyring) };
        resealed += Number(await redis.eval(RESEAL_IF_UNCHANGED, 1, key, data, seal(JSON.stringify(fresh), settingsAad(userId, ref), keyring)));
      }
      return resealed;
    },
    sealSlackUrl: (userId: number, url: string) => seal(url, slackAad(userId), keyring),
    openSlackUrl,

    async getSettings(userId: number): Promise<SentinelSettings | null> {
      const [ref, data] = await redis.hmget(keys.settings(userId), 'ref', 'data');
      return openSettings(userId, ref, data, keyring);
    },
    async getStoredSettings(userId: number): Promise<StoredSettings> {
      const [ref, data, gen] = await redis.hmget(keys.settings(userId), 'ref', 'data', 'gen');
      return { settings: openSettings(userId, ref, data, keyring), gen: gen ?? '', data: data ?? '' };
    },
    /**
     * Written with a TTL of the session's absolute lifetime: settings never outlive the consent. The
     * watch is scheduled in the same script (guardedWrites.ts): `restart` makes it due at once (a new
     * watch, or a new interval). A write that changes what a round reads (`replacing`: the settings it
     * replaces, as read) is a new generation (`gen`): a round begun before it writes nothing back; the
     * same again keeps the generation, if still that of `replacing` when written. Returns the generation,
     * or null when `replacing` was read here (getStoredSettings) and another save came since: nothing written.
     */
    putSettings(userId: number, s: SentinelSettings, schedule: { restart: boolean; nowMs: number }, replacing: StoredSettings): Promise<string | null> {
      const same = replacing.settings !== null && sameForRound(userId, replacing.settings, s);
      return guardedWrites.writeSettings(redis, { settings: keys.settings(userId), ...scheduleKeys(opts.prefix) }, {
        ref: s.sessionRef, data: seal(JSON.stringify(s), settingsAad(userId, s.sessionRef), keyring), keepGen: same ? replacing.gen : '',
        newGen: randomBytes(12).toString('base64url'), ttlMs: opts.absoluteMs, userId, intervalMs: s.intervalMs, ...schedule, ifData: replacing.data,
      });
    },
    /**
     * The watch was switched off: off the schedule; settings (with the sealed URL), cursors and groups go.
     * The round lock stays: a round in flight still holds it (and writes nothing back, its settings gone),
     * and a watch turned back on meanwhile waits for that round rather than running beside it. The
     * self-call ledger stays too: it notes our own Render reads, whatever the watch, and expires on its own.
     * True when this call removed the settings: of two switches-off at once, one did (the audit entry's).
     */
    async dropWatch(userId: number): Promise<boolean> {
      const [settings, ...rest] = watchKeys(userId);
      // The settings' DEL first, so its reply is the first (a MULTI is atomic whatever the order).
      const replies = await unscheduleWatch(redis.multi().del(settings!), opts.prefix, userId).del(...rest).exec();
      return replies?.[0]?.[1] === 1;
    },
    /**
     * A save's own watch taken back (routes/sentinel.ts: its session ended or lost its key while it was
     * made): off the schedule, settings, cursors and groups gone, as dropWatch, but only while the
     * settings are still of `gen`, the generation that save wrote. Settings written since are another
     * save's, which answers for itself: they stay. True when this call removed them.
     */
    async dropWatchOfGen(userId: number, gen: string): Promise<boolean> {
      const sched = scheduleKeys(opts.prefix);
      return Number(await dropIfGen(redis, [...watchKeys(userId), sched.due, sched.intervals], [gen, userId])) === 1;
    },
    /** A round stops the watch it began for (`round.gen`: no settings, session gone), and lets its lock go. */
    endWatch: (userId: number, round: RoundGuard, nowMs: number) =>
      guardedWrites.endWatch(redis, { lock: keys.lock(userId), ...scheduleKeys(opts.prefix), watch: watchKeys(userId) }, round, { userId, nowMs }),
    /** A round that ends before running lets its lock go, only while the lock is still its own. */
    releaseLock: (userId: number, round: RoundGuard) => deleteIfOurs(redis, keys.lock(userId), round.token),

    /**
     * A round's start in one round trip (each is a socket write, the larger part of a round's CPU): its
     * lock (one round per user at a time; it lapses after lockMs should the worker die), settings,
     * status and every cursor, auto-pipelined (the worker's data connection) so that a read the
     * caller starts in the same tick (the session's) goes in the same write. `locked` false: another
     * round of this user is running. `round`, which the round's writes check: the settings' generation,
     * and the lock's token (the round's own: a round that outlived its lock neither releases the next
     * round's nor writes over it).
     */
    async beginRound(userId: number, lockMs: number): Promise<{ locked: boolean; settings: SentinelSettings | null; round: RoundGuard; status: SentinelStatus; cursors: RoundCursors }> {
      const token = randomUUID();
      const [lock, [ref, data, gen], status, cursors] = await Promise.all([
        redis.set(keys.lock(userId), token, 'PX', lockMs, 'NX'),
        redis.hmget(keys.settings(userId), 'ref', 'data', 'gen'),
        redis.get(keys.status(userId)),
        redis.hgetall(keys.cursors(userId)),
      ]);
      // Settings an old web process wrote (a rolling upgrade) carry no gen (''): each later write by an
      // old process (a change, or off and on again) is the same '' generation, so a round running then
      // is not stopped by it and writes on, as before generations (off, which deletes them, still stops
      // it); a new process's write is always a new gen (a '' is never kept), whatever it changes.
      return { locked: lock === 'OK', settings: openSettings(userId, ref, data, keyring), round: { gen: gen ?? '', token }, status: parseStatus(status), cursors: roundCursors(cursors) };
    },
    /**
     * A round's end in one round trip: the cursors it moved (none when it found nothing new), its status,
     * its lock released and, for a round that ran (nextDueMs), the watch's next due time (schedule.ts).
     * Only the lock goes when the settings are no longer of `round.gen`, nothing when the lock is no
     * longer the round's (guardedWrites.ts); false then.
     */
    endRound(userId: number, round: RoundGuard, status: SentinelStatus, cursors: RoundCursors, at: { nowMs: number; nextDueMs?: number }): Promise<boolean> {
      return guardedWrites.endRound(redis, { ...userKeys(userId), due: scheduleKeys(opts.prefix).due }, round, {
        userId, status: JSON.stringify(status), statusTtlSec: FINDINGS_TTL_SEC, cursorsTtlMs: opts.absoluteMs, cursors: cursors.changed, ...at,
      });
    },

    /** The log groups' fields (`<service id>|<signature>`). */
    groupFields: (userId: number): Promise<string[]> => redis.hkeys(keys.groups(userId)),
    async getGroup(userId: number, field: string): Promise<{ findingId: string; lastTs: string } | null> {
      const raw = await redis.hget(keys.groups(userId), field);
      return raw ? (JSON.parse(raw) as { findingId: string; lastTs: string }) : null;
    },
    /** The round's writes below throw WatchEnded when the settings are no longer of `round.gen`, or the lock no longer the round's. */

    /**
     * Insert or (replace=true) update; true when the finding is new. Findings are kept 30 days after last seen
     * (as of `nowMs`, the round's time: older ones go with this write), MAX_FINDINGS per user (past it the oldest low ones go first, guardedWrites.ts).
     * `group`: a log group's state (its field and the last line counted), written in the same script.
     */
    upsert: (userId: number, round: RoundGuard, f: Finding, replace: boolean, more: { nowMs?: number; group?: { field: string; state: { findingId: string; lastTs: string } } } = {}): Promise<boolean> =>
      guardedWrites.upsert(redis, { findings: keys.findings(userId), order: keys.order(userId), settings: keys.settings(userId), lock: keys.lock(userId), unreported: keys.unreported(userId), evict: keys.evict(userId), groups: keys.groups(userId) }, round,
        { id: f.id, json: JSON.stringify(f), score: Date.parse(f.lastAt) || 0, replace, max: MAX_FINDINGS, ttlSec: FINDINGS_TTL_SEC,
          ...(more.nowMs === undefined ? {} : { keepFrom: more.nowMs - FINDINGS_TTL_SEC * 1000 }),
          ...(more.group ? { group: { field: more.group.field, value: JSON.stringify(more.group.state), ttlMs: opts.absoluteMs } } : {}) }),
    /**
     * A new finding this round wrote, then found it may not report (its key withdrawn: sign-out, cleared,
     * replaced), is removed again while the round still holds its lock: the watch that reads the event
     * next (the same session with a new key to the same workspace) finds it new, and audits and alerts it.
     */
    takeBack: (userId: number, round: RoundGuard, id: string, opts: { audited?: boolean } = {}) =>
      guardedWrites.takeBack(redis, { findings: keys.findings(userId), order: keys.order(userId), lock: keys.lock(userId), evict: keys.evict(userId) }, round, id,
        opts.audited ? { key: keys.auditedTakenBack(userId), ttlSec: AUDITED_BACK_TTL_SEC } : undefined),
    /**
     * Whether finding `id`'s detection is audited while its report is not done: taken back after its audit
     * (its alert's key withdrawn), or its round died before reporting it. The round that finds it again
     * reports and alerts it without a second audit entry. Kept until `reported`: it stands for one report.
     */
    async wasAudited(userId: number, id: string): Promise<boolean> {
      return (await redis.hexists(keys.auditedTakenBack(userId), id)) === 1;
    },
    /** Finding `id`'s detection is in the audit trail; its report (the alert) is not done yet. */
    async markAudited(userId: number, id: string): Promise<void> {
      await redis.multi().hset(keys.auditedTakenBack(userId), id, '1').expire(keys.auditedTakenBack(userId), AUDITED_BACK_TTL_SEC).exec();
    },
    /** A new finding's report is done (published, audited, alerted or not): a round that reads it again finds it known. */
    async reported(userId: number, id: string): Promise<void> {
      await redis.multi().hdel(keys.unreported(userId), id).hdel(keys.auditedTakenBack(userId), id).exec();
    },
    /** `nowMs`: one last seen over 30 days before it is gone (a write removes it; none may come for a while). */
    async getFinding(userId: number, id: string, nowMs?: number): Promise<Finding | null> {
      const raw = await redis.hget(keys.findings(userId), id);
      const f = raw ? (JSON.parse(raw) as Finding) : null;
      return f && nowMs !== undefined && (Date.parse(f.lastAt) || 0) < nowMs - FINDINGS_TTL_SEC * 1000 ? null : f;
    },
    /** Newest first; with `nowMs`, none last seen over 30 days before it. */
    async listFindings(userId: number, limit = 100, nowMs?: number): Promise<Finding[]> {
      const ids = nowMs === undefined ? await redis.zrevrange(keys.order(userId), 0, limit - 1)
        : await redis.zrevrangebyscore(keys.order(userId), '+inf', nowMs - FINDINGS_TTL_SEC * 1000, 'LIMIT', 0, limit);
      if (ids.length === 0) return [];
      const raws = await redis.hmget(keys.findings(userId), ...ids);
      return raws.filter((r): r is string => typeof r === 'string').map((r) => JSON.parse(r) as Finding);
    },
    async countFindings(userId: number): Promise<number> {
      return redis.zcard(keys.order(userId));
    },

    async getStatus(userId: number): Promise<SentinelStatus> {
      return parseStatus(await redis.get(keys.status(userId)));
    },
    setStatus: (userId: number, round: RoundGuard, s: SentinelStatus) =>
      guardedWrites.set(redis, { target: keys.status(userId), settings: keys.settings(userId), lock: keys.lock(userId) }, round, JSON.stringify(s), FINDINGS_TTL_SEC),

    /** auditedReadNotes (below) on this store's Redis: Sentinel's client notes its own audited reads with it. */
    auditedReadNotes: (userId: number, now: Clock | (() => number)) => auditedReadNotes(redis, opts.prefix, userId, now),
    /**
     * Whether the audit entry `auditId` is one of our own calls: it takes one note of such a call near it
     * (one note, one entry: a note that matched any number of entries hid everyone's reads of that service
     * around each of ours), and the same entry read again (a round run again) matches the note it took.
     */
    async isSelfCaused(userId: number, event: string, serviceId: string, atMs: number, auditId: string): Promise<boolean> {
      const taken = await takeSelfCallNote(redis, [keys.selfCalls(userId)], [atMs - SELF_CALL_WINDOW_MS, atMs + SELF_CALL_WINDOW_MS, `${event}|${serviceId}|`, `|by:${auditId}`]);
      return Number(taken) === 1;
    },
  };
}

/** Render calls of ours that Render writes into the audit log, by route: what the entry will be called. */
export const AUDITED_READS: Readonly<Record<string, string>> = {
  '/services/{serviceId}/env-vars': 'ViewEnvVarValuesEvent',
  // The settings page's reveal of one value (issue 15): the user's own action through us, not a finding.
  '/services/{serviceId}/env-vars/{envVarKey}': 'ViewEnvVarValuesEvent',
  // An env group linked to a service whose logs are redacted (deployments/logs.ts): noted by the group's id.
  '/env-groups/{envGroupId}': 'ViewEnvVarValuesEvent',
};

/** Lua: the first of `notes` that is of `prefix` (event|service|) and not taken by an audit entry (no `|by:` mark). */
const FIRST_UNTAKEN = `local function firstUntaken(notes, prefix)
  for _, m in ipairs(notes) do
    if string.sub(m, 1, #prefix) == prefix and not string.find(m, '|by:', 1, true) then return m end
  end
  return nil
end`;

/** KEYS notes; ARGV from, to (ms), the note's prefix (event|service|), the taker's mark (|by:<auditId>). 1: a note matched. */
const takeSelfCallNote = redisScript(`${FIRST_UNTAKEN}
local near = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2])
local prefix, mark = ARGV[3], ARGV[4]
for _, m in ipairs(near) do
  if string.sub(m, 1, #prefix) == prefix and string.sub(m, -#mark) == mark then return 1 end
end
local m = firstUntaken(near, prefix)
if not m then return 0 end
local score = redis.call('ZSCORE', KEYS[1], m)
redis.call('ZREM', KEYS[1], m)
redis.call('ZADD', KEYS[1], score, m .. mark)
return 1`);

/** What one answer tells of Render's clock against one of ours (renderClock.ts onRenderClockIfApart). */
type AnswerTiming = { serverDate: number; sentAt: number; answeredAt: number };

/**
 * Render's clock as the latest dated answer read by notes on each clock of ours showed it (the web's
 * `deps.clock`: every request's client, and the log tail's): a read noted before any answer of its own
 * client is timed by the last one any client on that clock had.
 */
const latestByClock = new WeakMap<Clock, AnswerTiming>();

/**
 * Our audited reads, noted for one Render client: `before` (last in its beforeRequest) notes a call Render
 * writes to the audit log — each call is an entry (over 100 env vars are two reads, two entries), so each
 * is noted; `after` (its afterResponse) drops one such note again when Render refused the call (a 4xx: the
 * key, its rate limit, no such service), which it does not audit: a note left would hide someone else's
 * read of that service within its window (one note, one entry). A 5xx, a timeout or a dropped connection
 * keep it: Render may have served (and audited) the call, and a note missing reports our own read as a
 * threat. Notes are paired with answers per method, route and service, oldest first (answers of one kind
 * of call are alike); an aborted call, which has no answer, would shift the pairing (no caller aborts one).
 *
 * On Render's clock (docs/render-api.md "Render's clock in Sentinel's windows"): Render stamps the entry by
 * its clock, and the watch matches a note within ±2 minutes of that stamp. A note is timed by the latest
 * dated answer known on `clock` (any call's, this client's or another's on the same clock object), moved
 * as renderClock.ts onRenderClockIfApart moves a time (ours kept while the clocks agree as far as a Date
 * tells); once its own call is answered, that answer's Date times it again (a served call's note is moved
 * there when the two differ). Timed by ours, a web process 5 minutes off Render's had a user's own reveals
 * and its log redaction reported as someone viewing their values. `clock` a function: its own (the worker's
 * task passes one already on Render's clock, which the answers then leave as it is).
 */
export function auditedReadNotes(redis: Redis, prefix: string, userId: number, clock: Clock | (() => number)) {
  const ours: Clock = typeof clock === 'function' ? { now: clock } : clock;
  const key = sentinelKeys(prefix).selfCalls(userId);
  const open = new Map<string, Array<{ member: string; atMs: number; sentAt: number }>>();
  // What the audit entry will name: the service, or the env group, read.
  const subjectOf = (call: RenderCallInfo) => call.serviceId ?? call.envGroupId;
  const slot = (call: RenderCallInfo) => `${call.method} ${call.route}|${subjectOf(call) ?? ''}`;
  const auditedAs = (call: RenderCallInfo) => (call.method === 'GET' && subjectOf(call) ? AUDITED_READS[call.route] : undefined);
  const onRender = (at: number, timing = latestByClock.get(ours)) => (timing ? onRenderClockIfApart(at, timing) : at);
  return {
    async before(call: RenderCallInfo): Promise<void> {
      const event = auditedAs(call);
      if (!event) return;
      const sentAt = ours.now();
      const atMs = onRender(sentAt);
      const member = await noteSelfCall(redis, prefix, userId, event, subjectOf(call)!, atMs);
      const waiting = open.get(slot(call));
      if (waiting) waiting.push({ member, atMs, sentAt }); else open.set(slot(call), [{ member, atMs, sentAt }]);
    },
    after(outcome: RenderCallOutcome): void {
      const answeredAt = ours.now();
      // Any answer's Date, audited or not: the next notes on this clock are timed by it. Sent before it was
      // answered by the call's duration (our clock need not measure it: a test's may stand still).
      // A Date further from ours than MAX_CLOCK_OFFSET_MS (a caching proxy's, a broken clock's) is passed
      // over, as the watch's rounds do: a note timed by one a day off is matched by no entry.
      const dated = typeof outcome.serverDate === 'number' ? { serverDate: outcome.serverDate, sentAt: answeredAt - Math.max(0, outcome.durationMs), answeredAt } : null;
      const timing = dated && believable((at) => onRenderClockIfApart(at, dated), answeredAt) ? dated : null;
      if (timing) latestByClock.set(ours, timing);
      const waiting = open.get(slot(outcome));
      const note = waiting?.shift();
      if (!note) return;
      if (waiting!.length === 0) open.delete(slot(outcome));
      const refused = typeof outcome.status === 'number' && outcome.status >= 400 && outcome.status < 500;
      if (!refused) {
        // Its own answer's Date: Render audited the call between our sending it and that answer.
        const atMs = timing ? onRender(note.sentAt, { ...timing, sentAt: note.sentAt }) : note.atMs;
        // XX: only a note still untaken under its name (one an entry took was renamed, and stays as it is).
        if (atMs !== note.atMs) void redis.zadd(key, 'XX', atMs, note.member).catch(() => undefined);
        return;
      }
      const notePrefix = `${auditedAs(outcome)}|${subjectOf(outcome)}|`;
      void dropSelfCallNote(redis, [key], [note.member, notePrefix, note.atMs - SELF_CALL_WINDOW_MS, note.atMs + SELF_CALL_WINDOW_MS]).catch(() => undefined);
    },
  };
}

/**
 * KEYS notes; ARGV the note, its prefix (event|service|), from, to (ms). Removes the note, or, if an audit
 * entry took it meanwhile (notes are alike: an entry takes the oldest untaken one), another untaken note
 * like it, so the untaken notes still match the calls Render served.
 */
const dropSelfCallNote = redisScript(`${FIRST_UNTAKEN}
local m = redis.call('ZSCORE', KEYS[1], ARGV[1]) and ARGV[1] or firstUntaken(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[3], ARGV[4]), ARGV[2])
if not m then return 0 end
redis.call('ZREM', KEYS[1], m)
return 1`);

/** Notes one of our calls that Render writes to the audit log; returns the note (its member in the ledger). */
async function noteSelfCall(redis: Redis, prefix: string, userId: number, event: string, serviceId: string, atMs: number): Promise<string> {
  const key = sentinelKeys(prefix).selfCalls(userId);
  const member = `${event}|${serviceId}|${atMs}|${Math.random().toString(36).slice(2, 8)}`;
  await redis.multi()
    .zadd(key, atMs, member)
    .zremrangebyscore(key, '-inf', atMs - SELF_CALL_KEEP_MS)
    .pexpire(key, SELF_CALL_KEEP_MS)
    .exec();
  return member;
}

export type SentinelStore = ReturnType<typeof createSentinelStore>;
