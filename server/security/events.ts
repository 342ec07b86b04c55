import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { AuditLog } from '../audit/auditLog.js';
import type { AuditAction, AuditDetail, AuditOutcome } from '../audit/types.js';
import type { SlackAlerter } from '../alerts/slack.js';

export type SecurityEventType =
  /** Several failed sign-ins from one IP. */
  | 'repeated_sign_in_failures'
  /** A Render key that Render rejected (each attempt). */
  | 'invalid_render_key'
  /** Too many invalid keys: key setup locked for that user. */
  | 'render_key_lockout'
  /** A session used from a different client than the one that signed in. */
  | 'client_changed'
  /** 404s on someone else's ids (or many 404s on ids). */
  | 'cross_tenant_probe'
  /** A deployment record or deploy job that fails its MAC (a Redis writer without SECRET_KEY); raised by the worker. */
  | 'record_tampered'
  /** The anomaly detector slowed a user down (traffic far above their baseline); raised by the worker. */
  | 'anomaly_throttled'
  /** The anomaly persisted: the user is blocked until the block expires; raised by the worker. */
  | 'anomaly_blocked'
  /** An operator lifted a throttle or block (`npm run admin -- unblock`). */
  | 'anomaly_unblocked';

interface SecurityEvent {
  type: SecurityEventType;
  userId: number | null;
  login?: string;
  /** Whose alerts share a cooldown: a user id or an IP. */
  subject: string;
  detail: AuditDetail;
  /** The audit action to record it as (default 'security'); e.g. an invalid key is a render_key_invalid entry. */
  action?: AuditAction;
  outcome?: AuditOutcome;
  /** Keep it out of the user's own trail (see AuditInput.globalOnly). */
  globalOnly?: boolean;
}

export interface SecurityEvents {
  /** Resolves with whether its audit entry was written (an action that must be audited can be undone when not). */
  raise(event: SecurityEvent): Promise<boolean>;
  /** Events raised by this process, by type (what the metrics hook also receives). */
  counts(): Record<string, number>;
}

/**
 * One security event → one audit entry, one counter tick (deps.metrics.onSecurityEvent), and a Slack
 * alert unless the same type for the same subject alerted within the cooldown (a burst of probes is
 * one message, not a hundred). Nothing here throws into the request that noticed the event.
 */
export function createSecurityEvents(opts: {
  audit: AuditLog; alerter: SlackAlerter; redis: Redis; prefix: string; cooldownSec: number; logger: Logger;
  onEvent?: (type: SecurityEventType) => void;
}): SecurityEvents {
  const counts: Record<string, number> = {};
  return {
    counts: () => ({ ...counts }),
    async raise(ev) {
      counts[ev.type] = (counts[ev.type] ?? 0) + 1;
      try { opts.onEvent?.(ev.type); } catch { /* a metrics hook must not break the request */ }
      let audited = true;
      try {
        await opts.audit.append({ userId: ev.userId, action: ev.action ?? 'security', outcome: ev.outcome ?? 'detected', detail: { ...ev.detail, securityEvent: ev.type }, globalOnly: ev.globalOnly });
      } catch (err) {
        audited = false;
        opts.logger.error({ err: { message: (err as Error).message }, securityEvent: ev.type }, 'audit append failed');
      }
      opts.logger.warn({ securityEvent: ev.type, userId: ev.userId, ip: ev.detail.ip ?? null }, 'security event');
      if (!opts.alerter.enabled) return audited;
      try {
        const first = await opts.redis.set(`${opts.prefix}:alert:${ev.type}:${ev.subject}`, '1', 'EX', opts.cooldownSec, 'NX');
        if (first !== 'OK') return audited;
      } catch { /* Redis down: alert anyway, a duplicate is better than silence */ }
      void opts.alerter.send(alertText(ev));
      return audited;
    },
  };
}

/** A short line with ids and names only. */
function alertText(ev: SecurityEvent): string {
  const who = ev.login ? `${ev.login} (GitHub id ${ev.userId})` : ev.userId !== null ? `GitHub id ${ev.userId}` : 'anonymous';
  const parts = [`Security event: ${ev.type}`, `user: ${who}`];
  if (ev.detail.ip) parts.push(`ip: ${ev.detail.ip}`);
  if (ev.detail.route) parts.push(`route: ${ev.detail.method ?? ''} ${ev.detail.route}`.trim());
  if (ev.detail.count) parts.push(`count: ${ev.detail.count}`);
  if (ev.detail.resource) parts.push(`resource: ${ev.detail.resource}${ev.detail.deploymentId ? ` ${ev.detail.deploymentId}` : ev.detail.serviceId ? ` ${ev.detail.serviceId}` : ''}`);
  return `[render-orchestrator] ${parts.join(' · ')}`;
}
