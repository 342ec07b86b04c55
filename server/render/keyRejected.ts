import type Koa from 'koa';
import type { AppDeps } from '../deps.js';
import type { Logger } from '../logger.js';
import { getSession } from '../sessions/middleware.js';
import { sessionIdOf } from '../middleware/context.js';
import { RenderApiError, refusedKeyOf } from './errors.js';

/** Render answered 401 to a call made with a key: revoked (or deleted) on Render's side. */
export const renderRefusedKey = (err: unknown): boolean => err instanceof RenderApiError && err.kind === 'unauthorized';

/**
 * Render refused the key of the session `ref` (`keyFingerprint`, the key the call was made with): the session
 * notes it (sessions/store.ts markKeyRejected), so GET /api/render/status (and /api/session) says so, and the
 * UI asks for a new key, instead of showing the key connected and verified while every call with it fails.
 * Only while the session still holds that key; the key itself stays (clearing it stops deploys and is the
 * user's to do; connecting a new one drops the mark). Never throws: the caller is answering the refusal.
 */
export async function noteKeyRejected(deps: { sessions: Pick<AppDeps['sessions'], 'markKeyRejected'>; logger: Logger }, ref: string, userId: number, keyFingerprint: string): Promise<void> {
  await deps.sessions.markKeyRejected(ref, userId, keyFingerprint).catch((err: unknown) => {
    deps.logger.warn({ err: { message: (err as Error).message } }, 'could not note that Render rejected the session\'s key');
  });
}

/**
 * A route's Render call with the request's own session key answered 401 (`render_key_invalid` to the caller;
 * `err`, as the app's credential-refusal layer caught it, server/app.ts): noted on that session before the answer leaves, so a status read sent after it says the key was rejected.
 * The key marked is the one the refused call was made with (server/render/forRequest.ts callerRender names it
 * on the error: refusedKeyOf), else the one the request's session held; a session whose key was replaced or
 * cleared meanwhile is not marked (the mark compares the fingerprint). A per-request key session (X-Render-Api-Key) ends with its request: nothing to note.
 */
export function noteRenderKeyRejection(deps: Pick<AppDeps, 'sessions' | 'logger'>): (ctx: Koa.Context, err: unknown) => Promise<void> {
  return async (ctx, err) => {
    if (!renderRefusedKey(err)) return;
    const sess = getSession(ctx);
    const sid = sessionIdOf(ctx);
    if (sess.user && sess.render && !sess.ephemeral && sid) {
      // The key the refused call was made with (a retry may have used the key connected since this request loaded its session).
      const refused = refusedKeyOf(err as RenderApiError) ?? sess.render.keyFingerprint;
      await noteKeyRejected({ sessions: deps.sessions, logger: ctx.state.log ?? deps.logger }, deps.sessions.refOf(sid), sess.user.id, refused);
    }
  };
}
