import type Koa from 'koa';
import type { AppDeps } from '../deps.js';
import { fingerprint } from '../crypto/keyring.js';
import type { Logger } from '../logger.js';
import { errors } from '../errors.js';
import type { RenderOwner } from '../sessions/types.js';
import { RenderApiError } from './errors.js';

type KeyCheck = { ok: true; owners: RenderOwner[] } | { ok: false; reason: 'unauthorized' | 'forbidden' };

/**
 * Ask Render which workspaces a key can use (key setup, and a bearer request's X-Render-Api-Key).
 * A rejected key is a result (the caller records the attempt); Render being down or pacing us is a
 * typed error, and nothing is stored either way. The check is a Render GET like any other, so it spends
 * from the key's budget (server/render/budget.ts; waits up to 2 s, then BudgetExhausted, a 429 saying
 * the app held it back): outside it, a CI script's two or three checks a run went on after the budget's
 * reads and took the key past Render's own limit.
 */
export async function checkRenderKey(deps: Pick<AppDeps, 'upstream' | 'budget' | 'keyring'>, apiKey: string, log?: Logger): Promise<KeyCheck> {
  const keyFingerprint = fingerprint(apiKey, deps.keyring);
  try {
    const list = await deps.upstream.render(apiKey, { beforeRequest: (call) => deps.budget.acquire(keyFingerprint, call) }).listOwners();
    return { ok: true, owners: ownersFrom(list) };
  } catch (err) {
    if (!(err instanceof RenderApiError)) throw err;
    if (err.kind === 'unauthorized' || err.kind === 'forbidden') return { ok: false, reason: err.kind };
    if (err.kind === 'rate_limited') throw errors.renderRateLimited((err.retryAfterMs ?? 30_000) / 1000);
    log?.warn({ kind: err.kind, status: err.status ?? null }, 'Render unavailable during key check');
    throw errors.renderUnavailable();
  }
}

/** The workspaces of Render's `GET /owners` answer as a session keeps them. */
export function ownersFrom(list: Array<{ id: string; name: string; type?: string }>): RenderOwner[] {
  return list.map((o) => ({ id: o.id, name: o.name, type: o.type === 'user' ? 'user' : 'team' }));
}

/**
 * A key checked with Render under the invalid-key lock-out (key setup and X-Render-Api-Key alike):
 * a try is claimed first (429 locked_out past the allowance), given back when Render could not judge
 * the key or it has no workspaces (400 with `noWorkspaces`), counted when Render rejected it (400, or
 * the lock it started), and the count cleared when Render accepted it. Returns its workspaces (never none).
 */
export async function checkRenderKeyUnderLockout(
  deps: Pick<AppDeps, 'upstream' | 'budget' | 'security' | 'keyring'>, ctx: Koa.Context, user: { id: number; login?: string }, apiKey: string, noWorkspaces: string,
  /** Before Render is asked about a key it has not accepted lately (a claimed try): a further limit, whose refusal gives the try back. */
  beforeClaimedCheck?: () => Promise<void>,
): Promise<RenderOwner[]> {
  const keyAttempt = { userId: user.id, login: user.login, keyFingerprint: fingerprint(apiKey, deps.keyring) };
  const attempt = { ...keyAttempt, ...(await deps.security.checkKeyLock(keyAttempt)) };
  if (attempt.claimed && beforeClaimedCheck) {
    try {
      await beforeClaimedCheck();
    } catch (err) {
      await deps.security.keyUnjudged(attempt);
      throw err;
    }
  }
  const checked = await checkRenderKey(deps, apiKey, ctx.state.log).catch(async (err: unknown) => { await deps.security.keyUnjudged(attempt); throw err; });
  if (!checked.ok) throw await deps.security.keyRejected(ctx, attempt, checked.reason);
  if (checked.owners.length === 0) {
    await deps.security.keyUnjudged(attempt);
    throw errors.renderKeyInvalid(noWorkspaces);
  }
  // Accepted (also when the caller's session ended meanwhile): the try it claimed is not an invalid one.
  await deps.security.keyAccepted(attempt);
  return checked.owners;
}
