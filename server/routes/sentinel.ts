import type Router from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { errors } from '../errors.js';
import { requireCsrf } from '../middleware/security.js';
import { requireRenderKey, requireUser, type SignedInState } from '../middleware/context.js';
import { validate } from '../middleware/validate.js';
import { createSentinelStore, MAX_FINDINGS } from '../sentinel/store.js';
import { checkSlackWebhook, createSentinelAlerts, type SentinelAlertOptions } from '../sentinel/alerts.js';
import { FindingView, presentFinding, presentSettings, SentinelSettingsView } from '../sentinel/present.js';
import { announceSettingsChanged, switchWatchOff } from '../sentinel/switchOff.js';
import { watchConsentHolds } from '../sentinel/consent.js';
import { documented, view } from '../openapi/describe.js';
import type { SentinelSettings } from '../sentinel/types.js';
import { queryWholeNumber } from '../middleware/queryNumber.js';
import { sessionAfterWithdrawal } from '../render/forRequest.js';
import type { SessionRenderCredentials } from '../sessions/types.js';

export type SentinelRouteOptions = SentinelAlertOptions;

const MIN_INTERVAL_SEC = 30;
const MAX_INTERVAL_SEC = 3_600;
/** Reads and writes of one save, each redone when another save came between (saveOnce); three in a row is a storm of saves. */
const SAVE_ATTEMPTS = 3;

const SettingsBody = z.object({
  /**
   * Absent keeps the watch on or off as it is: a change of the webhook alone (the Security page's "Remove
   * webhook") sent from a page that had not yet heard of another tab turning the watch off would otherwise
   * turn it back on, with whatever that page last read.
   */
  enabled: z.boolean().optional().describe('true turns the watch on (with this session\'s key), false turns it off (its settings deleted); absent keeps it as it is. Left out while the watch is off, only slackWebhookUrl: null is accepted (nothing to change: off keeps no webhook)'),
  // Sentences without the field's name: the 400 prefixes it ("intervalSeconds: …") and the Security page
  // shows the rest under its field; "intervalSeconds must be at least 30" showed the API's name there.
  intervalSeconds: z.number().int().min(MIN_INTERVAL_SEC, `At least ${MIN_INTERVAL_SEC} seconds between rounds.`).max(MAX_INTERVAL_SEC, `At most ${MAX_INTERVAL_SEC} seconds (an hour) between rounds.`).optional(),
  /** A new webhook URL; null removes it; absent keeps the current one. */
  slackWebhookUrl: z.string().trim().max(500, 'slackWebhookUrl is too long').nullable().optional(),
  /** Also post deploy results to the webhook; absent keeps the current choice. */
  slackDeployResults: z.boolean().optional(),
  _csrf: z.string().optional(),
}).strict()
  // Every field may be left out, not all: a save that names nothing is a client's mistake, and would
  // still move the watch to the saving session.
  .refine((b) => b.enabled !== undefined || b.intervalSeconds !== undefined || b.slackWebhookUrl !== undefined || b.slackDeployResults !== undefined,
    'Send at least one of enabled, intervalSeconds, slackWebhookUrl and slackDeployResults.');

/** What a save changed, as its `sentinel_settings` audit entry names it (web/assets/view-audit.js words them). */
export type SentinelChange = 'turned_on' | 'turned_off' | 'watch_moved' | 'interval_changed' | 'webhook_set' | 'webhook_replaced' | 'webhook_removed' | 'deploy_results_on' | 'deploy_results_off';

/**
 * The changes from the watch as it was (`before`, null when off) to `after`, given the save's webhook field
 * and the name the watch knows the saving session by (watchOf: one of its own names after a SECRET_KEY
 * rotation is no move). Held by another session, the watch moves to this one and reads with its key.
 */
function sentinelChanges(before: SentinelSettings | null, after: SentinelSettings, save: { webhook: string | null | undefined; watching: string }): SentinelChange[] {
  const on = before?.enabled ? before : null;
  const { webhook } = save;
  const changes: SentinelChange[] = [];
  if (!on) changes.push('turned_on');
  else {
    if (on.sessionRef !== save.watching) changes.push('watch_moved');
    if (on.intervalMs !== after.intervalMs) changes.push('interval_changed');
  }
  if (typeof webhook === 'string') changes.push(on?.slackSealed ? 'webhook_replaced' : 'webhook_set');
  else if (webhook === null && on?.slackSealed) changes.push('webhook_removed');
  if (after.slackDeployResults !== (on?.slackDeployResults ?? false)) changes.push(after.slackDeployResults ? 'deploy_results_on' : 'deploy_results_off');
  return changes;
}

