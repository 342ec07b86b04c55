import { z } from 'zod';
import { withoutTrailingSlashes } from '../text.js';
import type { TelemetrySettings } from '../telemetry/options.js';

/**
 * The one place that reads the environment. Everything else receives an AppConfig.
 * loadConfig() is pure (give it any env object), so tests build configs without touching process.env.
 */
export interface AppConfig {
  nodeEnv: 'development' | 'production' | 'test';
  port: number;
  /** Address the HTTP server listens on: loopback in sandbox mode (anyone who reaches it can sign in as the demo user). */
  host: string;
  baseUrl: string;
  /** scheme://host[:port] of baseUrl: what Origin headers must equal. */
  origin: string;
  /** Master secret; every key (cookie signing, encryption, id hashing) is derived from it. */
  secretKey: Buffer;
  /** The previous master secret, accepted for decryption and cookie verification during rotation. */
  previousSecretKey: Buffer | null;
  redisUrl: string;
  /** Key prefix for everything this app writes to Redis (sessions, records, queues). */
  redisPrefix: string;
  /** `retries`: the GitHub client's retry and throttling (GITHUB_RETRIES; the test harness turns it off for determinism). */
  github: { clientId: string; clientSecret: string; oauthUrl: string; apiUrl: string; retries: boolean };
  /** True when no GitHub credentials were given: `npm start` then runs the built-in simulators. */
  sandbox: boolean;
  renderApiUrl: string;
  httpsOnly: boolean;
  trustProxy: boolean;
  sessionIdleMs: number;
  sessionAbsoluteMs: number;
  /** A bearer token verified with GitHub is re-checked after this long (a revoked token stops within it). */
  bearerRecheckMs: number;
  /** How long an ended session's answer waits for every process to confirm it dropped its cached copy (server/sessions/fence.ts). */
  sessionEndFenceMs: number;
  /**
   * The session caches' heartbeat on their tracking connection (server/sessions/cache.ts): a PING this
   * often; one unanswered as long again stops the cache and reconnects its connection.
   */
  sessionCacheHeartbeatMs: number;
  corsOrigins: string[];
  slackWebhookUrl: string | null;
  metricsToken: string | null;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  workerConcurrency: number;
  /** How long audit chains grow (server/audit/auditLog.ts): entries per user chain, in the global chain, and their age. */
  auditRetention: { maxEntries: number; globalMaxEntries: number; maxAgeMs: number };
  /** Default Sentinel round interval (users may pick a longer one). */
  sentinelIntervalMs: number;
  /** Request telemetry and the anomaly detector's responses (server/telemetry/). */
  telemetry: TelemetrySettings;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
    this.name = 'ConfigError';
  }
}

const url = (name: string) =>
  z.string().trim().refine((v) => {
    try { const u = new URL(v); return u.protocol === 'http:' || u.protocol === 'https:'; } catch { return false; }
  }, `${name} must be an http(s) URL, e.g. https://example.com`);

/**
 * What ioredis will make of a REDIS_URL, checked here: it throws on a URL it cannot parse or a password
 * with a stray %, printing the URL (password and all) in its stack, and a db that is no number fails later.
 */
function readableRedisUrl(value: string): boolean {
  try {
    const u = new URL(value);
    decodeURIComponent(u.username);
    decodeURIComponent(u.password);
    return u.hostname !== '' && /^(\/\d*)?$/.test(u.pathname);
  } catch { return false; }
}

