import type { Redis } from 'ioredis';
import type { Logger } from '../../server/logger.js';
import type { Keyring } from '../../server/crypto/keyring.js';
import type { SessionStore } from '../../server/sessions/store.js';
import { bucketOf, type RenderBudget } from '../../server/render/budget.js';
import { RenderApiError } from '../../server/render/client.js';
import type { UpstreamClients } from '../../server/upstream.js';
import { openRenderKey } from '../../server/sessions/credentials.js';
import { watchConsentHolds } from '../../server/sentinel/consent.js';
import type { AuditLog } from '../../server/audit/auditLog.js';
import { runRound } from '../../server/sentinel/watcher.js';
import type { SentinelStore } from '../../server/sentinel/store.js';
import { WatchEnded, type RoundGuard } from '../../server/sentinel/guardedWrites.js';
import type { SentinelAlerts } from '../../server/sentinel/alerts.js';
import { ofWatch, sentinelMessage } from '../../server/sentinel/present.js';
import { nextDue, type Claim } from '../../server/sentinel/schedule.js';
import type { Finding } from '../../server/sentinel/types.js';
import type { RetiredSecretsDeps } from '../../server/deployments/retiredSecrets.js';

/** Sentinel never takes more than this share of any Render bucket of a key, and only while as much is left for deploys. */
const SENTINEL_BUDGET_SHARE = 0.1;
/** A call of each bucket a round spends from (both per key): what is paid ahead is taken as these. */
const PREPAID_CALLS = { read: { method: 'GET', route: '/services' }, logs: { method: 'GET', route: '/logs' } } as const;
type PrepaidBucket = keyof typeof PREPAID_CALLS;
/** Reads made only when log lines need redacting: not paid ahead as steady calls. */
const REDACTION_READS = new Set(['/services/{serviceId}/env-vars', '/services/{serviceId}/secret-files', '/env-groups', '/env-groups/{envGroupId}']);
const isPrepaidBucket = (name: string): name is PrepaidBucket => name in PREPAID_CALLS;

interface SentinelContext {
  redis: Redis;
  logger: Logger;
  keyring: Keyring;
  sessions: SessionStore;
  budget: RenderBudget;
  store: SentinelStore;
  alerts: SentinelAlerts;
  audit: AuditLog;
  upstream: Pick<UpstreamClients, 'render'>;
  /** Values replaced through the settings, redacted from log findings like current ones. */
  retired: RetiredSecretsDeps;
  now: () => number;
  /** The per-user channel SSE listens on (the deployment store's). */
  channelOf: (userId: number) => string;
  onFinding?: (f: Finding) => void;
  onRound?: (outcome: 'done' | 'budget' | 'stopped' | 'error' | 'skipped') => void;
  /** The session and key each user's watch used last round here (see runSentinelRound), and when: the tick forgets old ones. */
  lastRound: Map<number, LastRound>;
}

export interface LastRound {
  ref: string; fp: string; atMs: number; everyMs: number;
  /**
   * The round's steady Render calls, by bucket, paid ahead with the next round's start: reads but those
   * for redaction (env var values, secret files: only when log lines need redacting), one logs call (later pages and chunks only now and then).
   */
  calls: Record<PrepaidBucket, number>;
}

/**
 * One round for one watching user, claimed by the tick (workers/sentinelTick.ts). The watch lives only
 * as long as the session that enabled it: no settings, no session, another user, or no key → the watch
 * leaves the schedule and the sealed settings (with the Slack URL) are deleted. Render trouble never
 * fails the round: the next one retries.
 */
