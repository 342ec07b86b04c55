import type { AppDeps } from '../deps.js';
import type { Logger } from '../logger.js';
import { errors } from '../errors.js';
import type { RenderOwner } from '../sessions/types.js';
import { RenderApiError } from './errors.js';

type KeyCheck = { ok: true; owners: RenderOwner[] } | { ok: false; reason: 'unauthorized' | 'forbidden' };

/**
 * Ask Render which workspaces a key can use (key setup, and a bearer request's X-Render-Api-Key).
 * A rejected key is a result (the caller records the attempt); Render being down or pacing us is a
 * typed error, and nothing is stored either way.
 */
export async function checkRenderKey(deps: Pick<AppDeps, 'upstream'>, apiKey: string, log?: Logger): Promise<KeyCheck> {
  try {
    const list = await deps.upstream.render(apiKey).listOwners();
    return { ok: true, owners: list.map((o) => ({ id: o.id, name: o.name, type: o.type === 'user' ? 'user' : 'team' })) };
  } catch (err) {
    if (!(err instanceof RenderApiError)) throw err;
    if (err.kind === 'unauthorized' || err.kind === 'forbidden') return { ok: false, reason: err.kind };
    if (err.kind === 'rate_limited') throw errors.renderRateLimited((err.retryAfterMs ?? 30_000) / 1000);
    log?.warn({ kind: err.kind, status: err.status ?? null }, 'Render unavailable during key check');
    throw errors.renderUnavailable();
  }
}
