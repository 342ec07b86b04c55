import type { AppDeps } from '../deps.js';
import { errors } from '../errors.js';
import type { RenderKeyState } from '../middleware/context.js';
import { openRenderKey } from '../sessions/credentials.js';
import type { RenderClient } from './client.js';
import { auditedReadNotes } from '../sentinel/store.js';

export interface CallerRender {
  client: RenderClient;
  /**
   * The same key and budget, with `check` asked before each call (it throws to stop the calls): for work
   * that may outlive this request's consent, such as a services list load others join (routes/services.ts).
   */
  clientWhile(check: () => Promise<void>): RenderClient;
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
    const notes = auditedReadNotes(deps.redis, deps.config.redisPrefix, user.id, () => deps.clock.now());
    return deps.upstream.render(apiKey, {
      beforeRequest: async (call) => {
        await check?.();
        await deps.budget.acquire(fp, call, opts.budgetWaitMs ?? 2_000);
        await notes.before(call);
      },
      afterResponse: notes.after,
    });
  };
  return {
    client: clientWhile(),
    clientWhile,
    keyFingerprint: fp,
    ownerIds: render.owners.map((o) => o.id),
    sessionRef: deps.sessions.refOf(caller.sessionId),
    userId: user.id,
  };
}
