import type Koa from 'koa';
import type { AppDeps } from '../deps.js';
import type { CreateAppOptions } from '../app.js';
import { errors } from '../errors.js';
import { fingerprint, type Keyring } from '../crypto/keyring.js';
import { getSession } from '../sessions/middleware.js';
import type { AuditLog } from '../audit/auditLog.js';
import { requestDetail } from '../audit/fromRequest.js';
import type { AuditInput } from '../audit/types.js';
import { createSlackAlerter } from '../alerts/slack.js';
import { auditRoutes } from '../routes/audit.js';
import { DEFAULT_ALERT_COOLDOWN_SEC, resolveLimits } from './options.js';
import { countOccurrence, createLimiter } from './rateLimits.js';
import { createKeyLockout } from './lockout.js';
import { createSecurityEvents, type SecurityEvents } from './events.js';
import { clientFingerprintGuard } from './fingerprint.js';
import { createProbeDetector } from './probes.js';

export interface SecurityWiring {
  options: CreateAppOptions;
  audit: AuditLog;
  events: SecurityEvents;
}

/**
 * The security layer, attached through createApp's hook options (nothing in the routes knows about
 * it): audit entries from the hooks, security events, the changed-client
 * check and GET /api/audit. The caller's own hooks still run, after ours.
 */