function isOriginOnly(value: string): boolean {
  try {
    const u = new URL(value);
    return /^\/*$/.test(u.pathname) && !u.search && !u.hash && !u.username && !u.password;
  } catch { return true; } // not a URL: url() says so
}

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v));
const positiveInt = (name: string) =>
  z.string().trim().regex(/^\d+$/, `${name} must be a whole number`).transform(Number).refine((n) => n > 0, `${name} must be above 0`);

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.string().trim().regex(/^\d+$/, 'PORT must be a port number').transform(Number)
    // Not 0 (any free port): the base URL, the OAuth return and the sandbox's GitHub are addressed by this number.
    .refine((n) => n >= 1 && n < 65536, 'PORT must be between 1 and 65535').default(3000),
  HOST: z.string().trim().regex(/^[A-Za-z0-9.:-]{1,253}$/, 'HOST must be an address to listen on, e.g. 127.0.0.1, 0.0.0.0 or ::').optional(),
  // Sign-in's callback is BASE_URL + /api/auth/github/callback and every page and route is at the root: a path
  // (the callback URL pasted here) made a redirect_uri GitHub refuses.
  BASE_URL: url('BASE_URL').refine(isOriginOnly, 'BASE_URL must be the origin only, e.g. https://orchestrator.example.com (no path, query or user name: the app is served at the root)').optional(),
  SECRET_KEY: z.string().trim().optional(),
  SECRET_KEY_PREVIOUS: z.string().trim().optional(),
  REDIS_URL: z.string().trim().refine((v) => /^rediss?:\/\//.test(v), 'REDIS_URL must start with redis:// or rediss://')
    .refine(readableRedisUrl, 'REDIS_URL must read as redis://[user:password@]host[:port][/db] with a numeric port and db, and any % in the password written as %25 (its value is not shown here)')
    .default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: z.string().trim().regex(/^[A-Za-z0-9_-]{1,32}$/, 'REDIS_PREFIX: letters, digits, - and _ only').default('orch'),
  GITHUB_CLIENT_ID: z.string().trim().optional(),
  GITHUB_CLIENT_SECRET: z.string().trim().optional(),
  GITHUB_OAUTH_URL: url('GITHUB_OAUTH_URL').default('https://github.com'),
  GITHUB_API_URL: url('GITHUB_API_URL').default('https://api.github.com'),
  GITHUB_RETRIES: bool.default(true),
  RENDER_API_URL: url('RENDER_API_URL').default('https://api.render.com/v1'),
  HTTPS_ONLY: bool.optional(),
  TRUST_PROXY: bool.optional(),
  SESSION_IDLE_MINUTES: positiveInt('SESSION_IDLE_MINUTES').default(30),
  SESSION_ABSOLUTE_HOURS: positiveInt('SESSION_ABSOLUTE_HOURS').default(12),
  CORS_ORIGINS: z.string().optional(),
  SLACK_WEBHOOK_URL: z.string().trim().optional(),
  METRICS_TOKEN: z.string().trim().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  WORKER_CONCURRENCY: positiveInt('WORKER_CONCURRENCY').default(50),
  // At least one checkpoint interval (100 entries): retention removes whole intervals.
  AUDIT_MAX_ENTRIES: positiveInt('AUDIT_MAX_ENTRIES').refine((n) => n >= 100, 'AUDIT_MAX_ENTRIES must be at least 100').default(5000),
  AUDIT_GLOBAL_MAX_ENTRIES: positiveInt('AUDIT_GLOBAL_MAX_ENTRIES').refine((n) => n >= 100, 'AUDIT_GLOBAL_MAX_ENTRIES must be at least 100').default(200000),
  AUDIT_MAX_AGE_DAYS: positiveInt('AUDIT_MAX_AGE_DAYS').default(90),
  SENTINEL_INTERVAL_SECONDS: positiveInt('SENTINEL_INTERVAL_SECONDS').default(60),
  BEARER_RECHECK_SECONDS: positiveInt('BEARER_RECHECK_SECONDS').default(300),
  SESSION_END_FENCE_MS: positiveInt('SESSION_END_FENCE_MS').default(1000),
  SESSION_CACHE_HEARTBEAT_MS: positiveInt('SESSION_CACHE_HEARTBEAT_MS').refine((n) => n >= 50 && n <= 60_000, 'SESSION_CACHE_HEARTBEAT_MS must be between 50 and 60000 (past 60 s the entries\' own age bound comes first)').default(500),
  TELEMETRY_ENABLED: bool.default(true),
  ANOMALY_DETECTION: bool.default(true),
  TELEMETRY_MINUTE_RETENTION_HOURS: positiveInt('TELEMETRY_MINUTE_RETENTION_HOURS').default(24),
  TELEMETRY_HOUR_RETENTION_DAYS: positiveInt('TELEMETRY_HOUR_RETENTION_DAYS').default(14),
  ANOMALY_THROTTLE_MINUTES: positiveInt('ANOMALY_THROTTLE_MINUTES').default(15),
  ANOMALY_THROTTLE_PER_MINUTE: positiveInt('ANOMALY_THROTTLE_PER_MINUTE').default(60),
  ANOMALY_BLOCK_AFTER: positiveInt('ANOMALY_BLOCK_AFTER').refine((n) => n >= 2, 'ANOMALY_BLOCK_AFTER must be at least 2 (the first anomalous minute throttles)').default(3),
  ANOMALY_BLOCK_MINUTES: positiveInt('ANOMALY_BLOCK_MINUTES').default(60),
  ANOMALY_GRACE_MINUTES: positiveInt('ANOMALY_GRACE_MINUTES').default(60),
});

/** Longer than base64 of 32 bytes (44) and hex digits only, but an odd count of them: a digit lost or added in copying. */
const isOddHex = (value: string) => value.length > 44 && value.length % 2 === 1 && /^[0-9a-fA-F]+$/.test(value);

/**
 * Decode a master secret given as hex or base64; null when it is neither or shorter than 32 bytes.
 * `legacyOddHex`: read an odd count of hex digits as base64, as versions before 2026-12-02 did (for
 * SECRET_KEY_PREVIOUS, so a deployment that ran on such a key can rotate off it and keep its data).
 */
export function decodeSecret(raw: string, opts: { legacyOddHex?: boolean } = {}): Buffer | null {
  const value = raw.trim();
  let buf: Buffer | null = null;
  const hexOnly = /^[0-9a-fA-F]+$/.test(value);
  // Longer than 44, hex digits only is hex (openssl rand -hex 32): an odd count is refused, not read as
  // base64 (another key, which a process given the whole value would not share). Up to 44 it may be
  // Render's unpadded base64 of 32 bytes (43 'A's).
  if (isOddHex(value) && opts.legacyOddHex) buf = Buffer.from(value, 'base64');
  else if (hexOnly && value.length > 44) buf = value.length % 2 === 0 ? Buffer.from(value, 'hex') : null;
  else if (hexOnly && value.length % 2 === 0) buf = Buffer.from(value, 'hex');
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) buf = Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
  return buf && buf.length >= 32 ? buf : null;
}

const stripSlash = withoutTrailingSlashes;

export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  // Empty strings mean "unset" (Render and shells often pass them through).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => (i.message.includes(String(i.path[0])) ? i.message : `${String(i.path[0])}: ${i.message}`)));
  }
  const e = parsed.data;
  const problems: string[] = [];
  const production = e.NODE_ENV === 'production';

  let secretKey: Buffer | null = null;
  if (e.SECRET_KEY) {
    secretKey = decodeSecret(e.SECRET_KEY);
    if (!secretKey && isOddHex(e.SECRET_KEY.trim())) {
      problems.push('SECRET_KEY looks like hex with a digit lost or added (an odd count of digits): fix it, or, if the service has been running on this exact value, move it to SECRET_KEY_PREVIOUS and set a new SECRET_KEY (openssl rand -hex 32) to rotate off it (SECURITY.md, key rotation)');
    } else if (!secretKey) problems.push('SECRET_KEY must be at least 32 bytes, hex or base64 encoded. Generate one with: openssl rand -hex 32');
  } else if (production) {
    problems.push('SECRET_KEY is required in production. Generate one with: openssl rand -hex 32');
  }
  let previousSecretKey: Buffer | null = null;
  if (e.SECRET_KEY_PREVIOUS) {
    previousSecretKey = decodeSecret(e.SECRET_KEY_PREVIOUS, { legacyOddHex: true });
    if (!previousSecretKey) problems.push('SECRET_KEY_PREVIOUS must be at least 32 bytes, hex or base64 encoded (the old SECRET_KEY)');
  }

  // A cached session is served while its process's last tracking heartbeat is at most two heartbeats old
  // (server/sessions/cache.ts); a sign-out, clear or key change waits at most the fence for every process to drop
  // it (server/sessions/fence.ts). A fence shorter than that answered while a stalled process still served
  // the ended session from memory; each value alone was within its range.
  if (2 * e.SESSION_CACHE_HEARTBEAT_MS > e.SESSION_END_FENCE_MS) {
    problems.push(`SESSION_CACHE_HEARTBEAT_MS (${e.SESSION_CACHE_HEARTBEAT_MS}) must be at most half SESSION_END_FENCE_MS (${e.SESSION_END_FENCE_MS}): otherwise a sign-out is answered while another process may still serve the session from its cache. Lower the heartbeat or raise the fence`);
  }

  // Without it the base URL is http://localhost:PORT: sign-in returns to localhost and Origin checks refuse every write.
  if (production && !e.BASE_URL) problems.push('BASE_URL is required in production: the public https:// URL of the web service (OAuth callback and Origin checks use it)');

  const httpsOnly = e.HTTPS_ONLY ?? production;
  // Browsers on the https site send Origin: https://…, which the same-origin check compares with BASE_URL's:
  // with http:// there, every write (deploy, key setup, sign-out) was 403 origin_rejected.
  if (httpsOnly && e.BASE_URL && new URL(e.BASE_URL).protocol !== 'https:') {
    problems.push('BASE_URL must be an https:// URL while HTTPS_ONLY is on (the default in production): it is the origin browsers\' writes are checked against. Serving plain http on purpose: set HTTPS_ONLY=false');
  }

  const hasId = Boolean(e.GITHUB_CLIENT_ID);
  const hasSecret = Boolean(e.GITHUB_CLIENT_SECRET);
  if (hasId !== hasSecret) problems.push('Set both GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET (from your GitHub OAuth app), or neither for sandbox mode');
  const sandbox = !hasId && !hasSecret;
  if (sandbox && production) problems.push('GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET are required in production (sandbox mode is for local use)');

  let slackWebhookUrl: string | null = null;
  if (e.SLACK_WEBHOOK_URL) {
    try {
      const u = new URL(e.SLACK_WEBHOOK_URL);
      if (u.protocol !== 'https:') throw new Error();
      slackWebhookUrl = u.toString();
    } catch { problems.push('SLACK_WEBHOOK_URL must be an https:// URL'); }
  }
  if (e.METRICS_TOKEN && e.METRICS_TOKEN.length < 16) problems.push('METRICS_TOKEN must be at least 16 characters');
  // /metrics takes `Authorization: Bearer <one word>`: a token with a space in it could never be sent.
  if (e.METRICS_TOKEN && /\s/.test(e.METRICS_TOKEN)) problems.push('METRICS_TOKEN must be the token alone, one word without spaces (not "Bearer …"): Prometheus sends it as Authorization: Bearer <METRICS_TOKEN>');

  const corsOrigins: string[] = [];
  for (const o of (e.CORS_ORIGINS ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    // An origin browsers send: http(s) only. file:, data: and the like have the opaque origin "null",
    // which sandboxed frames and local files share: listing it would let any of them in.
    let url: URL | undefined;
    try { url = new URL(o); } catch { /* reported below */ }
    if (url && (url.protocol === 'https:' || url.protocol === 'http:')) corsOrigins.push(url.origin);
    else problems.push(`CORS_ORIGINS: "${o}" is not a URL origin like https://app.example.com`);
  }

  if (problems.length) throw new ConfigError(problems);

  const baseUrl = stripSlash(e.BASE_URL ?? `http://localhost:${e.PORT}`);
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST ?? (sandbox ? '127.0.0.1' : '0.0.0.0'),
    baseUrl,
    origin: new URL(baseUrl).origin,
    // Outside production a missing key is generated: fine for tests and sandbox, where nothing outlives the process
    // (scripts/start.ts keeps one in .sandbox/ so local restarts keep sessions).
    secretKey: secretKey ?? randomSecret(),
    previousSecretKey,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    github: {
      clientId: e.GITHUB_CLIENT_ID ?? '',
      clientSecret: e.GITHUB_CLIENT_SECRET ?? '',
      oauthUrl: stripSlash(e.GITHUB_OAUTH_URL),
      apiUrl: stripSlash(e.GITHUB_API_URL),
      retries: e.GITHUB_RETRIES,
    },
    sandbox,
    renderApiUrl: stripSlash(e.RENDER_API_URL),
    httpsOnly,
    trustProxy: e.TRUST_PROXY ?? production,
    sessionIdleMs: e.SESSION_IDLE_MINUTES * 60_000,
    sessionAbsoluteMs: e.SESSION_ABSOLUTE_HOURS * 3_600_000,
    bearerRecheckMs: e.BEARER_RECHECK_SECONDS * 1000,
    sessionEndFenceMs: e.SESSION_END_FENCE_MS,
    sessionCacheHeartbeatMs: e.SESSION_CACHE_HEARTBEAT_MS,
    corsOrigins,
    slackWebhookUrl,
    metricsToken: e.METRICS_TOKEN ?? null,
    logLevel: e.LOG_LEVEL,
    workerConcurrency: e.WORKER_CONCURRENCY,
    auditRetention: { maxEntries: e.AUDIT_MAX_ENTRIES, globalMaxEntries: e.AUDIT_GLOBAL_MAX_ENTRIES, maxAgeMs: e.AUDIT_MAX_AGE_DAYS * 86_400_000 },
    sentinelIntervalMs: e.SENTINEL_INTERVAL_SECONDS * 1000,
    telemetry: {
      enabled: e.TELEMETRY_ENABLED, detection: e.TELEMETRY_ENABLED && e.ANOMALY_DETECTION, minuteRetentionHours: e.TELEMETRY_MINUTE_RETENTION_HOURS, hourRetentionDays: e.TELEMETRY_HOUR_RETENTION_DAYS,
      throttleMinutes: e.ANOMALY_THROTTLE_MINUTES, throttlePerMinute: e.ANOMALY_THROTTLE_PER_MINUTE, blockAfter: e.ANOMALY_BLOCK_AFTER,
      blockMinutes: e.ANOMALY_BLOCK_MINUTES, graceMinutes: e.ANOMALY_GRACE_MINUTES,
    },
  };
}

function randomSecret(): Buffer {
  // Imported lazily to keep this module free of side effects at load.
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * Node's debug output for `http`, `net` (and the old `koa-session`) would print request headers and session
 * contents (Render keys, GitHub tokens) to the log: every process that holds them refuses to start with it
 * (web, worker, `npm start`, the admin script). Returns the reason, or null.
 */
export function debugOutputRefusal(env: Record<string, string | undefined>): string | null {
  return env.NODE_DEBUG && /koa-session|http|net/.test(env.NODE_DEBUG)
    ? 'Refusing to start: NODE_DEBUG would print session contents (Render keys) to the log. Unset it.'
    : null;
}

/** For entry points: refuse debug output that would print keys, then load or print what to fix and exit. */
export function loadConfigOrExit(env: Record<string, string | undefined>): AppConfig {
  const refusal = debugOutputRefusal(env);
  if (refusal) {
    process.stderr.write(`${refusal}\n`);
    process.exit(1);
  }
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nSee README.md "Configuration".\n`);
      process.exit(1);
    }
    throw err;
  }
}
