import type { Redis } from 'ioredis';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { SecurityEvents } from '../security/events.js';
import { minuteIndex, type TelemetryKeys } from './keys.js';
import type { GuardEntry, GuardStore } from './guards.js';
import { acceptLevel, judge, learn, parseBaseline, type Sample } from './baseline.js';
import type { DetectorStats, TelemetrySettings } from './options.js';

type DetectorAction = 'throttled' | 'blocked' | 'lifted';

export interface DetectorRun {
  /** The minute judged (epoch minutes), or null when this minute was already judged. */
  minute: number | null;
  evaluated: number;
  actions: Array<{ userId: number; action: DetectorAction; signal?: string; observed?: number; threshold?: number }>;
}

export interface Detector { run(): Promise<DetectorRun> }

const CHUNK = 500;

/**
 * One pass of the anomaly detector (workers/tasks/anomalyTask.ts runs it every minute, one at a
 * time across processes). It judges the last complete minute of every user active in it against
 * that user's own baseline (server/telemetry/baseline.ts): an anomalous minute throttles the user,
 * `blockAfter` anomalous minutes in a row block them until `blockMinutes` from now. Each throttle and
 * block is a security event (audit entry, Slack). Normal minutes feed the baseline; anomalous ones
 * never do (a burst must not become the norm), except during an operator's grace period, whose level
 * then holds at every hour of the day for `acceptedLevelDays`.
 */
