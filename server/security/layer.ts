import type Koa from 'koa';
import type { Redis } from 'ioredis';
import { utcMinuteAtOrAfter, type Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { AppError, errors } from '../errors.js';
import type { AuditLog } from '../audit/auditLog.js';
import { requestDetail } from '../audit/fromRequest.js';
import type { AuditInput } from '../audit/types.js';
import type { DeploymentStore } from '../deployments/store.js';
import { createSlackAlerter } from '../alerts/slack.js';
import { DEFAULT_ALERT_COOLDOWN_SEC, resolveLimits, type SecurityLimits, type SecurityOptions } from './options.js';
import { countOccurrence, createLimiter } from './rateLimits.js';
import { createKeyLockout, type KeyLockout } from './lockout.js';
import { createTokenChecks, type TokenChecks } from './tokenChecks.js';
import { createSecurityEvents, type SecurityEvents, type SecurityEventType } from './events.js';
import { createProbeDetector, type NotFoundRead, type ProbedResource } from './probes.js';
import { networkKey } from './clientNetwork.js';

/** Who tried a Render key: the user, and the key's fingerprint (never the key). */
interface KeyAttempt {
  userId: number; login?: string; keyFingerprint: string;
  /** checkKeyLock claimed a try for it (see lockout.claim); false for a key Render accepted lately. */
  claimed?: boolean;
}

/**
 * The security layer a process shares (`deps.security`, built once in buildDeps for web and worker
 * alike). Routes call it where the action happens: nothing here is attached from outside a route.
 */
export interface SecurityLayer {
  limits: SecurityLimits;
  /** Raise → audit entry (never throttled) + counter + Slack alert per cooldown. */
  events: SecurityEvents;
  lockout: KeyLockout;
  /** Bearer tokens GitHub refused, limited per IP (apart from the browser's sign-in limit). */
  tokenChecks: TokenChecks;
  /** Audit from a request: where it came from (ip, user agent hash, route) is added; a failed write is logged, never thrown. */
  recordAudit(ctx: Koa.Context, input: AuditInput): Promise<void>;
  /** A failed sign-in (OAuth callback, bearer token): audited, and an event when one IP reaches the threshold. */
  signInFailed(ctx: Koa.Context, reason: string): Promise<void>;
  /**
   * Before a key is sent to Render: claims one try (lockout.claim), or throws 429 locked_out while
   * this user (or this key, for them) is locked or has every allowed try in flight. The caller ends
   * the claim with keyRejected, keyAccepted or keyUnjudged.
   */
  checkKeyLock(attempt: Omit<KeyAttempt, 'login' | 'claimed'>): Promise<{ claimed: boolean }>;
  /** Render could not judge the key (unavailable, rate limited) or it has no workspaces: its try is given back. */
  keyUnjudged(attempt: Omit<KeyAttempt, 'login'>): Promise<void>;
  /**
   * Render rejected a key: security event, lock-out count. Returns the error to answer with (how many
   * tries are left, or the lock that this attempt started).
   */
  keyRejected(ctx: Koa.Context, attempt: KeyAttempt, reason: string): Promise<AppError>;
  /** Render accepted a key: the user starts again with a clean lock-out count. */
  keyAccepted(attempt: Omit<KeyAttempt, 'login'>): Promise<void>;
  /**
   * A 404 on a resource id (the route's `:id`, or `id` when it came elsewhere: a query): cross-tenant probe
   * detection (never throws). `openedFromAddress`: the UI says the id is its page address's (probes.ts).
   */
  notFound(ctx: Koa.Context, resource: ProbedResource, how?: NotFoundRead): Promise<void>;
}

interface SecurityLayerArgs {
  redis: Redis;
  prefix: string;
  clock: Clock;
  logger: Logger;
  audit: AuditLog;
  deployments: DeploymentStore;
  /** The operator's SLACK_WEBHOOK_URL; `options.alerts.webhookUrl` overrides it (tests). */
  slackWebhookUrl: string | null;
  /** Limits, alert cooldown and alert transport (server/security/options.ts has the defaults; tests shrink them). */
  options?: SecurityOptions;
  /** A security event was raised (the metrics counter). */
  onEvent?: (type: SecurityEventType) => void;
}

export function createSecurityLayer(args: SecurityLayerArgs): SecurityLayer {
  const { redis, prefix, clock, logger, audit } = args;
  const opts = args.options ?? {};
  const limits = resolveLimits(opts);
  const alerter = createSlackAlerter({
    webhookUrl: opts.alerts?.webhookUrl !== undefined ? opts.alerts.webhookUrl : args.slackWebhookUrl,
    logger, post: opts.alerts?.post, guard: opts.alerts?.guard,
  });
  const events = createSecurityEvents({
    audit, alerter, redis, prefix, logger, cooldownSec: opts.alertCooldownSec ?? DEFAULT_ALERT_COOLDOWN_SEC, onEvent: args.onEvent,
  });
  const lockout = createKeyLockout(redis, prefix, limits.invalidKeys);
  const tokenChecks = createTokenChecks(redis, prefix, limits.invalidTokens);
  const failedSignIns = createLimiter(redis, prefix, 'signin-failed', { points: limits.failedSignIns.threshold, durationSec: limits.failedSignIns.windowSec });
  const probes = createProbeDetector({
    counter: createLimiter(redis, prefix, 'not-found', { points: limits.notFoundProbes.threshold, durationSec: limits.notFoundProbes.windowSec }),
    threshold: limits.notFoundProbes.threshold, windowSec: limits.notFoundProbes.windowSec, deployments: args.deployments, events, redis, prefix, audit, logger,
  });

  const recordAudit = async (ctx: Koa.Context, input: AuditInput) => {
    try {
      await audit.append({ ...input, detail: { ...requestDetail(ctx), ...input.detail } });
    } catch (err) {
      (ctx.state.log ?? logger).error({ err: { message: (err as Error).message }, action: input.action }, 'audit append failed');
    }
  };

  return {
    limits, events, lockout, tokenChecks, recordAudit,

    async signInFailed(ctx, reason) {
      const network = networkKey(ctx);
      const count = await countOccurrence(failedSignIns, network).catch(() => 0);
      const { threshold } = limits.failedSignIns;
      // One entry per failure up to the threshold; past it, one event each time the count doubles (with the
      // count). Anyone can send failing OAuth returns, and one entry each let a few networks push older
      // entries, security events among them, out of the global chain, which is trimmed by count.
      if (count <= threshold) await recordAudit(ctx, { userId: null, action: 'sign_in_failed', outcome: 'failure', detail: { reason } });
      if (count >= threshold && isThresholdDoubled(count, threshold)) {
        await events.raise({ type: 'repeated_sign_in_failures', userId: null, subject: network, outcome: 'failure', detail: { ...requestDetail(ctx), reason, count } });
      }
    },

    async checkKeyLock({ userId, keyFingerprint }) {
      const lock = await lockout.claim(userId, keyFingerprint);
      if (lock.seconds > 0) throw lockedOut(lock.seconds, lock.scope, clock.now());
      return { claimed: lock.claimed };
    },

    async keyRejected(ctx, { userId, login, keyFingerprint, claimed = true }, reason) {
      await events.raise({ type: 'invalid_render_key', action: 'render_key_invalid', outcome: 'failure', userId, login, subject: `user:${userId}`, detail: { ...requestDetail(ctx), reason } });
      const { count, triesLeft, lockedForSec, scope } = await lockout.recordInvalid(userId, keyFingerprint, claimed);
      if (lockedForSec > 0) {
        await events.raise({ type: 'render_key_lockout', userId, login, subject: `user:${userId}`, outcome: 'denied', detail: { ...requestDetail(ctx), count, retryAfterSec: lockedForSec } });
        return lockedOut(lockedForSec, scope, clock.now());
      }
      const minutes = Math.ceil(limits.invalidKeys.lockSec / 60);
      const left = `${triesLeft} more ${triesLeft === 1 ? 'try' : 'tries'} before key setup is locked for ${minutes} minute${minutes === 1 ? '' : 's'}.`;
      return errors.renderKeyInvalid(reason === 'forbidden'
        ? `This Render API key is not allowed to list workspaces. Use a key with read access to your workspace. ${left}`
        : `Render rejected this API key. Check that you copied the whole key and that it has not been revoked. ${left}`);
    },

    async keyAccepted({ userId, keyFingerprint }) {
      await lockout.clear(userId, keyFingerprint);
    },

    async keyUnjudged({ userId, keyFingerprint, claimed = true }) {
      await lockout.release(userId, keyFingerprint, claimed).catch((err: unknown) => logger.warn({ err: { message: (err as Error).message } }, 'lock-out try not given back'));
    },

    async notFound(ctx, resource, how) {
      await probes(ctx, resource, how).catch((err: unknown) => (ctx.state.log ?? logger).warn({ err: { message: (err as Error).message } }, 'probe check failed'));
    },
  };
}

/** 429 locked_out that says what is locked, until when, and how long that is. */
function lockedOut(seconds: number, scope: 'user' | 'key', now: number): AppError {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  const until = utcMinuteAtOrAfter(now + seconds * 1000);
  const what = scope === 'key'
    ? 'Render rejected this key too many times, so it is locked for your account'
    : 'Too many invalid Render API keys were tried, so key setup is locked for your account';
  return errors.locked(seconds, `${what} until ${until} UTC: try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`);
}

/** `count` is the threshold times a power of two: 5, 10, 20, 40 … for a threshold of 5. */
function isThresholdDoubled(count: number, threshold: number): boolean {
  const times = count / threshold;
  return Number.isInteger(times) && (times & (times - 1)) === 0;
}
