import { BudgetExhausted } from '../render/budget.js';
import { RenderApiError, type RenderClient, type Service } from '../render/client.js';
import { believable, boundedOffset, MAX_CLOCK_OFFSET_MS, readDated } from '../render/renderClock.js';
import type { ServiceEvent } from '../render/types.js';
import { AUDIT_CONTEXT_KEYS, AUDIT_RULES, FAILED_LOGIN, serviceEventRule } from './rules.js';
import { classifyLine, sanitizeLine } from './logHeuristics.js';
import { findingId, type RoundCursors, type SentinelStore } from './store.js';
import { WatchEnded, type RoundGuard } from './guardedWrites.js';
import type { Finding, SentinelStatus, SkippedStretch } from './types.js';
import { serviceSecrets } from '../deployments/logs.js';
import type { RetiredSecretsDeps } from '../deployments/retiredSecrets.js';

/** Lines of one signature more than this apart start a new finding; closer ones are the same crash loop. */
const GROUP_GAP_MS = 10 * 60_000;
/**
 * A watch's first round of a workspace looks back this far. Only then: later rounds read each window from
 * where the last one ended (a position is saved also for a window with nothing in it), and a service the
 * watch has no position for from where the last reading of all its workspace's services began (`newFrom:`):
 * with rounds up to an hour apart (the Security page's maximum), 15 minutes missed most of what came between.
 */
const FIRST_LOOKBACK_MS = 15 * 60_000;
/**
 * Logs further behind than the time since the last round plus LOG_LAG_MARGIN_MS, and never less than
 * MIN_LOG_LAG_MS, are skipped (and the stretch noted in the status, for the page): a chatty service must
 * not keep its group of 20 in the past. A fixed 30 minutes skipped half of what came between rounds an hour
 * apart. The margin covers the last round's own length and the tick's delay; the time since the last round
 * counts at most EVENT_BACKLOG_MS (a watch whose worker was away for days reads its last day).
 */
const MIN_LOG_LAG_MS = 30 * 60_000;
const LOG_LAG_MARGIN_MS = 10 * 60_000;
/**
 * A window read to its end moves its position there even when nothing was in it, but only a position older
 * than this: rounds a minute (or less) apart over a quiet workspace then write no cursor (issue 17), and the
 * next round still starts well inside LOG_LAG_MARGIN_MS of where it must.
 */
const POSITION_REFRESH_MS = 5 * 60_000;
/** How far behind a window's end an empty read leaves its position (readTo): entries Render writes late. */
const READ_SETTLE_MS = 60_000;
/** Skipped stretches kept in the status for the Security page: for a day, the newest this many. */
const SKIPPED_KEEP_MS = 24 * 60 * 60_000;
const MAX_SKIPPED = 10;
const AUDIT_RECHECK_MS = 30 * 60_000;
const LOG_PAGES_PER_ROUND = 5;
/**
 * A service's events read per round at most, 50 a page. A stretch busier than that since the cursor, or a
 * budget spent after a page, leaves its older events unread: they are kept as the cursor's window still to
 * read (`EventsCursor.unread`), paged in later rounds with what the round's new events leave of these pages.
 */
const EVENT_PAGES_PER_ROUND = 5;
/** A window of unread events older than this is read no further: a service busier than the watch for a day is a lost cause. */
const EVENT_BACKLOG_MS = 24 * 60 * 60_000;

interface RoundInput {
  userId: number;
  /** The settings' generation the round began with and its lock's token: its writes are made only while both are current (guardedWrites.ts). */
  round: RoundGuard;
  ownerIds: string[];
  client: RenderClient;
  store: SentinelStore;
  /** Where values replaced through the settings are kept: redacted like current ones. */
  retired: RetiredSecretsDeps;
  /** Our clock (the worker's). Render stamps its entries by its own: every window ends, and every position is saved, on Render's. */
  now: () => number;
  /**
   * Told each time a Render answer moves our clock onto Render's (renderClock.ts readDated), with that
   * mapping: the round's own audited reads are noted on Render's clock by it, as Render stamps their entries.
   */
  onRenderClock?: (toRender: (ours: number) => number) => void;
  /** A finding was created (isNew) or grew (a log group). */
  onFinding(f: Finding, isNew: boolean): Promise<void>;
  /**
   * What the round starts from (store.beginRound): the round updates both, and the caller writes them
   * back in one round trip (store.endRound), also when the round ends early.
   */
  status: SentinelStatus;
  cursors: RoundCursors;
}

interface RoundResult { calls: number; findings: number; stoppedBy: 'done' | 'budget' }

interface Cursor { ts: string; seen: string[] }
const iso = (ms: number) => new Date(ms).toISOString();

/** Both ends inclusive (Render's startTime and endTime): an event at an end read twice writes the same finding. */
interface EventWindow { start: string; end: string }
interface EventsCursor extends Cursor { unread?: EventWindow }

/** Timestamps of any precision, comparable as strings (nanosecond fraction, zero-padded). */
function tsKey(ts: string): string {
  const dot = ts.indexOf('.');
  const base = (dot < 0 ? ts.replace(/Z$/i, '') : ts.slice(0, dot)).slice(0, 19);
  const frac = dot < 0 ? '' : ts.slice(dot + 1).replace(/Z$/i, '');
  return `${base}.${frac.padEnd(9, '0').slice(0, 9)}`;
}

/**
 * Settles every promise, then throws the first rejection in argument order: what the others read is
 * processed (findings written, cursors moved) before an error or a spent budget ends the round.
 */