const TestAlertBody = z.object({
  /** Test a URL before saving it; absent → the saved one. */
  slackWebhookUrl: z.string().trim().max(500, 'slackWebhookUrl is too long').optional(),
  _csrf: z.string().optional(),
}).strict();

const SentinelView = view('Sentinel', SentinelSettingsView.extend({
  counts: z.object({ high: z.number().int(), medium: z.number().int(), low: z.number().int(), total: z.number().int() }),
}));
const TestAlertView = view('TestAlertResult', z.object({
  delivered: z.boolean(),
  /** Why Slack did not take it (its refusal, or why it could not be reached); null when delivered. Never the URL. */
  reason: z.string().nullable(),
}), 'Whether Slack accepted the test message.');
const FindingListView = view('SentinelFindingList', z.object({ findings: z.array(FindingView) }));

const FindingsQuery = z.object({ limit: queryWholeNumber({ min: 1, max: 200, default: 100 }, { blankIsAbsent: true }) }).strict();
const FINDING_ID = /^fnd_[A-Za-z0-9_-]{20}$/;

/**
 * Sentinel settings and findings. Enabling binds the watch to this session (its key is read from it
 * each round); the settings record is sealed with the session ref and expires with the session's
 * absolute lifetime. Findings are the caller's own; any other id is a 404.
 */
