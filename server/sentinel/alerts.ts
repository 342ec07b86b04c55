import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { createSlackAlerter, type AlertPost, type DeliveryResult } from '../alerts/slack.js';
import type { UrlGuardOptions } from '../alerts/urlGuard.js';
import { redisScript } from '../redisScript.js';
import { CURRENT, type RoundGuard } from './guardedWrites.js';
import { sentinelKeys } from './store.js';
import { clipped, isolated } from './present.js';
import type { Finding } from './types.js';

export interface SentinelAlertOptions {
  /** Hosts a tenant's webhook may point at (default hooks.slack.com); tests add a local receiver. */
  slackHosts?: string[];
  guard?: UrlGuardOptions;
  post?: AlertPost;
  /**
   * Test seam: deliver every webhook to this origin (a local receiver) with the webhook's own path,
   * so tests never resolve or reach hooks.slack.com. The URL is still checked as a Slack webhook
   * first; production never sets it.
   */
  slackOrigin?: string;
}

/** Alerts per user per window, and how long one rule on one service stays quiet after an alert. */
const ALERT_LIMIT = { perWindow: 10, windowSec: 600, dedupeSec: 3_600 };
/** Deploy results sent to a user's Slack per window. */
const DEPLOY_ALERT_LIMIT = { perWindow: 30, windowSec: 600 };
/** The longest Retry-After of Slack's a deploy result waits out (the run's end waits with it). */
const DEPLOY_RETRY_AFTER_MAX_SEC = 5;

/**
 * The hour's one alert of a rule and service, claimed only while the round's settings and lock are
 * current (as its writes are, guardedWrites.ts): a watch turned off gets no alert from a round still
 * running, nor does a round that outlived its lock. The settings may have changed between the finding's
 * write and this claim: to a watch now current (not merely off) and while the lock is still the round's
 * (no other round touched the finding), the new finding is then taken back, so that watch finds it new
 * when it reads that event again, and alerts it (a watch without a webhook checks too: the one now current may have one). The
 * claim counts the alert against the user's window in the same script, so the check is the last Redis
 * step before the message leaves (a watch turned off during a separate count still had it sent). The
 * claim is held only as long as the round's lock, until Slack took the message (then the hour, `sent`):
 * a worker that died with the message on its way leaves the finding unreported (watcher.ts), and the
 * next round, which cannot begin before that lock lapses, finds the claim lapsed too and sends it (a claim
 * taken for the hour at once left that round nothing to send). At least once, then: a worker that died
 * after Slack took it and before the claim became the hour's sends it again. KEYS once, settings, lock,
 * findings, order, rate, evict (order's eviction index, guardedWrites.ts); ARGV gen, token, finding id, '1' to claim ('0': check only), rate window s,
 * alerts per window. -1: not current; 0: not claimed (sent already this hour, or the window is
 * full: then the hour's alert stays owed); else the window's count with this one.
 */
const claimAlertScript = redisScript(`${CURRENT}
if not current(KEYS[2], ARGV[1], KEYS[3], ARGV[2]) then
  if redis.call('GET', KEYS[3]) == ARGV[2] and redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('HDEL', KEYS[4], ARGV[3])
    redis.call('ZREM', KEYS[5], ARGV[3])
    redis.call('ZREM', KEYS[7], ARGV[3])
  end
  return -1
end
if ARGV[4] ~= '1' then return 0 end
if tonumber(redis.call('GET', KEYS[6]) or '0') >= tonumber(ARGV[6]) then return 0 end
if not redis.call('SET', KEYS[1], 'sending', 'PX', math.max(1, redis.call('PTTL', KEYS[3])), 'NX') then return 0 end
local count = redis.call('INCR', KEYS[6])
if count == 1 or redis.call('TTL', KEYS[6]) < 0 then redis.call('EXPIRE', KEYS[6], ARGV[5]) end
return count`);

/** An alert claimed and not sent (not delivered, or its key withdrawn): its hour free again and its place in the window given back. KEYS once, rate. */
const releaseAlertScript = redisScript(`redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 and tonumber(redis.call('GET', KEYS[2])) > 0 then redis.call('DECR', KEYS[2]) end
return 1`);

/** A tenant's webhook must be https://hooks.slack.com/services/… (no port, no credentials). */
export function checkSlackWebhook(raw: string, hosts: string[] = ['hooks.slack.com']): string | null {
  let url: URL;
  try { url = new URL(raw); } catch { return 'Enter the whole webhook URL (https://hooks.slack.com/services/…).'; }
  const local = hosts.includes(url.host) && url.host !== 'hooks.slack.com';
  if (url.protocol !== 'https:' && !(local && url.protocol === 'http:')) return 'The webhook URL must start with https://hooks.slack.com/.';
  if (!hosts.includes(url.host)) return 'Only Slack incoming webhooks (https://hooks.slack.com/…) are accepted.';
  if (url.username || url.password || url.hash) return 'The webhook URL must not carry credentials or a fragment.';
  if (!url.pathname.startsWith('/services/') || url.pathname.length < 20) return 'The webhook URL looks incomplete (https://hooks.slack.com/services/…).';
  return null;
}