async function settle<T extends readonly unknown[]>(work: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const out = await Promise.allSettled(work);
  const failed = out.find((o) => o.status === 'rejected');
  if (failed) throw failed.reason;
  return out.map((o) => (o as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/**
 * Where a round's paging of one service (events) or chunk (logs) stops and keeps what it read: the budget
 * spent after the first page (else a service busier than a page is read again from its newest page every
 * round and never gets past it), or Render's 404 for a service the round listed (deleted meanwhile, not a
 * failing round; the rest waits for the next list).
 */
const pagingStops = (page: number, err: unknown) =>
  (page > 0 && err instanceof BudgetExhausted) || (err instanceof RenderApiError && err.kind === 'not_found');

/**
 * An audit-log failure that is the audit log's own: Render failing to answer it (a 5xx, a timeout, a refusal
 * other than the plan's 403). The workspace's events and logs are still read, then it ends the round. The
 * key rejected (401) or rate-limited by Render (429), a spent budget, the watch ended, or anything not
 * Render's, ends the round at once, as from any call.
 */
const auditOnly = (err: unknown) => err instanceof RenderApiError && err.kind !== 'unauthorized' && err.kind !== 'rate_limited';

/** Events calls in flight together per user: a workspace with hundreds of services is read in slices. */
const EVENTS_AT_ONCE = 10;

/** A place in a list kept between rounds: its item's id, and the item's index then (for when it is gone). */
interface ListPlace { id: string; at: number }

/**
 * A list read in turns across rounds, its place kept in the cursor `field`: `order` starts at the item
 * the last round stopped in and wraps around. A budget too small to read everything in one round then
 * moves on through the list round after round, rather than reading its head every round and never its
 * tail. `holds(item, id)`: the item is (or, for a group of services, holds) the one the place names.
 */
function inTurns<T>(cursors: RoundCursors, field: string, list: T[], idOf: (item: T) => string, holds: (item: T, id: string) => boolean = (item, id) => idOf(item) === id) {
  const from = cursors.get<ListPlace>(field);
  let at = from ? list.findIndex((item) => holds(item, from.id)) : -1;
  if (at < 0 && from && Number.isInteger(from.at)) at = Math.min(Math.max(from.at, 0), list.length - 1);
  const order = at > 0 ? [...list.slice(at), ...list.slice(0, at)] : list;
  const turns = {
    order,
    /** The next round starts at `item`, or with the one after it. */
    resumeAt(item: T, after: boolean) {
      const i = (list.indexOf(item) + (after ? 1 : 0)) % list.length;
      cursors.set(field, { id: idOf(list[i]!), at: i } satisfies ListPlace);
    },
    /**
     * The round stopped in `item`: a spent budget resumes there; any other error (one that may come back
     * every round: a service Render fails to answer for) after it, so it does not hold back the rest.
     */
    stoppedAt(item: T, err: unknown) { turns.resumeAt(item, !(err instanceof BudgetExhausted)); },
    /** All read: the next round starts at the head. */
    done() { cursors.set(field, null); },
  };
  return turns;
}

/**
 * One watch round for one user: per workspace, its audit log and service list, then each service's
 * events and the app logs. Calls that do not depend on each other go out together, so their budget
 * checks share one Redis round trip (auto-pipelining). Every call goes through the caller's
 * budget-guarded client; a BudgetExhausted ends the round early and the cursors (advanced only after
 * findings are written) make the next round continue where this one stopped. Re-running a round after
 * a crash writes the same findings (deterministic ids). A watch turned off (or changed) meanwhile, or a
 * round that outlived its lock, ends the round at its next write (WatchEnded), which is not made.
 */
export async function runRound(input: RoundInput): Promise<RoundResult> {
  const { userId, round, client, store, status, cursors } = input;
  const result: RoundResult = { calls: 0, findings: 0, stoppedBy: 'done' };
  const startedAt = input.now();
  // Render's clock, not ours (docs/render-api.md §6.3): Render stamps what the round reads, and ours may be
  // off it by any amount. A window that ends by ours ahead of Render's, its position saved there, left
  // what Render stamped before that position and after the read unread for ever. Each answer's Date moves
  // our clock onto Render's (renderClock.ts readDated: ours kept while the clocks agree as far as the Date
  // tells); until the round's first answer, ours. A window ends where the round last knew Render's clock
  // to be, and is read to its end only as far as Render's clock had come when it answered (`reachedBy`).
  // Before the round's first answer: ours, plus how far Render's was ahead of it last round (a window
  // ending by ours behind Render's is read only when ours gets there). Past Render's time, an end costs
  // nothing: a window is read only as far as Render had come.
  // A Date further than MAX_CLOCK_OFFSET_MS from ours (renderClock.ts) is not believed (a caching proxy's,
  // a broken clock's): the round's last estimate stands, ours (plus last round's, bounded) at first. One
  // wrong Date a day ahead skipped the day's logs; two days behind, read two days again.
  const clock = { now: input.now };
  const aheadBefore = Number.isFinite(status.renderAheadMs) ? Math.min(Math.max(0, status.renderAheadMs!), MAX_CLOCK_OFFSET_MS) : 0;
  let toRender = (ours: number) => ours + aheadBefore;
  const renderNow = () => toRender(input.now());
  /**
   * A Render read, timed (readDated): its answer and `at`, Render's clock when it answered, by its Date
   * (ours while the clocks agree), or by the round's last estimate when the Date is not believable.
   */
  async function dated<A extends { serverDate: number | null }>(read: () => Promise<A>): Promise<{ answer: A; at: number; onRender(ours: number): number; noLater(ours: number): number }> {
    const { answer, onRender } = await readDated(clock, read);
    const answeredAt = input.now();
    const mapped = believable(onRender, answeredAt) ? onRender : toRender;
    if (mapped === onRender) {
      toRender = onRender;
      // An answer without a Date maps to ours: nothing is learnt of Render's clock.
      if (answer.serverDate !== null) believed = true;
      input.onRenderClock?.(onRender);
    } else if (onRender(answeredAt) < mapped(answeredAt)) {
      notBelieved = onRender;
    }
    // A Date not believed still caps how far the answer counts as read (`at`): wrong, it only delays reading;
    // right (our clock more than the bound ahead of Render's), positions saved by ours lay ahead of Render's
    // time, and what it stamped before them was never read.
    // `noLater`: the same cap for other times of the round (where a new service's first window starts).
    const noLater = (ours: number) => Math.min(mapped(ours), onRender(ours));
    return { answer, at: noLater(answeredAt), onRender: mapped, noLater };
  }
  /** Some answer of this round had a Date, believed: the round's estimate is Render's clock, not ours alone. */
  let believed = false;
  /** The last Date not believed that put Render's clock behind the estimate: the log horizon is measured from it too. */
  let notBelieved: ((ours: number) => number) | null = null;
  /** How far a window asked to `end` was read: to its end, or to Render's time at the answer (`at`) when that is earlier. */
  const reachedBy = (end: string, at: number) => (Date.parse(end) <= at ? end : iso(at));
  /**
   * A saved position past the window's end (saved by a version that kept positions on our clock ahead of
   * Render's, or a position past a clock now behind it) is read from a minute before that end: what Render
   * stamps meanwhile must not wait behind it, unread, until Render's clock gets there. Read again, an entry
   * already seen writes the same finding.
   */
  const upTo = <C extends Cursor>(c: C | null, end: string): C | null => (c && tsKey(c.ts) > tsKey(end) ? { ...c, ts: iso(Date.parse(end) - READ_SETTLE_MS), seen: [] } : c);
  /** Where a window without a position starts: a workspace's first round looks back FIRST_LOOKBACK_MS (from the round's start on Render's clock). */
  const firstLookback = () => iso(toRender(startedAt) - FIRST_LOOKBACK_MS);
  const since = (c: Cursor | null, from: string) => c?.ts ?? from;
  /**
   * A position saved, never further back than MAX_CLOCK_OFFSET_MS and READ_SETTLE_MS before the one it
   * replaces (`before`, as the round began). upTo reads a position past the window's end from a minute
   * before that end; a window ended by a clock off Render's (ours, its Dates not believed) carried the
   * position back with it, by any amount: the next round read it all again, and own reads older than
   * their notes (4 hours) were reported as threats. A position ahead of Render's time by a believed Date
   * (at most that bound) still moves back to where upTo read from, so what Render stamps meanwhile is read.
   */
  const notBack = <C extends Cursor>(before: Cursor | null, moved: C | null, end: string): C | null => {
    const beforeMs = before ? Date.parse(before.ts) : Number.NaN;
    if (!moved || !Number.isFinite(beforeMs)) return moved;
    // A position past a window that ends on Render's clock (a Date believed this round) was wrong, not the
    // window (saved ahead by a version before, or by a clock since set right): held up to this floor, each
    // round read only the minute before its end, and what came between rounds was lost for as many rounds
    // as the floor took to come down (a day ahead: 19 hourly rounds). It goes where upTo read from.
    if (believed && tsKey(before!.ts) > tsKey(end)) return moved;
    const floor = iso(beforeMs - MAX_CLOCK_OFFSET_MS - READ_SETTLE_MS);
    return tsKey(moved.ts) >= tsKey(floor) ? moved : { ...moved, ts: floor, seen: [] };
  };
  // How far behind a group of services' logs may be before the older lines are skipped: the time since the
  // last round (its end, from the status as this round began), plus a margin; at least MIN_LOG_LAG_MS.
  const lastRunMs = status.lastRunAt ? Date.parse(status.lastRunAt) : Number.NaN;
  const sinceLastRun = Number.isFinite(lastRunMs) ? Math.min(Math.max(startedAt - lastRunMs, 0), EVENT_BACKLOG_MS) : 0;
  const maxLogLagMs = Math.max(MIN_LOG_LAG_MS, sinceLastRun + LOG_LAG_MARGIN_MS);
  // Workspaces where this round left a service without a position (Render's 404 for one deleted meanwhile
  // took its group's query): their `newFrom:` stays where it was.
  const unfinished = new Set<string>();
  /**
   * A window read to its end: its end, less READ_SETTLE_MS, is the position, though nothing was in it.
   * Without this a quiet service kept no position, and the next round, an hour later, read only its last
   * 15 minutes. Less the settle time: Render writes some entries a little after their time (its log
   * pipeline lags), and one stamped just before the end would fall behind a position at the end; read
   * again, a line or event already seen writes the same finding. A position younger than
   * POSITION_REFRESH_MS stays (no write), and a position never moves back (later()).
   */
  const readTo = (c: Cursor | null, end: string): Cursor | null =>
    (c && Date.parse(end) - Date.parse(c.ts) < POSITION_REFRESH_MS ? c : later(c, { ts: iso(Date.parse(end) - READ_SETTLE_MS), seen: [] }));
  // What the page says of the watch is about the workspaces it reads now: after a key of another workspace
  // replaced the last one, the old workspace's plan notice and skipped stretches named one never read again.
  status.auditUnavailable = status.auditUnavailable.filter((ownerId) => input.ownerIds.includes(ownerId));
  if (status.skipped) {
    const kept = status.skipped.filter((s) => startedAt - Date.parse(s.at) < SKIPPED_KEEP_MS && input.ownerIds.includes(s.ownerId));
    if (kept.length) status.skipped = kept; else delete status.skipped;
  }
  /** A stretch given up, for the page (present.ts): joined with an earlier one of the same services. */
  const noteSkipped = (stretch: Omit<SkippedStretch, 'at'>) => {
    const list = status.skipped ?? [];
    const same = list.findIndex((s) => s.what === stretch.what && s.ownerId === stretch.ownerId && s.services.join('\u0000') === stretch.services.join('\u0000'));
    const earlier = same >= 0 ? list.splice(same, 1)[0]! : null;
    list.push({
      ...stretch,
      from: earlier && tsKey(earlier.from) < tsKey(stretch.from) ? earlier.from : stretch.from,
      to: earlier && tsKey(earlier.to) > tsKey(stretch.to) ? earlier.to : stretch.to,
      at: iso(input.now()),
    });
    status.skipped = list.slice(-MAX_SKIPPED);
  };
  const emit = async (f: Finding, replace: boolean, group?: { field: string; state: { findingId: string; lastTs: string } }) => {
    const isNew = await store.upsert(userId, round, f, replace, { nowMs: input.now(), group });
    if (!isNew && !replace) return;
    result.findings += 1;
    await input.onFinding(f, isNew);
    // Reported: until then a round that reads it again (this one died first) finds it new (store.upsert).
    if (isNew) await store.reported(userId, f.id);
  };
  try {
    // Workspaces in turns, and in each its services' events and log groups (inTurns): every one gets its
    // turn, however small the budget.
    const owners = inTurns(cursors, 'resume:owners', input.ownerIds, (ownerId) => ownerId);
    for (const [i, ownerId] of owners.order.entries()) {
      try {
        // Where a service without a position of its own starts (one created since the last round, or not
        // reached by it): where the last round that read every service of the workspace began, else the
        // first look-back, kept until such a round (a round the budget stops does not move it on).
        const newFromField = `newFrom:${ownerId}`;
        const kept = cursors.get<string>(newFromField);
        cursors.set(newFromField, kept ?? firstLookback());
        // Every service of the workspace (a page per 100): the watch stopped at 200, and the rest were never
        // watched. A list too long for the round's budget ends the round like any call (BudgetExhausted).
        // Its answer's Date puts the windows that follow on Render's clock.
        const [audit, list] = await Promise.allSettled([auditRound(ownerId), dated(() => client.listServicesDated({ ownerId })).then((listed) => { result.calls += 1; return listed; })]);
        // An audit log Render fails to answer (auditOnly: not the key rejected, nor the plan's 403, which
        // auditRound keeps to itself) does not keep the workspace's events and logs unread: they are read,
        // then its failure ends the round. Before, it ended the round there, every round.
        const auditFailed = audit.status === 'rejected' ? (audit.reason as Error) : null;
        if (auditFailed !== null && !auditOnly(auditFailed)) throw auditFailed;
        // The list's own failure first (the key rejected, a spent budget: handled as such), unless it is one
        // the audit log's would say as well (Render failing to answer both).
        if (list.status === 'rejected') throw auditFailed !== null && auditOnly(list.reason) ? auditFailed : list.reason;
        const { answer: { items: services }, noLater: listedBy } = list.value;
        // A first look-back taken by our clock before Render answered is taken again by Render's.
        const newFrom = upTo(kept === null ? null : { ts: kept, seen: [] }, iso(listedBy(input.now())))?.ts ?? iso(listedBy(startedAt) - FIRST_LOOKBACK_MS);
        cursors.set(newFromField, newFrom);
        await settle([eventsRound(ownerId, services, newFrom), logsRound(ownerId, services, newFrom)]);
        // Every service listed has a position now: one created later than the list began with this round.
        const began = listedBy(startedAt);
        if (!unfinished.has(ownerId) && began - Date.parse(newFrom) >= POSITION_REFRESH_MS) cursors.set(newFromField, iso(began));
        if (auditFailed !== null) throw auditFailed;
      } catch (err) {
        // Stopped in the round's first workspace, the next round starts with the one after it: a workspace
        // that alone needs more than the budget must not keep the others waiting. In a later one: there.
        owners.resumeAt(ownerId, i === 0 || !(err instanceof BudgetExhausted));
        throw err;
      }
    }
    owners.done();
    status.lastProblem = null;
  } catch (err) {
    if (!(err instanceof BudgetExhausted)) throw err;
    result.stoppedBy = 'budget';
    status.lastProblem = 'budget';
  } finally {
    status.lastRunAt = new Date(input.now()).toISOString();
    const ahead = boundedOffset(Math.round(toRender(startedAt) - startedAt));
    if (ahead > 0) status.renderAheadMs = ahead; else delete status.renderAheadMs;
  }
  return result;

  async function auditRound(ownerId: string) {
    const checkedKey = `auditChecked:${ownerId}`;
    if (status.auditUnavailable.includes(ownerId)) {
      const checked = cursors.get<number>(checkedKey);
      if (checked && input.now() - checked < AUDIT_RECHECK_MS) return;
    }
    const field = `audit:${ownerId}`;
    const end = iso(renderNow());
    const before = cursors.get<Cursor>(field);
    const cursor = upTo(before, end);
    let page;
    let at;
    const read = (startTime: string) => dated(() => client.listAuditLogs(ownerId, { startTime, endTime: end, direction: 'forward', limit: 100 }));
    try {
      const asked = since(cursor, firstLookback());
      let noLater;
      ({ answer: page, at, noLater } = await read(asked));
      result.calls += 1;
      // A first look-back asked by our clock (the round's first call: nothing of Render's known yet) is asked
      // again from Render's when that starts more than READ_SETTLE_MS earlier: with ours 20 minutes ahead of
      // Render's, the window began after what Render had stamped, and the first round never read it. That
      // second read failing (the budget spent, Render failing) keeps the first answer, as before it existed:
      // thrown, it cost the workspace its round and the position the first answer gives.
      const again = noLater(startedAt) - FIRST_LOOKBACK_MS;
      if (!cursor && Date.parse(asked) - again > READ_SETTLE_MS) {
        const second = await read(iso(again)).catch(() => null);
        if (second) {
          ({ answer: page, at } = second);
          result.calls += 1;
        }
      }
    } catch (err) {
      if (err instanceof RenderApiError && (err.kind === 'forbidden' || err.status === 403)) {
        if (!status.auditUnavailable.includes(ownerId)) {
          status.auditUnavailable.push(ownerId);
          // Saved now, not only at the round's end: the page reloads its notices when a finding of
          // this round arrives over SSE, and must find the plan notice there already.
          await store.setStatus(userId, round, status);
        }
        cursors.set(checkedKey, input.now());
        return;
      }
      throw err;
    }
    status.auditUnavailable = status.auditUnavailable.filter((o) => o !== ownerId);
    const seen = new Set(cursor?.seen ?? []);
    const isOurRead = async (entry: (typeof page.items)[number]) => {
      for (const subject of readSubjects(entry)) {
        if (await store.isSelfCaused(userId, entry.event, subject, Date.parse(entry.timestamp), entry.id)) return true;
      }
      return false;
    };
    for (const entry of page.items) {
      if (seen.has(entry.id)) continue;
      // Own keys only: an event string naming an inherited member (`constructor`, `toString`) is an unknown event.
      const rule = (Object.hasOwn(AUDIT_RULES, entry.event) ? AUDIT_RULES[entry.event] : null) ?? (entry.event === 'LoginEvent' && entry.status === 'error' ? FAILED_LOGIN : null);
      if (!rule) continue;
      // Our own env-var and env-group reads (to redact deployment logs) are noted before they are made,
      // by the service's id or the group's, and one note is taken by one entry.
      if (entry.actor.type === 'rest_api' && await isOurRead(entry)) continue;
      const context: Record<string, string> = { renderEvent: entry.event, auditId: entry.id };
      for (const k of AUDIT_CONTEXT_KEYS) if (typeof entry.metadata[k] === 'string') context[k] = sanitizeLine(entry.metadata[k], [], 80);
      if (entry.status === 'error') context.outcome = 'error';
      await emit({
        id: findingId(String(userId), 'audit', ownerId, entry.id), kind: 'audit', rule: rule.rule, severity: rule.severity, title: rule.title,
        ownerId, serviceId: entry.metadata.service ?? null, count: 1, firstAt: entry.timestamp, lastAt: entry.timestamp,
        actor: { type: entry.actor.type, ...(entry.actor.email ? { email: sanitizeLine(entry.actor.email, [], 120) } : {}) }, context,
      }, false);
    }
    const moved = advance(cursor, page.items.map((e) => ({ id: e.id, ts: e.timestamp })));
    // A short page is the window to its end: the position is its end, also for a workspace with nothing
    // in its audit log (else the next round, an hour later, looked back only 15 minutes).
    cursors.set(field, notBack(before, page.nextCursor ? moved : readTo(moved, reachedBy(end, at)), end));
  }

  /** The services in turns (`resume:events:<ownerId>`), EVENTS_AT_ONCE at a time. */
  async function eventsRound(ownerId: string, services: Service[], newFrom: string) {
    const turns = inTurns(cursors, `resume:events:${ownerId}`, services, (s) => s.id);
    for (let i = 0; i < turns.order.length; i += EVENTS_AT_ONCE) {
      const batch = turns.order.slice(i, i + EVENTS_AT_ONCE);
      const out = await Promise.allSettled(batch.map((s) => serviceEvents(s, newFrom)));
      const stopped = out.findIndex((o) => o.status === 'rejected');
      if (stopped >= 0) {
        const reason: unknown = (out[stopped] as PromiseRejectedResult).reason;
        turns.stoppedAt(batch[stopped]!, reason);
        throw reason;
      }
    }
    turns.done();
  }

  async function serviceEvents(svc: Service, newFrom: string) {
    const field = `events:${svc.id}`;
    // Render lists events newest first: new ones since the cursor first (up to now: a window with an end,
    // which is the position once read); when they are all read, with the pages they leave, the older ones
    // an earlier round could not read.
    const end = iso(renderNow());
    const before = cursors.get<EventsCursor>(field);
    const cursor = upTo(before, end);
    const fresh = await pageEvents(svc, { start: since(cursor, newFrom), end }, EVENT_PAGES_PER_ROUND, 0);
    let unread = cursor?.unread ?? null;
    const oldestFresh = fresh.items.at(-1)?.timestamp;
    if (!fresh.complete && oldestFresh) unread = { start: unread?.start ?? since(cursor, newFrom), end: oldestFresh };
    const items = [...fresh.items];
    const backlogStart = iso(renderNow() - EVENT_BACKLOG_MS);
    // What is older than a day is given up, and the page says so.
    const giveUp = (from: string, to: string) => noteSkipped({ what: 'events', ownerId: svc.ownerId, services: [svc.name], from, to });
    if (unread && tsKey(unread.end) < tsKey(backlogStart)) {
      giveUp(unread.start, unread.end);
      unread = null;
    } else if (unread && tsKey(unread.start) < tsKey(backlogStart)) {
      giveUp(unread.start, backlogStart);
      unread = { ...unread, start: backlogStart };
    }
    if (unread && fresh.complete) {
      const older = await pageEvents(svc, unread, EVENT_PAGES_PER_ROUND - fresh.read, fresh.read);
      items.push(...older.items);
      const oldestRead = older.items.at(-1)?.timestamp;
      if (older.complete) unread = null;
      else if (oldestRead) unread = { start: unread.start, end: oldestRead };
    }
    const seen = new Set(cursor?.seen ?? []);
    for (const ev of items) {
      if (seen.has(ev.id)) continue;
      const rule = serviceEventRule(ev.type, ev.details);
      if (!rule) continue;
      await emit({
        id: findingId(String(userId), 'event', ev.id), kind: 'service_event', rule: rule.rule, severity: rule.severity, title: rule.title,
        ownerId: svc.ownerId, serviceId: svc.id, count: 1, firstAt: ev.timestamp, lastAt: ev.timestamp,
        context: { serviceName: svc.name, renderEvent: ev.type, eventId: ev.id },
      }, false);
    }
    const advanced = advance(cursor, fresh.items.map((e) => ({ id: e.id, ts: e.timestamp })));
    // The newest page read (all of the window, or its newest part: the rest is `unread`): read to its end.
    // Newest first: the window's newest page says how far on Render's clock the window was read.
    const moved = notBack(before, (fresh.complete || oldestFresh !== undefined) && fresh.firstAt !== undefined ? readTo(advanced, reachedBy(end, fresh.firstAt)) : advanced, end);
    if (moved) cursors.set(field, unread ? { ts: moved.ts, seen: moved.seen, unread } : { ts: moved.ts, seen: moved.seen });
    else unfinished.add(svc.ownerId); // deleted before its first read: a 404
  }

  /**
   * A window of one service's events, newest first, `pages` pages at most. `complete` false: older events
   * of the window are still unread (the pages or the budget ran out). `pagesBefore`: the service's pages
   * this round already read (a spent budget after one keeps what was read; before any, it ends the round).
   * `firstAt`: Render's clock when it answered the first (newest) page (`dated`), when one was read.
   */
  async function pageEvents(svc: Service, window: { start: string; end?: string }, pages: number, pagesBefore: number) {
    const items: ServiceEvent[] = [];
    let next: string | undefined;
    let read = 0;
    let firstAt: number | undefined;
    while (read < pages) {
      let page;
      try {
        const answered = await dated(() => client.listServiceEvents(svc.id, { startTime: window.start, endTime: window.end ?? null, limit: 50, cursor: next ?? null }));
        page = answered.answer;
        firstAt ??= answered.at;
      } catch (err) {
        if (!pagingStops(pagesBefore + read, err)) throw err;
        return { items, read, complete: false, firstAt };
      }
      result.calls += 1;
      read += 1;
      items.push(...page.items);
      next = page.nextCursor ?? undefined;
      if (!next) return { items, read, complete: true, firstAt };
    }
    return { items, read, complete: false, firstAt };
  }

  async function logsRound(ownerId: string, services: Service[], newFrom: string) {
    // Render wants every resource of one logs query in the same region.
    const byRegion = new Map<string, Service[]>();
    for (const s of services) {
      const region = (s.serviceDetails as { region?: string } | undefined)?.region ?? 'any';
      const list = byRegion.get(region);
      if (list) list.push(s); else byRegion.set(region, [s]);
    }
    const chunks = [...byRegion.values()].flatMap((list) => Array.from({ length: Math.ceil(list.length / 20) }, (_, i) => list.slice(i * 20, i * 20 + 20)));
    // The chunks in turns (`resume:logs:<ownerId>`, naming a service of the chunk).
    const turns = inTurns(cursors, `resume:logs:${ownerId}`, chunks, (chunk) => chunk[0]!.id, (chunk, id) => chunk.some((s) => s.id === id));
    for (const chunk of turns.order) {
      try {
        await logChunk(ownerId, chunk, newFrom);
      } catch (err) {
        turns.stoppedAt(chunk, err);
        throw err;
      }
    }
    turns.done();
  }

  /** One query's services (20 at most, one region): their new app log lines, grouped into findings. */
  async function logChunk(ownerId: string, chunk: Service[], newFrom: string) {
    // A cursor per service, not per chunk: a chunk's services change as services are created and
    // deleted, and a service moved into a chunk read further than it was would skip what lies between.
    // The chunk is read from its furthest-behind service; each line is kept only past its own service's.
    const end = iso(renderNow());
    const saved = new Map(chunk.map((s) => [s.id, cursors.get<Cursor>(`logs:${s.id}`)]));
    const own = new Map(chunk.map((s) => [s.id, upTo(saved.get(s.id) ?? null, end)]));
    const from = (s: Service) => since(own.get(s.id) ?? null, newFrom);
    let start = chunk.map(from).reduce((a, b) => (tsKey(b) < tsKey(a) ? b : a));
    // Measured back from the window's end, or from ours or a Date not believed when earlier: an end ahead
    // of Render's time (a wrong Date ahead of it, as far as it is believed; our clock ahead past the bound)
    // moved the horizon past lines not yet read, and they were skipped (a Date a day ahead skipped the
    // day's). Earlier, it only reads more.
    const earliest = iso(Math.min(Date.parse(end), input.now(), notBelieved ? notBelieved(input.now()) : Infinity) - maxLogLagMs);
    if (tsKey(start) < tsKey(earliest)) {
      // More came than the rounds read (or the watch was away): the older lines are skipped, and the page says which.
      const behind = chunk.filter((s) => tsKey(from(s)) < tsKey(earliest));
      noteSkipped({ what: 'app_logs', ownerId, services: behind.map((s) => s.name), from: start, to: earliest });
      start = earliest;
    }
    const unseen = (l: { id: string; timestamp: string; labels: Array<{ name: string; value: string }> }) => {
      const c = own.get(resourceOfLine(l));
      if (!c) return true;
      const [at, mark] = [tsKey(l.timestamp), tsKey(c.ts)];
      return at > mark || (at === mark && !c.seen.includes(l.id));
    };
    // Up to LOG_PAGES_PER_ROUND pages; what was read is processed even when the budget stops paging.
    const lines: Parameters<typeof groupLogLines>[2] = [];
    let reached: Cursor | null = null;
    let toEnd = false;
    /** Render's clock when it answered the last page read (`dated`): forward, that page says how far the window was read. */
    let lastAt = Number.NaN;
    const resourceOf = new Map<string, string>();
    let window = { startTime: start, endTime: end };
    for (let p = 0; p < LOG_PAGES_PER_ROUND; p += 1) {
      let page;
      try {
        ({ answer: page, at: lastAt } = await dated(() => client.listLogs({ ownerId, resource: chunk.map((s) => s.id), type: ['app'], direction: 'forward', ...window, limit: 100 })));
      } catch (err) {
        if (pagingStops(p, err)) break;
        throw err;
      }
      result.calls += 1;
      for (const l of page.logs) resourceOf.set(l.id, resourceOfLine(l));
      lines.push(...page.logs.filter(unseen));
      reached = page.hasMore && page.nextStartTime ? { ts: page.nextStartTime, seen: [] } : advance(reached, page.logs.map((l) => ({ id: l.id, ts: l.timestamp })));
      toEnd = !page.hasMore;
      if (!page.hasMore || !page.nextStartTime) break;
      window = { startTime: page.nextStartTime, endTime: page.nextEndTime ?? window.endTime };
    }
    await groupLogLines(ownerId, chunk, lines);
    // A service already read past where this chunk's paging stopped keeps its own cursor. Each keeps the
    // ids of its own lines at the instant reached: only those are checked against it (`unseen`).
    for (const [serviceId, c] of own) {
      const mine = reached && { ts: reached.ts, seen: reached.seen.filter((id) => resourceOf.get(id) === serviceId) };
      const moved = notBack(saved.get(serviceId) ?? null, toEnd ? readTo(later(c, mine), reachedBy(end, lastAt)) : later(c, mine), end);
      cursors.set(`logs:${serviceId}`, moved);
      if (!moved) unfinished.add(ownerId); // a 404 for one of the group (deleted meanwhile) left the rest unread
    }
  }

  async function groupLogLines(ownerId: string, services: Service[], logs: Array<{ id: string; message: string; timestamp: string; labels: Array<{ name: string; value: string }> }>) {
    const groups = new Map<string, { serviceId: string; signature: string; label: string; lines: typeof logs }>();
    // The exception classes each service has groups for (read once, at the first exception line).
    let classes: Map<string, Set<string>> | null = null;
    for (const l of logs) {
      let sig = classifyLine(l.message);
      if (!sig) continue;
      const serviceId = l.labels.find((x) => x.name === 'resource')?.value ?? services[0]?.id ?? 'unknown';
      if (sig.signature.startsWith('exception:')) {
        classes ??= exceptionClasses(await store.groupFields(userId));
        const known = classes.get(serviceId) ?? classes.set(serviceId, new Set()).get(serviceId)!;
        // A class name is read off the line, and anyone an app echoes can name one: past the bound, new
        // names are one group (a round of 500 names was 500 findings and 500 audit entries).
        if (!known.has(sig.signature)) {
          if (known.size >= MAX_EXCEPTION_CLASSES) sig = OTHER_EXCEPTIONS;
          else known.add(sig.signature);
        }
      }
      const key = `${serviceId}|${sig.signature}`;
      const g = groups.get(key) ?? { serviceId, signature: sig.signature, label: sig.label, lines: [] };
      g.lines.push(l);
      groups.set(key, g);
    }
    const secretsByService = new Map<string, string[] | null>();
    for (const [key, g] of groups) {
      if (!secretsByService.has(g.serviceId)) secretsByService.set(g.serviceId, await secretValues(ownerId, g.serviceId));
      const secrets = secretsByService.get(g.serviceId) ?? null;
      const line = (m: string) => (secrets ? sanitizeLine(m, secrets) : '(hidden: env values could not be read to redact this line)');
      const svcName = services.find((s) => s.id === g.serviceId)?.name ?? g.serviceId;
      let state = await store.getGroup(userId, key);
      let current: Finding | null = state ? await store.getFinding(userId, state.findingId) : null;
      let counted = 0;
      for (const l of g.lines) {
        const at = tsKey(l.timestamp);
        if (state && current && at <= state.lastTs) continue; // counted before a crash
        counted += 1;
        if (!current || !state || Date.parse(l.timestamp) - Date.parse(current.lastAt) > GROUP_GAP_MS) {
          current = {
            id: findingId(String(userId), 'log', g.serviceId, g.signature, l.id), kind: 'app_log', rule: `app_log_${g.signature.split(':')[0]}`, severity: severityOf(g.signature),
            title: '', ownerId, serviceId: g.serviceId, count: 0, firstAt: l.timestamp, lastAt: l.timestamp, firstLine: line(l.message),
            context: { serviceName: svcName, signature: g.label },
          };
        }
        current.count += 1;
        current.lastAt = l.timestamp;
        current.lastLine = line(l.message);
        state = { findingId: current.id, lastTs: at };
      }
      // Every line counted before (read again): the finding stays as it is, not written again or announced.
      if (!counted || !current || !state) continue;
      const minutes = Math.max(1, Math.ceil((Date.parse(current.lastAt) - Date.parse(current.firstAt)) / 60_000));
      current.title = `${g.label} ×${current.count} in ${minutes} min`;
      // The group's state goes with its finding, in one write: a round ended after it (its key withdrawn)
      // leaves both as they are, and the next round counts only lines neither has.
      await emit(current, true, { field: key, state });
    }
  }

  /**
   * What deployment logs are redacted against (env var values, secret file contents, those of the env
   * groups linked, values replaced through the settings), to redact log lines the same way. The client
   * notes each env var and env group read first (Render audits each), so the watch does not report its own.
   */
  async function secretValues(ownerId: string, serviceId: string): Promise<string[] | null> {
    try {
      const { values, calls } = await serviceSecrets(client, { ownerId, serviceId }, input.retired, { now: input.now });
      result.calls += calls;
      return values;
    } catch (err) {
      // A spent budget ends the round; so does a watch ended, or its key withdrawn, meanwhile (WatchEnded).
      if (err instanceof BudgetExhausted || err instanceof WatchEnded) throw err;
      return null;
    }
  }
}

/** Exception classes a service has groups of its own for (during a watch); lines naming others are OTHER_EXCEPTIONS. */
const MAX_EXCEPTION_CLASSES = 20;
const OTHER_EXCEPTIONS = { signature: 'other_exceptions', label: 'Other exceptions' } as const;

/** Per service, the exception signatures the groups hash has (its fields are `<service id>|<signature>`). */
function exceptionClasses(fields: string[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const field of fields) {
    const bar = field.indexOf('|');
    const signature = field.slice(bar + 1);
    if (bar < 0 || !signature.startsWith('exception:')) continue;
    const service = field.slice(0, bar);
    out.set(service, (out.get(service) ?? new Set()).add(signature));
  }
  return out;
}

function severityOf(signature: string): Finding['severity'] {
  if (signature === 'oom' || signature === 'segfault' || signature === 'panic' || signature === 'fatal') return 'high';
  return 'medium';
}

/** The service a log line is of (its `resource` label). */
const resourceOfLine = (l: { labels: Array<{ name: string; value: string }> }) => l.labels.find((x) => x.name === 'resource')?.value ?? '';

/**
 * What an audit entry may name as the thing read: its service, else (a read of env values only) every
 * metadata value shaped as an env group id. Render's docs do not name the field a group's read is recorded
 * under, and a group's name (anyone's choice) may look like an id: each candidate is tried in turn.
 */
function readSubjects(entry: { event: string; metadata: Record<string, string> }): string[] {
  if (entry.metadata.service) return [entry.metadata.service];
  if (entry.event !== 'ViewEnvVarValuesEvent') return [];
  return Object.values(entry.metadata).filter((v) => typeof v === 'string' && ENV_GROUP_ID.test(v));
}
const ENV_GROUP_ID = /^evg-[0-9a-z]{20}$/;

/** The further of two cursors; at the same timestamp, the ids seen by either. */
function later(a: Cursor | null, b: Cursor | null): Cursor | null {
  if (!a || !b) return a ?? b;
  const [ka, kb] = [tsKey(a.ts), tsKey(b.ts)];
  if (ka !== kb) return ka > kb ? a : b;
  return { ts: a.ts, seen: [...new Set([...a.seen, ...b.seen])].slice(-500) };
}

/** Move a cursor to the newest timestamp seen, remembering the ids at that timestamp (a later page may repeat them). */
function advance(cursor: Cursor | null, items: Array<{ id: string; ts: string }>): Cursor | null {
  if (items.length === 0) return cursor;
  let max = cursor ? tsKey(cursor.ts) : '';
  let maxTs = cursor?.ts ?? '';
  for (const it of items) { const k = tsKey(it.ts); if (k > max) { max = k; maxTs = it.ts; } }
  const seen = items.filter((it) => tsKey(it.ts) === max).map((it) => it.id);
  const carried = cursor && tsKey(cursor.ts) === max ? cursor.seen : [];
  return { ts: maxTs, seen: [...new Set([...carried, ...seen])].slice(-500) };
}