export function createDetector(opts: {
  redis: Redis; keys: TelemetryKeys; store: GuardStore; settings: TelemetrySettings; stats: DetectorStats;
  clock: Clock; logger: Logger; events?: SecurityEvents;
  onAction?: (action: DetectorAction) => void;
}): Detector {
  const { redis, keys, store, settings, stats, clock, logger } = opts;
  const hourTtl = settings.hourRetentionDays * 86_400;

  async function raise(type: 'anomaly_throttled' | 'anomaly_blocked', userId: number, e: GuardEntry, now: number) {
    opts.onAction?.(e.state);
    await opts.events?.raise({
      type, userId, login: e.login ?? undefined, subject: `user:${userId}`, outcome: 'denied',
      detail: { ...(e.login ? { login: e.login } : {}), reason: e.signal, count: Math.round(e.observed), retryAfterSec: Math.max(0, Math.ceil((e.until - now) / 1000)) },
    }).catch((err: Error) => logger.error({ err: { message: err.message } }, 'anomaly event failed'));
  }

  return {
    async run() {
      const now = clock.now();
      const minute = minuteIndex(now - stats.settleMs) - 1;
      const last = Number((await redis.get(keys.detectorLast)) ?? Number.NEGATIVE_INFINITY);
      if (Number.isFinite(last) && last >= minute) return { minute: null, evaluated: 0, actions: [] };
      const result: DetectorRun = { minute, evaluated: 0, actions: [] };

      const guards = await store.all();
      for (const [userId, e] of guards) {
        if (e.until > now) continue;
        await store.remove(userId);
        guards.delete(userId);
        opts.onAction?.('lifted');
        result.actions.push({ userId, action: 'lifted' });
        logger.info({ userId, state: e.state }, 'anomaly guard lifted (expired)');
      }

      const hour = Math.floor(minute / 60) % 24;
      const mm = minute % 60;
      const ids = (await redis.zrangebyscore(keys.active, minute, '+inf')).map(Number).filter(Number.isSafeInteger);
      const judged = new Set<number>();
      for (let i = 0; i < ids.length; i += CHUNK) {
        const chunk = ids.slice(i, i + CHUNK);
        const read = redis.pipeline();
        for (const userId of chunk) {
          read.hmget(keys.minutes(userId, Math.floor(minute / 60)), `${mm}.n`, `${mm}.p`, `${mm}.d`);
          read.pfcount(...Array.from({ length: stats.targetWindowMinutes }, (_, k) => keys.targets(userId, minute - k)));
          // The same window a minute earlier: whether this minute added targets (see `sample` below).
          read.pfcount(...Array.from({ length: stats.targetWindowMinutes }, (_, k) => keys.targets(userId, minute - 1 - k)));
          read.get(keys.baseline(userId));
          read.exists(keys.grace(userId));
          read.hget(keys.user(userId), 'login');
        }
        const res = (await read.exec()) ?? [];
        const write = redis.pipeline();
        for (let j = 0; j < chunk.length; j++) {
          const userId = chunk[j]!;
          const at = (k: number) => res[j * 6 + k]?.[1];
          const [n, p, d] = ((at(0) as Array<string | null>) ?? []).map((v) => Number(v ?? 0));
          if (!n) continue;
          result.evaluated++;
          judged.add(userId);
          const x: Sample = { requests: n, probes: p ?? 0, deploys: d ?? 0, targets: Number(at(1) ?? 0) };
          const baseline = parseBaseline((at(3) as string | null) ?? null);
          const grace = Number(at(4)) === 1;
          const login = (at(5) as string | null) ?? null;
          // Distinct targets are counted over a window of minutes, strikes in minutes in a row: one burst
          // minute kept the window over its threshold for the window's length, and each later minute with
          // any request (a tab polling once a minute) was a strike, so one burst was blocked however the
          // throttle was obeyed. A minute judges the window only when it added targets to it.
          const sample = x.targets > Number(at(2) ?? 0) ? x : { ...x, targets: 0 };
          const guard = guards.get(userId);
          if (guard?.state === 'blocked') continue; // refused anyway; its traffic teaches nothing
          const j1 = judge(baseline, hour, sample, stats, now);
          if (!j1.anomalous || grace) {
            // Through a grace the level the operator accepted holds at every hour for acceptedLevelDays
            // after it, not only in the hours the grace spans (baseline.ts threshold()).
            const learned = learn(baseline, hour, x, stats);
            const next = grace ? acceptLevel(learned, now + stats.acceptedLevelDays * 86_400_000) : learned;
            write.set(keys.baseline(userId), JSON.stringify(next), 'EX', hourTtl);
            if (guard && guard.strikes > 0) await store.replace(userId, guard, { ...guard, strikes: 0 });
            continue;
          }
          const strikes = (guard?.strikes ?? 0) + 1;
          const base = { since: guard?.since ?? now, strikes, signal: j1.signal, observed: j1.observed, threshold: j1.threshold, login };
          if (guard && strikes >= settings.blockAfter) {
            const e: GuardEntry = { ...base, state: 'blocked', since: now, until: now + settings.blockMinutes * 60_000 };
            if (!(await store.replace(userId, guard, e))) continue; // an operator lifted it meanwhile
            result.actions.push({ userId, action: 'blocked', signal: j1.signal, observed: j1.observed, threshold: j1.threshold });
            await raise('anomaly_blocked', userId, e, now);
          } else {
            // A throttle lasts throttleMinutes from the latest anomalous minute.
            const e: GuardEntry = { ...base, state: 'throttled', until: now + settings.throttleMinutes * 60_000 };
            if (guard) await store.replace(userId, guard, e);
            else await store.set(userId, e);
            if (!guard) {
              result.actions.push({ userId, action: 'throttled', signal: j1.signal, observed: j1.observed, threshold: j1.threshold });
              await raise('anomaly_throttled', userId, e, now);
            }
          }
        }
        await write.exec();
      }
      // A quiet minute is not anomalous either: strikes count anomalous minutes in a row, so a batch
      // that bursts every few minutes stays throttled rather than being blocked.
      for (const [userId, guard] of guards) {
        if (guard.state === 'throttled' && guard.strikes > 0 && !judged.has(userId)) await store.replace(userId, guard, { ...guard, strikes: 0 });
      }
      await redis.pipeline()
        .set(keys.detectorLast, String(minute), 'EX', 86_400)
        .zremrangebyscore(keys.active, '-inf', String(minute - settings.minuteRetentionHours * 60))
        .exec();
      return result;
    },
  };
}