export function withSecurity(deps: AppDeps, opts: CreateAppOptions): SecurityWiring {
  const sec = opts.security ?? {};
  const limits = resolveLimits(sec);
  const { redis, clock, logger, config } = deps;
  const prefix = config.redisPrefix;

  const { audit } = deps;
  const alerter = createSlackAlerter({
    webhookUrl: sec.alerts?.webhookUrl !== undefined ? sec.alerts.webhookUrl : config.slackWebhookUrl,
    logger, post: sec.alerts?.post, guard: sec.alerts?.guard,
  });
  const events = createSecurityEvents({
    audit, alerter, redis, prefix, logger, cooldownSec: sec.alertCooldownSec ?? DEFAULT_ALERT_COOLDOWN_SEC,
    onEvent: (type) => deps.metrics?.onSecurityEvent?.(type),
  });
  const limiter = (name: string, rule: { points: number; durationSec: number }) => createLimiter(redis, prefix, name, rule);
  const lockout = createKeyLockout(redis, prefix, limits.invalidKeys);
  const failedSignIns = limiter('signin-failed', { points: limits.failedSignIns.threshold, durationSec: limits.failedSignIns.windowSec });
  const probes = createProbeDetector({
    counter: limiter('not-found', { points: limits.notFoundProbes.threshold, durationSec: limits.notFoundProbes.windowSec }),
    threshold: limits.notFoundProbes.threshold, windowSec: limits.notFoundProbes.windowSec, deployments: deps.deployments, events, redis, prefix,
  });

  /** Audit from a request: where it came from is added; a failed write is logged, never thrown. */
  const record = async (ctx: Koa.Context, input: AuditInput) => {
    try {
      await audit.append({ ...input, detail: { ...requestDetail(ctx), ...input.detail } });
    } catch (err) {
      ctx.state.log?.error({ err: { message: (err as Error).message }, action: input.action }, 'audit append failed');
    }
  };
  const loginOf = (ctx: Koa.Context) => getSession(ctx)?.user?.login;

  // The lock is checked before the key is sent to Render; the key's fingerprint (never the key) is
  // kept on the request for the outcome hooks below.
  const lockGuard: Koa.Middleware = async (ctx, next) => {
    const fp = attemptFingerprint(ctx, deps.keyring);
    ctx.state.keyAttemptFp = fp;
    const lock = await lockout.lockedFor(getSession(ctx).user!.id, fp);
    if (lock.seconds > 0) throw lockedOut(lock.seconds, lock.scope, clock.now());
    await next();
  };
  const fpOf = (ctx: Koa.Context) => (typeof ctx.state.keyAttemptFp === 'string' ? ctx.state.keyAttemptFp : 'unknown');

  const fingerprint = clientFingerprintGuard({
    refOf: (ctx) => deps.sessions.refOf(ctx.session!.externalKey as string),
    async onChanged(ctx, change) {
      // Ending the session also ends what it started: its queued and running deploys stop.
      await deps.deploymentService.revokeForSession(change.userId, change.sessionRef).catch(() => 0);
      await events.raise({ type: 'client_changed', userId: change.userId, login: change.login, subject: `user:${change.userId}`, outcome: 'denied', detail: requestDetail(ctx) });
    },
  });

  const auth = opts.authHooks ?? {};
  const key = opts.renderKeyHooks ?? {};
  const dep = opts.deploymentHooks ?? {};
  const svc = opts.serviceHooks ?? {};

  const options: CreateAppOptions = {
    ...opts,
    authHooks: {
      ...auth,
      async onSignedIn(ctx, user) {
        await record(ctx, { userId: user.id, action: 'sign_in', outcome: 'success', detail: { login: user.login } });
        await auth.onSignedIn?.(ctx, user);
      },
      async onSignInFailed(ctx, reason) {
        await record(ctx, { userId: null, action: 'sign_in_failed', outcome: 'failure', detail: { reason } });
        const count = await countOccurrence(failedSignIns, `ip:${ctx.ip}`).catch(() => 0);
        if (count === limits.failedSignIns.threshold) {
          await events.raise({ type: 'repeated_sign_in_failures', userId: null, subject: `ip:${ctx.ip}`, outcome: 'failure', detail: { ...requestDetail(ctx), reason, count } });
        }
        await auth.onSignInFailed?.(ctx, reason);
      },
      async beforeSignOut(ctx, user, ref) {
        await record(ctx, { userId: user.id, action: 'sign_out', outcome: 'success', detail: { login: user.login } });
        await auth.beforeSignOut?.(ctx, user, ref);
      },
    },
    renderKeyHooks: {
      ...key,
      keyGuards: [lockGuard, ...(key.keyGuards ?? [])],
      async onKeySet(ctx, userId) {
        await lockout.clear(userId, fpOf(ctx));
        await record(ctx, { userId, action: 'render_key_set', outcome: 'success' });
        await key.onKeySet?.(ctx, userId);
      },
      async onKeyInvalid(ctx, userId, reason) {
        const login = loginOf(ctx);
        await events.raise({ type: 'invalid_render_key', action: 'render_key_invalid', outcome: 'failure', userId, login, subject: `user:${userId}`, detail: { ...requestDetail(ctx), reason } });
        await key.onKeyInvalid?.(ctx, userId, reason);
        const { count, triesLeft, lockedForSec, scope } = await lockout.recordInvalid(userId, fpOf(ctx));
        if (lockedForSec > 0) {
          await events.raise({ type: 'render_key_lockout', userId, login, subject: `user:${userId}`, outcome: 'denied', detail: { ...requestDetail(ctx), count, retryAfterSec: lockedForSec } });
          throw lockedOut(lockedForSec, scope, clock.now());
        }
        const minutes = Math.ceil(limits.invalidKeys.lockSec / 60);
        const left = `${triesLeft} more ${triesLeft === 1 ? 'try' : 'tries'} before key setup is locked for ${minutes} minute${minutes === 1 ? '' : 's'}.`;
        throw errors.renderKeyInvalid(reason === 'forbidden'
          ? `This Render API key is not allowed to list workspaces. Use a key with read access to your workspace. ${left}`
          : `Render rejected this API key. Check that you copied the whole key and that it has not been revoked. ${left}`);
      },
      async onKeyCleared(ctx, userId, ref) {
        await record(ctx, { userId, action: 'render_key_cleared', outcome: 'success' });
        await key.onKeyCleared?.(ctx, userId, ref);
      },
    },
    deploymentHooks: {
      ...dep,
      async onDeployRequested(ctx, rec) {
        await record(ctx, { userId: rec.userId, action: 'deploy_requested', outcome: 'success', detail: { deploymentId: rec.id, serviceId: rec.serviceId ?? undefined } });
        await dep.onDeployRequested?.(ctx, rec);
      },
      async onCanceled(ctx, rec) {
        await record(ctx, { userId: rec.userId, action: 'lifecycle', outcome: 'success', detail: { lifecycleAction: 'cancel', deploymentId: rec.id, serviceId: rec.serviceId ?? undefined } });
        await dep.onCanceled?.(ctx, rec);
      },
      async onNotFound(ctx, what) {
        await probes(ctx, 'deployment').catch((err) => ctx.state.log?.warn({ err: { message: (err as Error).message } }, 'probe check failed'));
        await dep.onNotFound?.(ctx, what);
      },
    },
    serviceHooks: {
      ...svc,
      async onLifecycle(ctx, action, serviceId) {
        await record(ctx, { userId: getSession(ctx).user!.id, action: 'lifecycle', outcome: 'success', detail: { lifecycleAction: action, serviceId } });
        await svc.onLifecycle?.(ctx, action, serviceId);
      },
      async onNotFound(ctx, what) {
        await probes(ctx, 'service').catch((err) => ctx.state.log?.warn({ err: { message: (err as Error).message } }, 'probe check failed'));
        await svc.onNotFound?.(ctx, what);
      },
    },
    middleware: [fingerprint, ...(opts.middleware ?? [])],
    routes: [...(opts.routes ?? []), (router) => auditRoutes(router, audit)],
  };
  // X-Render-Api-Key on bearer requests: the same lock-out and invalid-key events as key setup.
  options.bearerHooks = {
    ...opts.bearerHooks,
    async checkKeyLock(ctx, userId, fp) {
      const lock = await lockout.lockedFor(userId, fp);
      if (lock.seconds > 0) throw lockedOut(lock.seconds, lock.scope, clock.now());
    },
    onKeyInvalid: options.renderKeyHooks!.onKeyInvalid,
  };
  return { options, audit, events };
}

/** 429 locked_out that says what is locked, until when, and how long that is. */
function lockedOut(seconds: number, scope: 'user' | 'key', now: number) {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  const until = new Date(now + seconds * 1000).toISOString().slice(11, 16);
  const what = scope === 'key'
    ? 'Render rejected this key too many times, so it is locked for your account'
    : 'Too many invalid Render API keys were tried, so key setup is locked for your account';
  return errors.locked(seconds, `${what} until ${until} UTC: try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`);
}

/** The fingerprint of the key in a setup request body, or null when there is none to fingerprint. */
function attemptFingerprint(ctx: Koa.Context, keyring: Keyring): string | null {
  const body = ctx.request.body as { api_key?: unknown } | undefined;
  const key = typeof body?.api_key === 'string' ? body.api_key.trim() : '';
  return key ? fingerprint(key, keyring) : null;
}
