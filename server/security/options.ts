import type { AlertPost } from '../alerts/slack.js';
import type { UrlGuardOptions } from '../alerts/urlGuard.js';

/** A fixed window: at most `points` requests per `durationSec`. */
export interface LimitRule { points: number; durationSec: number }

export interface SecurityLimits {
  /** Per IP: GET /api/auth/github/login. */
  signInStart: LimitRule;
  /** Per IP: GET /api/auth/github/callback. */
  signInCallback: LimitRule;
  /** Per IP: POST /api/render/setup (every attempt, valid or not). */
  keySetup: LimitRule;
  /** Per user: POST /api/render/setup (each attempt writes an audit entry). */
  keySetupPerUser: LimitRule;
  /** Per user: POST /api/render/clear-credentials. */
  keyClear: LimitRule;
  /** Per user: POST /api/auth/logout. */
  signOut: LimitRule;
  /** Per user: POST /api/render/deploy. */
  deploys: LimitRule;
  /** Per user: POST/DELETE /api/render/services/:id[/action] and POST /api/render/deployments/:id/cancel. */
  lifecycle: LimitRule;
  /** Per user: changes on a service's settings page (env vars, secret files, domains, settings). */
  serviceSettings: LimitRule;
  /** Per user: GET /api/render/services/lookup (not cached: each spends Render reads from the caller's key). */
  serviceLookups: LimitRule;
  /** Per user: GET /api/github/repos and /branches (each spends the caller's GitHub quota). */
  githubReads: LimitRule;
  /** Per user: GET /api/github/repos/:owner/:repo/detect (reads and parses many repository files). */
  detect: LimitRule;
  /** Per user: PUT /api/sentinel (each change re-schedules the watch). */
  sentinelSettings: LimitRule;
  /** Per user: POST /api/sentinel/test-alert (each one posts to the user's Slack). */
  sentinelTest: LimitRule;
  /**
   * Invalid Render keys within windowSec: the same key maxInvalid times locks that key for the user;
   * maxInvalidPerUser invalid keys of any kind (default 4 × maxInvalid) lock key setup for the user.
   * Both for lockSec; a key Render accepts clears the counts.
   */
  invalidKeys: { maxInvalid: number; windowSec: number; lockSec: number; maxInvalidPerUser?: number };
  /**
   * Per IP: bearer tokens GitHub refused within windowSec; past maxInvalid, tokens GitHub has not
   * vouched for lately are refused (429) before they reach GitHub. Tokens it vouched for are not held,
   * and no token check spends the browser's signInCallback limit (server/security/tokenChecks.ts).
   */
  invalidTokens: { maxInvalid: number; windowSec: number };
  /** Per IP: this many failed sign-ins within windowSec raise a security event. */
  failedSignIns: { threshold: number; windowSec: number };
  /** Per user: this many 404s on ids within windowSec raise a cross-tenant probe event. */
  notFoundProbes: { threshold: number; windowSec: number };
}

/** `points` requests per `minutes` (rate-limiter-flexible's points and duration). */
const perMinutes = (points: number, minutes: number) => ({ points, durationSec: minutes * 60 });