/** The message: severity, title, ids and time. No log lines, emails or metadata values. The service's name clipped and isolated (present.ts). */
export function alertText(f: Finding): string {
  const where = [f.ownerId ? `workspace ${f.ownerId}` : null, f.serviceId ? `service ${f.context?.serviceName ? `${isolated(clipped(f.context.serviceName))} (${f.serviceId})` : f.serviceId}` : null].filter(Boolean).join(' · ');
  return `[Sentinel] ${f.severity.toUpperCase()}: ${f.title}${where ? ` · ${where}` : ''} · ${f.lastAt}`;
}

/**
 * Tenant alerts to the tenant's own Slack webhook, through the SSRF guard. Deduplicated per rule and
 * service for an hour, and at most ALERT_LIMIT.perWindow per user per window; only high and medium.
 */
export function createSentinelAlerts(opts: SentinelAlertOptions & { redis: Redis; prefix: string; logger: Logger }) {
  const keys = sentinelKeys(opts.prefix);
  const hosts = opts.slackHosts ?? ['hooks.slack.com'];
  /** Whether Slack accepted the message, and why not. */
  const attempt = async (url: string, text: string): Promise<DeliveryResult> => {
    const problem = checkSlackWebhook(url, hosts);
    if (problem) return { ok: false, reason: problem }; // a stored URL that no longer passes is not used
    const { pathname, search } = new URL(url);
    const target = opts.slackOrigin ? new URL(`${pathname}${search}`, opts.slackOrigin).toString() : url;
    return createSlackAlerter({ webhookUrl: target, logger: opts.logger, post: opts.post, guard: opts.guard }).attempt(text);
  };
  /** True when Slack accepted the message. */
  const deliver = async (url: string, text: string): Promise<boolean> => (await attempt(url, text)).ok;
  return {
    hosts,
    /**
     * A deploy result (issue 15), when the user turned them on: its own per-user budget
     * (DEPLOY_ALERT_LIMIT), so a burst of deploys never uses up the security alerts' one.
     */
    async notifyDeploy(userId: number, url: string | null, text: string, stillWanted: () => Promise<boolean> = async () => true): Promise<boolean> {
      if (!url) return false;
      const rate = keys.deployAlertRate(userId);
      const [[, count]] = (await opts.redis.multi().incr(rate).expire(rate, DEPLOY_ALERT_LIMIT.windowSec, 'NX').exec()) as [[null, number], unknown];
      if (count > DEPLOY_ALERT_LIMIT.perWindow) return false;
      const first = await attempt(url, text);
      if (first.ok) return true;
      // Slack's 429 posted nothing (its webhooks take about a message a second, and deploys end in bursts):
      // sent once more after a short Retry-After, or the result was lost for good (one claim per deployment,
      // deployResults.ts). Any other failure is not sent again: a 5xx or a timeout may have posted it.
      const wait = first.retryAfterSec;
      if (wait === undefined || wait > DEPLOY_RETRY_AFTER_MAX_SEC) return false;
      // Jittered: the results of a burst that met the 429 together do not all come back in the same second.
      await new Promise((r) => setTimeout(r, wait * 1000 + Math.floor(Math.random() * 1000)));
      // Consent asked again (a sign-out, results turned off or another webhook saved meanwhile: not sent).
      return await stillWanted() && deliver(url, text);
    },
    /**
     * `f`: a finding the round just created. `round`: the settings' generation the round began with and its
     * lock's token; none is sent once they changed or went (off), or the lock lapsed (claimAlertScript).
     * `beforeSend`, run last before the message leaves: throwing (the round's key withdrawn meanwhile),
     * nothing is sent, the hour's alert stays owed, and the error is the caller's.
     */
    async notify(userId: number, url: string | null, f: Finding, round: RoundGuard, beforeSend?: () => Promise<void>): Promise<boolean> {
      if (f.severity === 'low') return false;
      const onceKey = keys.alertOnce(userId, `${f.rule}:${f.serviceId ?? f.ownerId ?? '-'}`);
      const claimKeys = [onceKey, keys.settings(userId), keys.lock(userId), keys.findings(userId), keys.order(userId), keys.alertRate(userId), keys.evict(userId)];
      const claim = [round.gen, round.token, f.id, url ? '1' : '0', ALERT_LIMIT.windowSec, ALERT_LIMIT.perWindow];
      const count = Number(await claimAlertScript(opts.redis, claimKeys, claim));
      if (count < 1 || !url) return false;
      // Not sent: the hour's one alert of this rule and service is still owed, and the window's place given
      // back (a Slack outage of ten attempts muted every alert for the rest of the window, and each for an hour).
      const release = () => releaseAlertScript(opts.redis, [onceKey, keys.alertRate(userId)], []);
      if (beforeSend) await beforeSend().catch(async (err: unknown) => { await release(); throw err; });
      if (await deliver(url, alertText(f))) {
        // Sent: the hour's one alert of this rule and service (until now the claim lasted as long as the round's lock).
        await opts.redis.set(onceKey, 'sent', 'EX', ALERT_LIMIT.dedupeSec);
        return true;
      }
      await release();
      return false;
    },
    /** The test message, awaited: the page says whether Slack took it (a failed alert is otherwise only a log line). */
    async test(url: string): Promise<DeliveryResult> {
      return attempt(url, '[Sentinel] Test message from render-orchestrator: alerts for your Render workspace will arrive here.');
    },
  };
}

export type SentinelAlerts = ReturnType<typeof createSentinelAlerts>;
