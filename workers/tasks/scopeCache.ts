import { createHash } from 'node:crypto';

/**
 * A token's OAuth scopes (X-OAuth-Scopes) remembered briefly in the worker process: each status job
 * asked GitHub again, a call per status for an answer that does not change within a deploy; the
 * deploy's own reads state them too (`remember`), so a deploy's statuses usually ask nothing.
 * Keyed by a digest of the token, never the token, and only in memory; a failed look-up is not kept.
 * A scope taken away within the lifetime shows as a refused status post, logged like any other.
 */
export interface ScopeCache {
  scopesOf(token: string, fetch: () => Promise<string[] | null>): Promise<string[] | null>;
  /**
   * Scopes an answer to another call stated (X-OAuth-Scopes comes with every authenticated answer):
   * the deploy's own GitHub reads, so its statuses need no GET /user of their own.
   */
  remember(token: string, scopes: string[] | null): void;
}

export function createScopeCache(opts: { ttlMs: number; now: () => number; maxEntries?: number }): ScopeCache {
  const entries = new Map<string, { scopes: string[] | null; until: number }>();
  const max = opts.maxEntries ?? 10_000;
  const idOf = (token: string) => createHash('sha256').update(token).digest('base64url');
  function set(id: string, scopes: string[] | null) {
    if (entries.size >= max) {
      const now = opts.now();
      for (const [k, e] of entries) if (e.until <= now) entries.delete(k);
      // All still fresh: the oldest go (a Map iterates in insertion order).
      for (const k of entries.keys()) { if (entries.size < max) break; entries.delete(k); }
    }
    entries.delete(id); // re-inserted last: the newest
    entries.set(id, { scopes, until: opts.now() + opts.ttlMs });
  }
  return {
    async scopesOf(token, fetch) {
      const id = idOf(token);
      const hit = entries.get(id);
      if (hit && hit.until > opts.now()) return hit.scopes;
      const scopes = await fetch();
      set(id, scopes);
      return scopes;
    },
    remember(token, scopes) {
      set(idOf(token), scopes);
    },
  };
}
