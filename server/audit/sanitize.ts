import { isIP } from 'node:net';
import type { AuditDetail } from './types.js';

/** Anything that looks like a credential is refused outright, whatever field it arrives in. */
const SECRET_LIKE = /(rnd_|gh[pousr]_|github_pat_|xox[abprs]-|bearer\s)/i;

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const CODE = /^[a-z0-9_]{1,64}$/;
const RULES: { [K in keyof AuditDetail]-?: (v: unknown) => boolean } = {
  login: (v) => typeof v === 'string' && /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(v),
  ip: (v) => typeof v === 'string' && v.length <= 64 && isIP(v) !== 0,
  uaHash: (v) => typeof v === 'string' && /^[0-9a-f]{16,64}$/.test(v),
  route: (v) => typeof v === 'string' && /^\/[A-Za-z0-9/_:.-]{0,200}$/.test(v),
  method: (v) => typeof v === 'string' && /^[A-Z]{3,7}$/.test(v),
  deploymentId: (v) => typeof v === 'string' && ID.test(v),
  serviceId: (v) => typeof v === 'string' && ID.test(v),
  status: (v) => typeof v === 'string' && CODE.test(v),
  lifecycleAction: (v) => typeof v === 'string' && CODE.test(v),
  reason: (v) => typeof v === 'string' && CODE.test(v),
  securityEvent: (v) => typeof v === 'string' && CODE.test(v),
  resource: (v) => typeof v === 'string' && CODE.test(v),
  durationMs: (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0,
  retryAfterSec: (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0,
  count: (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0,
  tool: (v) => typeof v === 'string' && CODE.test(v),
  changes: (v) => Array.isArray(v) && v.length > 0 && v.length <= 8 && v.every((c) => typeof c === 'string' && CODE.test(c) && !SECRET_LIKE.test(c)),
};

/**
 * Keep only whitelisted fields whose values have the expected shape; drop everything else silently
 * (an audit write must never fail a request, and must never store what it was not meant to).
 */
export function sanitizeDetail(detail: Record<string, unknown> | undefined): AuditDetail {
  const out: Record<string, unknown> = {};
  if (!detail) return out;
  for (const [key, rule] of Object.entries(RULES)) {
    const value = detail[key];
    if (value === undefined || value === null) continue;
    if (typeof value === 'string' && SECRET_LIKE.test(value)) continue;
    if (rule(value)) out[key] = value;
  }
  return out;
}