export function sentinelRoutes(router: Router, deps: AppDeps, opts: SentinelRouteOptions = {}) {
  const { config, redis, keyring } = deps;
  const store = createSentinelStore({ redis, prefix: config.redisPrefix, keyring, absoluteMs: config.sessionAbsoluteMs });
  const alerts = createSentinelAlerts({ ...opts, redis, prefix: config.redisPrefix, logger: deps.logger });
  const changes = deps.rateLimits.guard('sentinelSettings');
  const tests = deps.rateLimits.guard('sentinelTest');

  /**
   * The settings as this session sees them, and the name the watch knows this session by (a SECRET_KEY
   * rotation moves the session to the new key's name, sessions/records.ts, during its rolling deploy and
   * for good after). A watch lasts while the session that turned it on lives and holds a key. Once that
   * session ended (signed out, expired) or its key was cleared, the watch is over, though its settings
   * stay until the next round stops it (up to an hour): they read as none, to the page (it does not say
   * another session watches) and to a save or test message alike (a save took them as on, turning the
   * ended watch back on here with its webhook). A cache hit for the session: no round trip.
   */
  const watchOf = async (userId: number, currentRef: string, settings: SentinelSettings | null) => {
    const watching = settings?.enabled && settings.sessionRef !== currentRef
      && (await deps.sessions.refsOf(currentRef)).includes(settings.sessionRef) ? settings.sessionRef : currentRef;
    const ended = settings?.enabled && !watchConsentHolds(await deps.sessions.loadByRef(settings.sessionRef), userId);
    return { watching, settings: ended ? null : settings };
  };

  const view = async (userId: number, currentRef: string) => {
    const sess = await deps.sessions.loadByRef(currentRef);
    const ownerNames = new Map((sess?.render?.owners ?? []).map((o) => [o.id, o.name] as const));
    const [stored, status, findings] = await Promise.all([store.getSettings(userId), store.getStatus(userId), store.listFindings(userId, MAX_FINDINGS, deps.clock.now())]);
    // Every finding kept counts (MAX_FINDINGS), not only the newest page of them: the counts stopped at 200.
    const counts = { high: 0, medium: 0, low: 0, total: findings.length };
    for (const f of findings) counts[f.severity] += 1;
    const { watching, settings } = await watchOf(userId, currentRef, stored);
    return { ...presentSettings(settings, status, { currentRef: watching, defaultIntervalMs: config.sentinelIntervalMs, ownerNames }), counts } satisfies z.infer<typeof SentinelView>;
  };

  /**
   * A save that changed something is in the user's audit trail: where the findings go (the webhook), whether
   * anything watches at all, and whose key it watches with are what someone holding a session would change
   * unseen. Codes only, never the webhook URL.
   */
  const audited = async (ctx: Koa.Context, userId: number, changes: SentinelChange[]) => {
    if (changes.length) await deps.security.recordAudit(ctx, { userId, action: 'sentinel_settings', outcome: 'success', detail: { changes } });
  };

  router.get('/api/sentinel', documented({ summary: 'Sentinel settings, status and finding counts', tag: 'sentinel', responses: { 200: SentinelView } }), requireUser(), async (ctx) => {
    ctx.body = await view(ctx.state.user.id, deps.sessions.refOf(ctx.state.sessionId));
  });

  /**
   * A save is made with the key the request's session held when it was loaded, at the request's start. A
   * sign-out or a clear of that key in another tab (or on another web process) while the save was made
   * was answered first: the clear switched off the watch it found (routes/renderKey.ts), before this
   * save's settings were there, and the save would leave a watch on that its session no longer consents
   * to (the same key connected again, it came back on, with its webhook). So once written, the session is
   * asked again (through the fenced session cache: an ending answered is never served the old copy). The
   * clear writes the key before it reads the settings and the save writes the settings before it reads
   * the session, so one of the two sees the other. Still that user's, with that same key connection (its
   * fingerprint and when it was connected: a clear and the same key connected again is another one): the
   * save stands. Else the watch it wrote goes, while its settings are still of the generation written
   * (a later save's stay), with no audit entry, answered as a request sent now would be: 401 signed out,
   * render_key_missing once cleared, render_key_changed (409) once another key was connected.
   */
  const unlessKeyWithdrawn = async (ctx: Koa.Context, userId: number, ref: string, held: SessionRenderCredentials, gen: string): Promise<void> => {
    const now = await deps.sessions.loadByRef(ref);
    if (now?.user?.id === userId && now.render?.keyFingerprint === held.keyFingerprint && now.render.verifiedAt === held.verifiedAt) return;
    if (await store.dropWatchOfGen(userId, gen)) await announceSettingsChanged(deps, ctx, userId);
    await sessionAfterWithdrawal(deps, { sessionRef: ref, userId });
    throw errors.conflict('render_key_changed', 'Your Render key was cleared or replaced in another tab while these Sentinel settings were being saved, so they were not kept. Reload the page, then save them again if you still want them.');
  };

  /**
   * One attempt at a save: read the settings, work out the new ones and write them only over what was read.
   * False when another save came between (nothing written): the caller reads again and redoes it, so no
   * save writes over settings it did not see (a webhook set in one tab, dropped by an interval saved in
   * another) and each audit entry names what its own save changed (two enables at once: one turned_on).
   */
  const saveOnce = async (ctx: Koa.ParameterizedContext<Koa.DefaultState & SignedInState>, body: z.infer<typeof SettingsBody>, userId: number, ref: string): Promise<boolean> => {
    const stored = await store.getStoredSettings(userId);
    const { watching, settings: current } = await watchOf(userId, ref, stored.settings);
    if (body.enabled === undefined && !current?.enabled) {
      // Off keeps no settings (dropWatch): no webhook to remove, and nothing else to set on a watch that is not there.
      if (body.intervalSeconds !== undefined || typeof body.slackWebhookUrl === 'string' || body.slackDeployResults !== undefined) {
        throw errors.validation('enabled: Sentinel is off; send enabled: true to turn it on with these settings');
      }
      return true;
    }
    if (body.enabled === false) {
      await switchWatchOff(deps, ctx, store, userId, Boolean(current?.enabled));
      return true;
    }
    const held = ctx.state.session.render;
    if (!held) throw errors.renderKeyMissing();
    // A watch lives as long as the session that enables it, and a per-request key's session ends with its
    // request: the watch (and the one it would replace, with its Slack webhook) would be dropped next round.
    if (ctx.state.session.ephemeral) throw errors.renderKeyMissing('A key sent with X-Render-Api-Key lasts for its request only, too short for a watch: store it with POST /api/render/setup, then turn Sentinel on.');
    let slackSealed = current?.slackSealed ?? null;
    let slackHint = current?.slackHint ?? null;
    if (body.slackWebhookUrl === null) { slackSealed = null; slackHint = null; }
    if (typeof body.slackWebhookUrl === 'string') {
      const problem = checkSlackWebhook(body.slackWebhookUrl, alerts.hosts);
      if (problem) throw errors.validation(`slackWebhookUrl: ${problem}`);
      slackSealed = store.sealSlackUrl(userId, body.slackWebhookUrl);
      slackHint = `…${body.slackWebhookUrl.slice(-4)}`;
    }
    const intervalMs = (body.intervalSeconds ?? Math.round((current?.intervalMs ?? config.sentinelIntervalMs) / 1000)) * 1000;
    const slackDeployResults = body.slackDeployResults ?? current?.slackDeployResults ?? false;
    const settings: SentinelSettings = { enabled: true, sessionRef: ref, intervalMs, slackSealed, slackHint, slackDeployResults, enabledAt: current?.enabledAt ?? deps.clock.now() };
    // A new watch or a new interval runs at once; the same settings again keep the watch's rhythm, and
    // the round running goes on (its generation is kept, store.putSettings).
    const written = await store.putSettings(userId, settings, { restart: !current?.enabled || current.intervalMs !== intervalMs, nowMs: deps.clock.now() }, stored);
    if (written === null) return false;
    await unlessKeyWithdrawn(ctx, userId, ref, held, written);
    await audited(ctx, userId, sentinelChanges(current, settings, { webhook: body.slackWebhookUrl, watching }));
    await announceSettingsChanged(deps, ctx, userId);
    return true;
  };

  router.put('/api/sentinel', documented({ summary: 'Turn Sentinel on or off, set its interval and Slack webhook', description: 'Fields left out keep their current value; `enabled` left out keeps the watch on or off as it is.', tag: 'sentinel', responses: { 200: SentinelView }, errors: ['render_key_missing', 'render_key_changed', 'sentinel_settings_changed'] }), requireUser(), requireCsrf(), validate({ body: SettingsBody }), changes, async (ctx) => {
    const userId = ctx.state.user.id;
    const ref = deps.sessions.refOf(ctx.state.sessionId);
    for (let attempt = 1; !(await saveOnce(ctx, ctx.input.body, userId, ref)); attempt += 1) {
      if (attempt >= SAVE_ATTEMPTS) throw errors.conflict('sentinel_settings_changed', 'Your Sentinel settings kept changing while this save was made (another tab or client is saving them); nothing was saved. Reload and save again.');
    }
    ctx.body = await view(userId, ref);
  });

  router.post('/api/sentinel/test-alert', documented({ summary: 'Send a test alert to a Slack webhook (given, or the saved one) and say whether Slack accepted it', tag: 'sentinel', responses: { 200: TestAlertView }, errors: ['slack_not_configured'] }), requireUser(), requireCsrf(), requireRenderKey(), validate({ body: TestAlertBody }), async (ctx, next) => {
    // A URL that is not a Slack webhook is refused before it counts against the limit.
    const given = ctx.input.body.slackWebhookUrl;
    // Absent is the saved one; a URL sent empty (or blank, trimmed) is checked like any other.
    const problem = given !== undefined ? checkSlackWebhook(given, alerts.hosts) : null;
    if (problem) throw errors.validation(`slackWebhookUrl: ${problem}`);
    await next();
  }, tests, async (ctx) => {
    const body = ctx.input.body;
    const userId = ctx.state.user.id;
    const saved = (await watchOf(userId, deps.sessions.refOf(ctx.state.sessionId), await store.getSettings(userId))).settings;
    const url = body.slackWebhookUrl ?? store.openSlackUrl(userId, saved?.slackSealed ?? null);
    if (!url) throw errors.slackNotConfigured();
    // Awaited (through the SSRF guard, 5 s at most): the page says whether Slack took it and, if not, why.
    const result = await alerts.test(url);
    ctx.body = (result.ok ? { delivered: true, reason: null } : { delivered: false, reason: result.reason }) satisfies z.infer<typeof TestAlertView>;
  });

  router.get('/api/sentinel/findings', documented({ summary: 'The caller\'s Sentinel findings, newest first', tag: 'sentinel', responses: { 200: FindingListView } }), requireUser(), validate({ query: FindingsQuery }), async (ctx) => {
    // "/api/sentinel/findings/" is an empty finding id, not the list.
    if (ctx.path.endsWith('/')) throw errors.notFound('Finding');
    const findings = await store.listFindings(ctx.state.user.id, ctx.input.query.limit, deps.clock.now());
    ctx.body = { findings: findings.map(presentFinding) } satisfies z.infer<typeof FindingListView>;
  });

  router.get('/api/sentinel/findings/:id', documented({ summary: 'One of the caller\'s findings', tag: 'sentinel', responses: { 200: FindingView } }), requireUser(), async (ctx) => {
    const id = ctx.params.id ?? '';
    const f = FINDING_ID.test(id) ? await store.getFinding(ctx.state.user.id, id, deps.clock.now()) : null;
    if (!f) throw errors.notFound('Finding');
    ctx.body = presentFinding(f);
  });
}
