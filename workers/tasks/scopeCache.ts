import { createHash } from 'node:crypto';

/**
 * A token's OAuth scopes (GET /user's X-OAuth-Scopes) remembered briefly in the worker process: each
 * status job asked GitHub again, a call per status for an answer that does not change within a deploy.
 * Keyed by a digest of the token, never the token, and only in memory; a failed look-up is not kept.
 * A scope taken away within the lifetime shows as a refused status post, logged like any other.
 */
export interface ScopeCache {
  scopesOf(token: string, fetch: () => Promise<string[] | null>): Promise<string[] | null>;
}

export function createScopeCache(opts: { ttlMs: number; now: () => number; maxEntries?: number }): ScopeCache {
  const entries = new Map<string, { scopes: string[] | null; until: number }>();
  const max = opts.maxEntries ?? 10_000;
  return {
    async scopesOf(token, fetch) {
      const id = createHash('sha256').update(token).digest('base64url');
      const hit = entries.get(id);
      if (hit && hit.until > opts.now()) return hit.scopes;
      const scopes = await fetch();
      if (entries.size >= max) {
        const now = opts.now();
        for (const [k, e] of entries) if (e.until <= now) entries.delete(k);
        // All still fresh: the oldest go (a Map iterates in insertion order).
        for (const k of entries.keys()) { if (entries.size < max) break; entries.delete(k); }
      }
      entries.set(id, { scopes, until: opts.now() + opts.ttlMs });
      return scopes;
    },
  };
}
