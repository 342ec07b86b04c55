import type { Redis } from 'ioredis';
import type { SecurityEvents } from '../security/events.js';
import type { AuditLog } from '../audit/auditLog.js';
import type { TelemetryKeys } from './keys.js';
import { hourIndex, minuteIndex } from './keys.js';
import type { GuardStore } from './guards.js';
import { parseBaseline } from './baseline.js';
import { RECORDER_FIELDS } from './recorder.js';
import { SIGNALS, type TelemetrySettings } from './options.js';

/** What the operator CLI (scripts/admin.ts) works with: the same Redis, keys and settings as the app. */
export interface AdminDeps {
  redis: Redis;
  keys: TelemetryKeys;
  store: GuardStore;
  settings: TelemetrySettings;
  events: SecurityEvents;
  audit: AuditLog;
  /** REDIS_PREFIX, for what the operator is told when nothing of the app is under it. */
  prefix: string;
  now: () => number;
}

export class AdminError extends Error {}

/**
 * The app's data is where the CLI looks. Every app that signed anyone in has a global audit chain,
 * one that served a signed-in request has telemetry's route names, and one with a user blocked has
 * the guard hash; with none of them, a mistyped or missing REDIS_PREFIX (or REDIS_URL) would answer
 * "No user is throttled or blocked" while users are blocked, and an unblock would write its grace
 * key into a namespace no app reads.
 */
export async function assertAppData(d: AdminDeps): Promise<void> {
  if (await d.redis.exists(d.audit.keys('global').head, d.keys.routes, d.keys.guard) > 0) return;
  throw new AdminError(`No data of the app under REDIS_PREFIX=${d.prefix} in this Redis (no audit trail, telemetry or blocks there): set REDIS_URL and REDIS_PREFIX as the app's processes have them. Nothing was read or changed.`);
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** A value a Redis writer chose, quoted with anything but printable ASCII escaped (no terminal controls reach the screen). */
const quoted = (v: string) => JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * A value read from telemetry's keys, to be printed: as it is when it is `plain` (printable ASCII of a readable
 * length: any login GitHub gives, with no space; any route template), else quoted. Before, `telemetry` and
 * `unblock` printed what a Redis writer put there raw (escape sequences to retitle, clear or rewrite the terminal).
 */
const PLAIN_LOGIN = /^[\x21-\x7e]{1,100}$/;
const PLAIN_ROUTE = /^[\x20-\x7e]{1,200}$/;
const printable = <T extends string | null | undefined>(v: T, plain = PLAIN_LOGIN): T => (typeof v === 'string' && !plain.test(v) ? quoted(v) as T : v);

/**
 * A GitHub login (as telemetry last saw it) → user id; `id:<number>` names a GitHub user id. A bare
 * number is a login: GitHub logins may be all digits, and one must not name another user's id.
 */
async function resolveUser(d: AdminDeps, loginOrId: string): Promise<{ userId: number; login: string | null }> {
  const id = /^id:(\d{1,15})$/.exec(loginOrId)?.[1];
  if (id) {
    // As for a login: an id the app has never seen (no telemetry, no throttle or block) is said to be one,
    // not granted a grace period nor shown an empty report (a mistyped id named nobody and exited 0).
    const userId = Number(id);
    const [login, kept, active, guarded] = await Promise.all([
      d.redis.hget(d.keys.user(userId), 'login').then(printable), d.redis.exists(d.keys.user(userId), d.keys.baseline(userId)),
      d.redis.zscore(d.keys.active, String(userId)), d.redis.hexists(d.keys.guard, String(userId)),
    ]);
    if (kept === 0 && active === null && guarded === 0) {
      throw new AdminError(`no telemetry for id:${id}: that GitHub user id made no request within the retention (${d.settings.hourRetentionDays} days), and is neither throttled nor blocked. Nothing was changed.`);
    }
    return { userId, login };
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/.test(loginOrId)) throw new AdminError(`${JSON.stringify(loginOrId)} is neither a GitHub login nor id:<GitHub user id>`);
  const found = await d.redis.get(d.keys.login(loginOrId));
  if (!found) throw new AdminError(`no telemetry for ${loginOrId}: that login made no request within the retention (${d.settings.hourRetentionDays} days)`);
  return { userId: Number(found), login: printable(await d.redis.hget(d.keys.user(Number(found)), 'login')) ?? loginOrId };
}

/**
 * The user `unblock <login>` means: the one `blocks` lists under that login, i.e. the login the block
 * stored when it started, not whoever holds the login now (after a GitHub rename, same id and new
 * login, someone else may hold the old one). When the login names two users (two blocks stored it, or
 * its current holder is blocked under an older login) the operator picks one by id. With no block
 * under it, the login's current holder, as before (their grace period still applies).
 */
