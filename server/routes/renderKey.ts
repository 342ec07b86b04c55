import type Router from '@koa/router';
import type Koa from 'koa';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { errors } from '../errors.js';
import { sealRenderCredentials } from '../sessions/credentials.js';
import { requireCsrf } from '../middleware/security.js';
import { requireLastingSession, requireRenderKey, requireUser } from '../middleware/context.js';
import { takesNoBody, validate } from '../middleware/validate.js';
import { presentRenderStatus, RenderStatusView } from '../presenters/session.js';
import { checkRenderKeyUnderLockout, ownersFrom } from '../render/verifyKey.js';
import { heldCallerRender } from '../render/forRequest.js';
import type { RenderOwner, SessionRenderCredentials } from '../sessions/types.js';
import { documented } from '../openapi/describe.js';
import { previousFingerprint } from '../crypto/keyring.js';
import { requestDetail } from '../audit/fromRequest.js';
import { createSentinelStore } from '../sentinel/store.js';
import { switchWatchOff } from '../sentinel/switchOff.js';

// Messages are shown under the key field as written (one at a time), so each says what is wrong with
// what was pasted: "keys start with rnd_" only for a key that does not.
const RENDER_KEY_SHAPE = /^rnd_[A-Za-z0-9_-]{8,}$/;
/** A Render API key as pasted (setup body, or the X-Render-Api-Key header of a bearer request). */
export const RenderApiKey = z.string({ error: (issue) => (issue.input === undefined ? 'Paste your Render API key first.' : 'Paste your Render API key as text.') }).trim().superRefine((key, ctx) => {
  const problem = !key ? 'Paste your Render API key first.'
    : key.length > 200 ? 'That is too long to be a Render API key. Paste only the key.'
    // A key with something around it (quotes from a .env file, a "Bearer " prefix, a variable's name, an invisible
    // character a web page carried) does start with rnd_: told that keys do, its owner had nothing to fix.
    : !key.startsWith('rnd_') && key.includes('rnd_') ? 'Paste only the key, from rnd_ to its end: there is more around it (quotes, a "Bearer" prefix, a variable name or an invisible character).'
    : !key.startsWith('rnd_') ? 'That does not look like a Render API key: Render keys start with rnd_ (Render Dashboard → Account Settings → API Keys).'
    : !RENDER_KEY_SHAPE.test(key) ? 'This key is incomplete or has characters a Render key does not have (spaces, quotes). Copy it again from Render.'
    : null;
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const SetupBody = z.object({
  api_key: RenderApiKey,
  _csrf: z.string().optional(),
}).strict();

/**
 * The Render key vault: verify against Render, then keep it sealed in the session and nowhere else.
 * Invalid keys count towards a lock-out (server/security/lockout.ts): a locked key is not even sent to Render.
 */
export function renderKeyRoutes(router: Router, deps: AppDeps) {
  const { keyring, clock } = deps;

  router.post('/api/render/setup', documented({
    summary: 'Connect a Render API key to this session (checked with Render, kept sealed in the session only)', tag: 'render-key',
    responses: { 200: RenderStatusView }, errors: ['render_key_changed'],
  }), requireUser(), requireLastingSession(), requireCsrf(), deps.rateLimits.guard('keySetup'), deps.rateLimits.guard('keySetupPerUser'), validate({ body: SetupBody }, { messages: 'as-written' }), async (ctx) => {
    const { user } = ctx.state;
    const apiKey = ctx.input.body.api_key;
    // Verified as of when Render was asked: a refusal of this key noted after that stands (scripts.ts STORE_CREDENTIALS).
    const askedAt = clock.now();
    const owners = await checkRenderKeyUnderLockout(deps, ctx, user, apiKey, 'This Render API key has no workspaces it can use.');
    // One field update: a request that loaded the session earlier cannot revert it, and a session
    // that ended while Render was being asked is not brought back (401, nothing stored).
    const render = sealRenderCredentials(user.id, apiKey, owners, askedAt, keyring);
    // After a SECRET_KEY rotation the session may hold this same key under its previous fingerprint.
    const prior = previousFingerprint(apiKey, keyring);
    // Only over the key this request found: a clear or another key confirmed in another tab meanwhile stands.
    const outcome = await deps.sessionEnding.setKey(deps.sessions.refOf(ctx.state.sessionId), user.id, render, ctx.state.session.render?.keyFingerprint ?? null, prior);
    if (outcome === 'ended') throw errors.unauthenticated();
    if (outcome === 'changed') throw errors.conflict('render_key_changed', 'Your Render key was cleared or replaced in another tab while this one was being checked, so it was not saved. Reload the page, then connect the key again if you still want it.');
    await deps.security.recordAudit(ctx, { userId: user.id, action: 'render_key_set', outcome: 'success' });
    ctx.body = await storedStatus(ctx.state.sessionId, render);
  });

  router.get('/api/render/status', documented({ summary: 'Whether a Render key is connected (and whether Render has refused it since: rejectedAt), and its workspaces', tag: 'render-key', responses: { 200: RenderStatusView } }), requireUser(), (ctx) => {
    ctx.body = presentRenderStatus(ctx.state.session);
  });

  /**
   * The workspaces a session offers are Render's answer when its key was connected: a team joined on Render
   * since was not offered, one left still was (a deploy there failed with Render's "invalid ownerId"), a
   * renamed one kept its old name. The deploy form and Settings ask this as they open: one `GET /owners` with
   * the session's key, and the list kept only when it changed (one field update, as at key setup, only over
   * the same key: a key cleared or replaced meanwhile in another tab stands, 409). Render's 401 here is the
   * key's refusal like any other (keyRejected.ts).
   */
  router.post('/api/render/workspaces/refresh', documented({
    summary: 'Ask Render again which workspaces the connected key can use, and keep that list', tag: 'render-key',
    description: 'The workspaces a session offers are those Render listed when its key was connected; this reads them from Render again '
      + '(a team joined, left or renamed since) and keeps them. Nothing is written when they are unchanged, unless the key was marked '
      + 'refused (rejectedAt): Render accepting it now drops the mark.',
    responses: { 200: RenderStatusView }, errors: ['render_key_changed'],
  }), requireUser(), requireLastingSession(), requireCsrf(), requireRenderKey(), deps.rateLimits.guard('serviceLookups'), takesNoBody(), async (ctx) => {
    const held = ctx.state.render;
    const askedAt = clock.now();
    const owners = ownersFrom(await heldCallerRender(deps, ctx.state).client.listOwners());
    // None left (removed from every workspace the key had): kept as it was, as key setup refuses such a key.
    if (!owners.length) throw errors.renderKeyInvalid('Render lists no workspace this key can use now, so the list was kept as it was. Connect a key of a workspace you belong to.');
    // Render answered with the key: a refusal mark older than this ask is dropped (below) whether or not the list changed.
    if (sameOwners(owners, held.owners) && held.rejectedAt === undefined) { ctx.body = presentRenderStatus(ctx.state.session); return; }
    const { rejectedAt: _dropped, ...kept } = held;
    // verifiedAt stays the key's own (when it was connected): a tab tells a key replaced from its workspaces
    // refreshed by it (web/assets/app.js followSession). A refusal of the key noted after Render was asked
    // here (revoked meanwhile) stays (STORE_CREDENTIALS).
    const render: SessionRenderCredentials = { ...kept, owners };
    const outcome = await deps.sessionEnding.setKey(deps.sessions.refOf(ctx.state.sessionId), ctx.state.user.id, render, held.keyFingerprint, null, askedAt);
    if (outcome === 'ended') throw errors.unauthenticated();
    if (outcome === 'changed') throw errors.conflict('render_key_changed', 'Your Render key was cleared or replaced in another tab while its workspaces were being read, so the list was not changed. Reload the page.');
    ctx.body = await storedStatus(ctx.state.sessionId, render);
  });

  router.post('/api/render/clear-credentials', documented({ summary: 'Forget the Render key (stops this session\'s unfinished deploys)', tag: 'render-key', responses: { 200: RenderStatusView } }), requireUser(), requireLastingSession(), requireCsrf(), deps.rateLimits.guard('keyClear'), takesNoBody(), async (ctx) => {
    const userId = ctx.state.user.id;
    const ref = deps.sessions.refOf(ctx.state.sessionId);
    // One field update (a stale whole-record write cannot bring the key back); deploys stop, streams close.
    // Clearing a key that is not set changes nothing, so it records nothing (no audit entry, no revocation).
    if (await deps.sessionEnding.clearKey(ref, userId, { detail: requestDetail(ctx) })) await endWatchOfSession(ctx, userId, ref);
    ctx.body = presentRenderStatus({});
  });

  /**
   * The key status once `render` was stored: as the session has it now, which may also say that Render refused
   * the key since it was asked (a refusal noted meanwhile stays: STORE_CREDENTIALS); `render` itself if the
   * session cannot be read back.
   */
  async function storedStatus(sessionId: string, render: SessionRenderCredentials) {
    const now = await deps.sessions.loadByRef(deps.sessions.refOf(sessionId)).catch(() => undefined);
    return presentRenderStatus(now?.render?.keyFingerprint === render.keyFingerprint ? now : { render });
  }

  const sentinel = createSentinelStore({ redis: deps.redis, prefix: deps.config.redisPrefix, keyring: deps.keyring, absoluteMs: deps.config.sessionAbsoluteMs });
  /**
   * "Clearing the key ends the watch": a Sentinel watch this session turned on is switched off now, as the
   * Sentinel page's off does (switchOff.ts). Left to the next round, it read as off until then but came
   * back on, with its webhook, when a key was connected again first. Replacing the key does not end it
   * (README, Sentinel).
   */
  async function endWatchOfSession(ctx: Koa.Context, userId: number, ref: string): Promise<void> {
    const settings = await sentinel.getSettings(userId);
    if (settings?.enabled && (await deps.sessions.refsOf(ref)).includes(settings.sessionRef)) await switchWatchOff(deps, ctx, sentinel, userId, true);
  }
}

/** The same workspaces, names and kinds, in the same order (Render's). */
function sameOwners(a: RenderOwner[], b: RenderOwner[]): boolean {
  return a.length === b.length && a.every((o, i) => o.id === b[i]!.id && o.name === b[i]!.name && o.type === b[i]!.type);
}
