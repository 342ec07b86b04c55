import type { AppDeps } from '../deps.js';
import { errors } from '../errors.js';
import type { RenderKeyState } from '../middleware/context.js';
import { openRenderKey } from '../sessions/credentials.js';
import type { AppSession, SessionRenderCredentials } from '../sessions/types.js';
import type { RenderClient } from './client.js';
import { RenderKeyWithdrawn } from './errors.js';
import { auditedReadNotes } from '../sentinel/store.js';
import { keyStillHeld } from '../deployments/logTailKey.js';
import type { KeyConsent, Requester } from '../deployments/requests.js';

export interface CallerRender {
  client: RenderClient;
  /**
   * The same key and budget, with `check` asked before each call (it throws to stop the calls): for work
   * that may outlive this request's consent, such as a services list load others join (routes/services.ts).
   */
  clientWhile(check: () => Promise<void>): RenderClient;
  /**
   * `clientWhile` this request's own session still holds its key (same user, same key fingerprint), else
   * RenderKeyWithdrawn: for a request that may run for minutes, such as a log download (routes/deployments.ts).
   */
  clientWhileHeld(): RenderClient;
  keyFingerprint: string;
  ownerIds: string[];
  sessionRef: string;
  userId: number;
}

/**
 * The caller's own Render client: their key (opened from their session for this request only),
 * spending from the same per-key budget the workers use. A web request waits up to 2 s for budget
 * (`budgetWaitMs`: longer for a download that must read every page), then gets a 429 with Retry-After.
 */
export function callerRender(deps: AppDeps, caller: RenderKeyState, opts: { budgetWaitMs?: number } = {}): CallerRender {
  const { session: sess, user, render } = caller;
  const apiKey = openRenderKey(sess, deps.keyring);
  if (!apiKey) throw errors.renderKeyMissing();
  const fp = render.keyFingerprint;
  const clientWhile = (check?: () => Promise<void>) => {
    // Reads Render records in the audit log are noted first, so Sentinel does not report our own.
    // On Render's clock (its answers' Date), as Render stamps their audit entries: sentinel/store.ts.
    const notes = auditedReadNotes(deps.redis, deps.config.redisPrefix, user.id, deps.clock);
    return deps.upstream.render(apiKey, {
      beforeRequest: async (call) => {
        await check?.();
        await deps.budget.acquire(fp, call, opts.budgetWaitMs ?? 2_000);
        // Asked again after the budget wait (up to a minute for a download): consent may have ended in it.
        await check?.();
        await notes.before(call);
      },
      afterResponse: notes.after,
      keyFingerprint: fp,
    });
  };
  const sessionRef = deps.sessions.refOf(caller.sessionId);
  return {
    client: clientWhile(),
    clientWhile,
    clientWhileHeld: () => clientWhile(async () => {
      if (!(await keyStillHeld(deps, [sessionRef], user.id, fp))) throw new RenderKeyWithdrawn();
    }),
    keyFingerprint: fp,
    ownerIds: render.owners.map((o) => o.id),
    sessionRef,
    userId: user.id,
  };
}

/**
 * The caller's session now, for a request whose Render calls stopped on RenderKeyWithdrawn, answered as
 * one sent now would be: signed out (or another user signed in over it) → 401, key cleared →
 * render_key_missing. Else the session holds another key now, returned for the caller to retry with or refuse.
 */
export async function sessionAfterWithdrawal(deps: AppDeps, caller: Pick<CallerRender, 'sessionRef' | 'userId'>): Promise<AppSession & { render: SessionRenderCredentials }> {
  const now = await deps.sessions.loadByRef(caller.sessionRef);
  if (!now?.user || now.user.id !== caller.userId) throw errors.unauthenticated();
  if (!now.render) throw errors.renderKeyMissing();
  return now as AppSession & { render: SessionRenderCredentials };
}

/**
 * Render calls of a request that may wait or run long (a log download, a change waiting for its item's
 * turn): each goes out only while the request's session still holds its key. Withdrawn meanwhile, the
 * request is answered as one sent now would be (401, render_key_missing), or, the key replaced, a 503 to
 * try again with the new one, saying `keyChanged`.
 */
export async function whileKeyHeld<T>(deps: AppDeps, caller: CallerRender, use: (client: RenderClient) => Promise<T>, keyChanged: string): Promise<T> {
  try {
    return await use(caller.clientWhileHeld());
  } catch (err) {
    if (!(err instanceof RenderKeyWithdrawn)) throw err;
    return answerWithdrawn(deps, caller, keyChanged);
  }
}

/**
 * A request's Render client whose every call goes out only while the request's session still holds its
 * key: for routes that change or reveal something on Render (a service's lifecycle, settings, domains, a
 * value). A key withdrawn in another tab (sign-out, cleared, replaced) while one call was at Render stops
 * the calls after it: no delete, scale or reveal is made with a key the user took back. A check is a
 * session-cache read (no round trip on a hit). Answer the stop with `answerWithdrawn`.
 */
export function heldCallerRender(deps: AppDeps, caller: RenderKeyState): CallerRender {
  const render = callerRender(deps, caller);
  return { ...render, client: render.clientWhileHeld() };
}

/**
 * What a request stopped on RenderKeyWithdrawn answers: 401 or render_key_missing as one sent now; else
 * (the key replaced) a 503 saying `keyChanged`.
 */
export async function answerWithdrawn(
  deps: AppDeps, caller: Pick<CallerRender, 'sessionRef' | 'userId'>,
  keyChanged = 'Your Render key changed while this request was at Render: nothing more was sent with the old key. Check the service, then try again.',
): Promise<never> {
  await sessionAfterWithdrawal(deps, caller);
  throw errors.renderUnavailable(keyChanged);
}

/**
 * Whether the session `who` asked in still holds the key it asked with, read as a request sent now would
 * be: through the session cache (no round trip on a hit), whose sign-outs, cleared and replaced keys are
 * answered only once every process dropped its copy (sessions/fence.ts).
 */
export async function keyConsent(deps: Pick<AppDeps, 'sessions'>, who: Pick<CallerRender, 'sessionRef' | 'userId' | 'keyFingerprint'>): Promise<KeyConsent> {
  const now = await deps.sessions.loadByRef(who.sessionRef);
  if (!now?.user || now.user.id !== who.userId) return 'ended';
  if (!now.render) return 'cleared';
  return now.render.keyFingerprint === who.keyFingerprint ? 'held' : 'replaced';
}

/**
 * Who asks for a deploy, redeploy or rollback (deployments/requests.ts): the caller's session and key, and
 * whether that session still holds the key once the record is stored (a key withdrawn while the request
 * was at Render makes no deployment: requests.ts start). Answer its RenderKeyWithdrawn with `answerWithdrawn`.
 */
export function deployRequester(deps: Pick<AppDeps, 'sessions'>, who: Pick<CallerRender, 'sessionRef' | 'userId' | 'keyFingerprint'>): Requester {
  const { userId, sessionRef, keyFingerprint } = who;
  return { userId, sessionRef, keyFingerprint, consent: () => keyConsent(deps, { userId, sessionRef, keyFingerprint }) };
}