async function resolveUnblockTarget(d: AdminDeps, loginOrId: string): Promise<{ userId: number; login: string | null; listedAs: string | null; note: string }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/.test(loginOrId)) return { ...(await resolveUser(d, loginOrId)), listedAs: null, note: '' };
  const wanted = loginOrId.toLowerCase();
  const entries = await d.store.all();
  const ids = new Set([...entries].filter(([, e]) => e.login?.toLowerCase() === wanted).map(([id]) => id));
  const found = await d.redis.get(d.keys.login(loginOrId));
  const holder = found ? Number(found) : null;
  if (holder !== null && entries.has(holder)) ids.add(holder);
  if (ids.size === 0) return { ...(await resolveUser(d, loginOrId)), listedAs: null, note: '' };
  const current = new Map<number, string | null>();
  for (const id of ids) current.set(id, printable(await d.redis.hget(d.keys.user(id), 'login')));
  if (ids.size > 1) {
    const who = [...ids].sort((a, b) => a - b).map((id) => {
      const e = entries.get(id)!;
      const now = current.get(id);
      return `id ${id} (${e.state} as ${e.login ?? '?'}${now && now !== e.login ? `, now ${now}` : ''}${id === holder ? ', holds the login now' : ''})`;
    });
    throw new AdminError(`${loginOrId} names more than one user: ${who.join(' and ')}. Run unblock id:<GitHub user id> for the one you mean, e.g. unblock id:${[...ids][0]}. Nothing was changed.`);
  }
  const [userId] = [...ids] as [number];
  const listed = entries.get(userId)!.login;
  const login = current.get(userId) ?? listed;
  const listedAs = login && listed && login.toLowerCase() !== listed.toLowerCase() ? listed : null;
  const note = holder !== null && holder !== userId ? ` The login ${loginOrId} now belongs to id ${holder}, who is neither throttled nor blocked and was left alone.` : '';
  return { userId, login, listedAs, note };
}

/**
 * Every throttle and block, soonest to lift first; then one line for each guard entry that is not a
 * decision the detector wrote (guards.ts entryProblems), which the app ignores. Before, one such entry
 * (a login that was a number) crashed the listing.
 */
export async function listBlocks(d: AdminDeps): Promise<string[]> {
  const now = d.now();
  const listing = await d.store.listing();
  const entries = [...listing.entries].sort((a, b) => a[1].until - b[1].until);
  const unreadable = listing.unreadable.map(({ field, problems }) => {
    const id = /^\d{1,15}$/.test(field) ? field : null;
    return `unreadable ${id ? `id ${id}` : `field ${quoted(field)}`}: a guard entry the detector did not write (${problems.join('; ')}); the app ignores it${id ? `, unblock id:${id} removes it` : ''}`;
  });
  if (!entries.length && !unreadable.length) return ['No user is throttled or blocked.'];
  return [...entries.map(([userId, e]) => {
    const left = e.until > now ? `until ${iso(e.until)} (${Math.ceil((e.until - now) / 60_000)} min left)` : `expired at ${iso(e.until)} (removed at the detector's next run)`;
    return `${e.state.padEnd(9)} ${(e.login ?? '?').padEnd(20)} id ${String(userId).padEnd(10)} ${left}; since ${iso(e.since)}; ${e.signal} ${e.observed} > ${e.threshold}; ${e.strikes} anomalous minute${e.strikes === 1 ? '' : 's'} in a row`;
  }), ...unreadable];
}

/**
 * Lift a user's throttle or block at once (every web process within its sync interval). For
 * graceMinutes afterwards the detector only learns from the user's traffic, so a legitimate new
 * level of use becomes their baseline instead of tripping again: at every hour of the day, not only
 * the hours the grace spans (each is judged against at least the overall level for the detector's
 * acceptedLevelDays, baseline.ts threshold()). Audited, and alerted like the block.
 */