/**
 * Defaults, and why:
 * - sign-in start / callback: 60 per 10 min per IP. A person signs in a few times a day; an office
 *   behind one NAT address still fits. Each start creates a pre-auth session in Redis, so an
 *   unbounded stream of starts is a storage lever.
 * - key setup: 60 per 15 min per IP, on top of the per-user lock-out below: it stops one address
 *   from using us as an oracle for guessed or stolen Render keys across many GitHub accounts. It also
 *   counts X-Render-Api-Key checks of keys Render has not accepted lately (server/bearer/middleware.ts).
 * - deploys: 300 per 10 min per user. Render itself only accepts 20 new services an hour and the
 *   per-key budget paces every Render call, so this only bounds queue and Redis growth from a script
 *   gone wrong; legitimate bursts (a batch of services) still queue.
 * - lifecycle: 120 per 10 min per user (Render allows 30 writes a minute per key).
 * - service settings: 300 per 10 min per user. Editing variables one key at a time is bursty (a dozen
 *   keys pasted in a row); the per-key budget still paces the Render writes themselves.
 * - key setup per user: 30 per 15 min; clear key: 60 per 10 min; sign-out: 60 per 10 min. A person
 *   does each a few times a day; every one appends audit entries, so a script looping on them would
 *   otherwise grow Redis without bound (issue 11 part 4).
 * - service look-ups by name: 300 per 10 min per user. A CI run asks once, or once a second for up to
 *   2 minutes while another run creates its service; each spends one Render list call and a deploy read.
 * - GitHub reads: 600 per 10 min per user (the repo picker searches as you type, debounced);
 *   stack detection: 60 per 10 min per user (one detection reads up to a few dozen files).
 * - Sentinel settings: 30 per 10 min per user; Slack test messages: 5 per 10 min per user (each
 *   one is a real post to the user's channel).
 * - invalid keys: the same wrong key 5 times within 15 min locks that key for the user; 20 wrong keys
 *   of any kind lock key setup for the user (guessing); each lock lasts 15 min (429 locked_out). A typo
 *   of one key never blocks the correct one, and a verified key clears the counts.
 * - refused bearer tokens: 30 per 10 min per IP, the callback's allowance for what it guards (a
 *   token sent to GitHub on our behalf); a valid token, re-checked every BEARER_RECHECK_SECONDS all
 *   day, counts nothing, so an API client and the people behind its address do not lock each other out.
 * - failed sign-ins: 5 from one IP within 15 min raise a security event (GitHub does the password
 *   checking; what we see is OAuth callbacks that fail, e.g. forged or replayed ones); past that, one
 *   more each time the count doubles, and no entry per failure (layer.ts signInFailed).
 * - 404 probes: 10 404s on resource ids within 10 min raise a cross-tenant probe event; a 404 on an
 *   id that exists but belongs to someone else raises one at once.
 */
const DEFAULT_LIMITS: SecurityLimits = {
  signInStart: perMinutes(60, 10),
  signInCallback: perMinutes(60, 10),
  keySetup: perMinutes(60, 15),
  keySetupPerUser: perMinutes(30, 15),
  keyClear: perMinutes(60, 10),
  signOut: perMinutes(60, 10),
  deploys: perMinutes(300, 10),
  lifecycle: perMinutes(120, 10),
  serviceSettings: perMinutes(300, 10),
  serviceLookups: perMinutes(300, 10),
  githubReads: perMinutes(600, 10),
  detect: perMinutes(60, 10),
  sentinelSettings: perMinutes(30, 10),
  sentinelTest: perMinutes(5, 10),
  invalidKeys: { maxInvalid: 5, windowSec: 900, lockSec: 900, maxInvalidPerUser: 20 },
  invalidTokens: { maxInvalid: 30, windowSec: 600 },
  failedSignIns: { threshold: 5, windowSec: 900 },
  notFoundProbes: { threshold: 10, windowSec: 600 },
};

/** Per (event type, subject) at most one Slack alert per cooldown; the audit entry and counter are never throttled. */
export const DEFAULT_ALERT_COOLDOWN_SEC = 900;

export interface SecurityOptions {
  limits?: Partial<SecurityLimits>;
  alertCooldownSec?: number;
  alerts?: {
    /** Overrides config.slackWebhookUrl (tests point it at a local receiver). */
    webhookUrl?: string | null;
    /** Test seams for the alert transport; production uses the SSRF-guarded https POST. */
    post?: AlertPost;
    guard?: UrlGuardOptions;
  };
}

export function resolveLimits(opts: SecurityOptions = {}): SecurityLimits {
  return { ...DEFAULT_LIMITS, ...opts.limits };
}