export async function runSentinelRound(ctx: SentinelContext, claim: Claim): Promise<void> {
  const { userId } = claim;
  const stop = async (round: RoundGuard) => {
    ctx.lastRound.delete(userId);
    await ctx.store.endWatch(userId, round, ctx.now());
    ctx.onRound?.('stopped');
  };
  // One round per user at a time across processes: the claim's lease keeps other ticks off this user,
  // and the lock (same length, two intervals) also keeps off a round of another kind (a job of the old
  // per-user schedulers still running in an old worker while they are migrated). Both lapse should the
  // worker die, and the next tick claims the user again. The lock holds this round's own token: a round
  // that outlives it (Render slow) neither releases the next round's lock nor writes over that round.
  const lockMs = claim.leaseMs;
  // With the round's start, in the same write (auto-pipelined), go what last round's session and key
  // (they rarely change) let us ask for now: the session, under the ref the settings named, and the
  // budget for as many calls of each bucket as last round made (audit log, service list, each service's
  // events; logs). Only a ref the settings name now is used, another one is read again; slots taken for
  // another key, or beyond what this round calls (a service gone since), are left unused: Sentinel then
  // takes less than its share, never more.
  const last = ctx.lastRound.get(userId);
  const take = (fp: string, bucket: PrepaidBucket) => ctx.budget.acquireShare(fp, PREPAID_CALLS[bucket], SENTINEL_BUDGET_SHARE, 'sentinel').then(() => null, (err: Error) => err);
  const begun = Promise.all([
    ctx.store.beginRound(userId, lockMs),
    last === undefined ? undefined : ctx.sessions.loadByRef(last.ref).catch(() => undefined),
  ]);
  const prepaid = { read: [] as Array<Promise<Error | null>>, logs: [] as Array<Promise<Error | null>> };
  if (last) for (const bucket of ['read', 'logs'] as const) for (let i = 0; i < last.calls[bucket]; i += 1) prepaid[bucket].push(take(last.fp, bucket));
  const [{ locked, settings, round, status, cursors }, early] = await begun;
  if (!locked) { ctx.onRound?.('skipped'); return; }
  if (!settings?.enabled) return stop(round);
  // The status this round writes is this watch's (sentinel/present.ts ofWatch). One of a watch before it
  // (turned off, then on: its cursors went with it) is not carried on: its problem, plan notices and skipped
  // stretches were that watch's. How far Render's clock is ahead of ours stays: it is the clocks'.
  if (!ofWatch(settings, status)) {
    Object.assign(status, { lastRunAt: null, auditUnavailable: [], lastProblem: null });
    delete status.skipped;
  }
  status.watchEnabledAt = settings.enabledAt;
  const sess = settings.sessionRef === last?.ref && early ? early
    : await ctx.sessions.loadByRef(settings.sessionRef).catch(async (err: unknown) => { await ctx.store.releaseLock(userId, round); throw err; });
  const apiKey = sess ? openRenderKey(sess, ctx.keyring) : null;
  if (!watchConsentHolds(sess, userId) || !apiKey) return stop(round);

  const fp = sess.render.keyFingerprint;
  const calls = { read: 0, logs: 0 };
  ctx.lastRound.set(userId, { ref: settings.sessionRef, fp, atMs: ctx.now(), everyMs: settings.intervalMs, calls });
  const paidAhead = fp === last?.fp ? prepaid : { read: [], logs: [] };
  // The key was read once, at the round's start; the user may withdraw it while the round is at Render
  // (sign out, clear it, connect another). Asked again before each call and alert: a withdrawn key is
  // never used again, and its watch sends nothing more. A cache hit costs no round trip (the session
  // cache; an end is answered only once every process dropped its copy).
  const stillConsented = async () => {
    const now = await ctx.sessions.loadByRef(settings.sessionRef).catch(() => undefined);
    if (now?.user?.id !== userId || now.render?.keyFingerprint !== fp) throw new WatchEnded();
  };
  // Each env var read (log redaction) is an audit entry Render stamps by its clock: the note of it is timed
  // on Render's clock too, by the round's latest answer (runRound's onRenderClock), else the two are
  // apart by as much as the clocks are, and the ±2-minute match missed our own reads (reported as threats).
  let toRender = (ours: number) => ours;
  const notes = ctx.store.auditedReadNotes(userId, () => toRender(ctx.now()));
  const client = ctx.upstream.render(apiKey, {
    async beforeRequest(call) {
      await stillConsented();
      const bucket = bucketOf(call).name;
      if (bucket === 'read' && !REDACTION_READS.has(call.route)) calls.read += 1;
      if (bucket === 'logs') calls.logs = 1;
      const paid = isPrepaidBucket(bucket) ? paidAhead[bucket].shift() : undefined;
      if (!paid) await ctx.budget.acquireShare(fp, call, SENTINEL_BUDGET_SHARE, 'sentinel');
      else {
        const refused = await paid;
        if (refused) throw refused;
      }
      // Asked again once the slot is taken (a Redis round trip, the wait for a prepaid one): a key
      // withdrawn meanwhile is not used for the call.
      await stillConsented();
      // Each env var read (log redaction) is an audit entry: noted first, so the watch does not report its own.
      await notes.before(call);
    },
    afterResponse: notes.after,
  });
  const slackUrl = ctx.store.openSlackUrl(userId, settings.slackSealed);
  try {
    const result = await runRound({
      userId, round, ownerIds: sess.render.owners.map((o) => o.id), client, store: ctx.store, retired: ctx.retired, now: ctx.now, status, cursors,
      onRenderClock: (map) => { toRender = map; },
      onFinding: async (f, isNew) => {
        // Written already (runRound writes, then reports): a new finding its round may no longer report is
        // taken back, else the next round, with the key that replaced this one, would find it known and
        // never audit or alert it.
        await stillConsented().catch(async (err: unknown) => {
          if (isNew) await ctx.store.takeBack(userId, round, f.id);
          throw err;
        });
        await ctx.redis.publish(ctx.channelOf(userId), sentinelMessage(f, isNew));
        if (!isNew) return;
        // Audited (and counted) once: one taken back after its audit, below, or whose round died after it
        // (the mark stays until the report is done, runRound), is reported again without it.
        let audited = await ctx.store.wasAudited(userId, f.id);
        if (!audited) {
          ctx.onFinding?.(f);
          audited = await ctx.audit.append({ userId, action: 'sentinel_finding', outcome: 'detected', detail: { securityEvent: f.rule, reason: f.severity, serviceId: f.serviceId ?? undefined, count: f.count } })
            .then(() => true, (err: Error) => { ctx.logger.error({ err: { message: err.message } }, 'audit append failed'); return false; });
          if (audited) await ctx.store.markAudited(userId, f.id);
        }
        // The key asked again just before the alert leaves (a sign-out may land while the finding is
        // published, audited and its alert claimed): withdrawn, nothing is sent, and the finding is taken
        // back as above, for the round with a new key to report (and alert, its audit entry already written).
        await ctx.alerts.notify(userId, slackUrl, f, round, stillConsented).catch(async (err: unknown) => {
          if (!(err instanceof WatchEnded)) return false;
          await ctx.store.takeBack(userId, round, f.id, { audited });
          throw err;
        });
      },
    });
    ctx.onRound?.(result.stoppedBy);
  } catch (err) {
    // Switched off or changed during the round: its writes were not made, nor will its end's be. Its key
    // withdrawn (stillConsented): no more calls or alerts; the next round stops the watch or takes the new key.
    if (err instanceof WatchEnded) { ctx.onRound?.('stopped'); return; }
    const rejected = err instanceof RenderApiError && (err.kind === 'unauthorized');
    status.lastProblem = rejected ? 'render_key_rejected' : 'render_unavailable';
    ctx.logger.warn({ userId, reason: err instanceof RenderApiError ? err.kind : (err as Error).name }, 'sentinel round failed');
    ctx.onRound?.('error');
  } finally {
    await ctx.store.endRound(userId, round, status, cursors, { nowMs: ctx.now(), nextDueMs: nextDue(claim.dueAtMs, settings.intervalMs, ctx.now()) });
  }
}
