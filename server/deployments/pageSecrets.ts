import type { Clock } from '../clock.js';
import type { RenderClient } from '../render/client.js';
import { serviceSecrets, type SecretsSource } from './logs.js';
import { secretsGeneration, type RetiredSecretsDeps } from './retiredSecrets.js';

/**
 * The values log pages are redacted with, kept for the pages that follow a newest one. A panel's catch-up
 * reads up to 21 pages in a row, and "Load earlier lines" more; reading the values anew for each page
 * spent 3 of the key's Render reads (and one per linked env group) on top of the page's own two.
 *
 * - A newest page (no cursor: a panel opening, polling, or starting a catch-up) and a download read them
 *   from Render, as before, and keep what they read.
 * - A page with a cursor reuses what that user's last read of that service with that key found: for a
 *   minute at most, and only while the service's secrets generation is unchanged. Every change through
 *   the settings bumps it (in Redis, so a change made through another web process counts too).
 * - A value changed outside the app is taken in by the next newest page, or after the minute; the live
 *   tail keeps its values for five (server/deployments/logTail.ts).
 */
export interface PageSecrets {
  /** The values for a read by `reader`: `fresh` reads them from Render; otherwise values kept may serve. */
  source(reader: { userId: number; keyFingerprint: string }, fresh: boolean): SecretsSource;
}

const DEFAULT_TTL_MS = 60_000;
/** Services whose values one web process keeps at once (each list is what a page read would hold anyway). */
const DEFAULT_MAX_ENTRIES = 500;

interface Kept { at: number; gen: string; values: Promise<string[]> }

export function createPageSecrets(deps: { clock: Clock; retired: RetiredSecretsDeps; ttlMs?: number; maxEntries?: number }): PageSecrets {
  const ttlMs = deps.ttlMs ?? DEFAULT_TTL_MS;
  const maxEntries = deps.maxEntries ?? DEFAULT_MAX_ENTRIES;
  // In the order they were read (an entry read anew goes to the end): the expired ones are at the front.
  const kept = new Map<string, Kept>();

  function prune(now: number): void {
    for (const [key, entry] of kept) {
      if (kept.size <= maxEntries && now - entry.at < ttlMs) break;
      kept.delete(key);
    }
  }

  return {
    source(reader, fresh) {
      return async (client: RenderClient, service: { ownerId: string; serviceId: string }) => {
        const key = `${reader.userId}\n${reader.keyFingerprint}\n${service.ownerId}\n${service.serviceId}`;
        // Read before the values: a settings change bumps it once Render holds the new value, so values
        // read before a change are never kept under the generation that follows it.
        const gen = await secretsGeneration(deps.retired, service.serviceId);
        const now = deps.clock.now();
        const hit = kept.get(key);
        if (!fresh && hit && hit.gen === gen && now - hit.at < ttlMs) return hit.values;
        const entry: Kept = { at: now, gen, values: serviceSecrets(client, service, deps.retired).then((s) => s.values) };
        kept.delete(key);
        kept.set(key, entry);
        prune(now);
        // A failed read is not kept: the next page asks Render again.
        entry.values.catch(() => { if (kept.get(key) === entry) kept.delete(key); });
        return entry.values;
      };
    },
  };
}