export async function unblock(d: AdminDeps, loginOrId: string): Promise<string> {
  const { userId, login, listedAs, note } = await resolveUnblockTarget(d, loginOrId);
  const who = `${login ?? userId} (id ${userId}${listedAs ? `, listed as ${listedAs}` : ''})`;
  // An unblock is audited or not made: with a SECRET_KEY other than the app's, the audit entry would
  // be refused (logged, and the block lifted all the same).
  if (!await d.audit.appendable(userId)) {
    throw new AdminError(`The audit trail is signed with a SECRET_KEY other than this shell's, so the unblock could not be recorded: run it with the app's SECRET_KEY. Nothing was changed.`);
  }
  await d.redis.set(d.keys.grace(userId), '1', 'EX', d.settings.graceMinutes * 60);
  // Taken, not read then removed: the entry said is the one lifted (not a throttle the detector made a
  // block meanwhile), and of two unblocks at once one lifts it and is audited, the other finds none.
  const entry = await d.store.take(userId);
  if (!entry) return `${login ?? userId} is neither throttled nor blocked; the detector only learns from their traffic for the next ${d.settings.graceMinutes} minutes.${note}`;
  const audited = await d.events.raise({
    type: 'anomaly_unblocked', userId, login: login ?? undefined, subject: `user:${userId}`, outcome: 'success',
    detail: { ...(login ? { login } : {}), reason: `operator_lifted_${entry.state}` },
  });
  if (!audited) {
    // The append failed after appendable() said it would not (Redis failing, a rotation rolling out between the
    // two): the unblock is undone, not left made and unrecorded with exit 0.
    await d.store.set(userId, entry);
    await d.redis.del(d.keys.grace(userId));
    throw new AdminError(`The unblock could not be recorded in the audit trail (the log says why), so it was undone: ${who} is still ${entry.state}. Run it again.`);
  }
  return `Lifted the ${entry.state === 'blocked' ? 'block' : 'throttle'} of ${who}; the detector only learns from their traffic for the next ${d.settings.graceMinutes} minutes.${note}`;
}

/** A user's recent traffic: the last hour minute by minute, the last day per route and hour, baseline and guard. */
export async function userTelemetry(d: AdminDeps, loginOrId: string): Promise<string[]> {
  const { userId, login } = await resolveUser(d, loginOrId);
  const now = d.now();
  const out = [`${login ?? '?'} (GitHub id ${userId}) at ${iso(now)}`];
  const entry = await d.store.get(userId);
  out.push(entry ? `state: ${entry.state} until ${iso(entry.until)} (${entry.signal} ${entry.observed} > ${entry.threshold})` : 'state: normal');

  out.push('', 'last 60 minutes (requests / 401-403-404 / deploys / 429 / 5xx):');
  const nowMin = minuteIndex(now);
  const hours = [Math.floor((nowMin - 59) / 60), Math.floor(nowMin / 60)];
  const minuteHashes = new Map<number, Record<string, string>>();
  for (const h of new Set(hours)) minuteHashes.set(h, await d.redis.hgetall(d.keys.minutes(userId, h)));
  for (let m = nowMin - 59; m <= nowMin; m++) {
    const hash = minuteHashes.get(Math.floor(m / 60)) ?? {};
    const v = RECORDER_FIELDS.minute.map((f) => Number(hash[`${m % 60}.${f}`] ?? 0));
    if (v[0]) out.push(`  ${iso(m * 60_000).slice(11, 16)}  ${v.join(' / ')}`);
  }

  out.push('', 'last 24 hours per route (status classes; latency buckets <10/<50/<250/<1000/<5000/≥5000 ms):');
  const routes = await d.redis.hgetall(d.keys.routes);
  const nowHour = hourIndex(now);
  for (let h = nowHour - 23; h <= nowHour; h++) {
    const hash = await d.redis.hgetall(d.keys.hour(userId, h));
    const byRoute = new Map<string, Record<string, number>>();
    for (const [field, value] of Object.entries(hash)) {
      const dot = field.indexOf('.');
      const rid = field.slice(0, dot);
      const counts = byRoute.get(rid) ?? {};
      counts[field.slice(dot + 1)] = Number(value);
      byRoute.set(rid, counts);
    }
    for (const [rid, c] of byRoute) {
      const classes = ['s1', 's2', 's3', 's4', 's5'].filter((k) => c[k]).map((k) => `${k[1]}xx ${c[k]}`).join(', ');
      const latency = ['l0', 'l1', 'l2', 'l3', 'l4', 'l5'].map((k) => c[k] ?? 0).join('/');
      out.push(`  ${iso(h * 3_600_000).slice(0, 13)}h  ${(printable(routes[rid], PLAIN_ROUTE) ?? `route ${printable(rid, PLAIN_ROUTE)}`).padEnd(48)} ${classes}; latency ${latency}`);
    }
  }

  const b = parseBaseline(await d.redis.get(d.keys.baseline(userId)));
  out.push('', 'baseline per minute (mean ± sd over samples):');
  for (const s of SIGNALS) {
    const e = b.all[s];
    out.push(`  ${s.padEnd(9)} ${e ? `${e[0].toFixed(1)} ± ${Math.sqrt(e[1]).toFixed(1)} over ${e[2]} minutes` : 'none yet'}`);
  }
  return out;
}
