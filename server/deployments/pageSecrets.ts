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
/** Services whose values one web process keeps at once. */
const DEFAULT_MAX_ENTRIES = 500;
/**
 * And their characters in all: one service's values may be megabytes (secret files of 48 KB, up to 2 MiB of
 * retired values), so the count alone could hold gigabytes. Past it, the oldest go first.
 */
const DEFAULT_MAX_CHARS = 16 * 1024 * 1024;

/** `chars`: counted once the values came (until then, and for a failed read, 0). */
interface Kept { at: number; gen: string; values: Promise<string[]>; chars: number }

export function createPageSecrets(deps: { clock: Clock; retired: RetiredSecretsDeps; ttlMs?: number; maxEntries?: number; maxChars?: number }): PageSecrets {
  const ttlMs = deps.ttlMs ?? DEFAULT_TTL_MS;
  const maxEntries = deps.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const maxChars = deps.maxChars ?? DEFAULT_MAX_CHARS;
  // In the order they were read (an entry read anew goes to the end): the expired ones are at the front.
  const kept = new Map<string, Kept>();
  let keptChars = 0;

  function drop(key: string, entry: Kept): void {
    if (kept.get(key) !== entry) return;
    kept.delete(key);
    keptChars -= entry.chars;
  }

  /** Expired values go (at every read, so none stays in memory long after its minute), and the oldest past the bounds. */
  function prune(now: number): void {
    for (const [key, entry] of kept) {
      if (kept.size <= maxEntries && keptChars <= maxChars && now - entry.at < ttlMs) break;
      drop(key, entry);
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
        prune(now);
        const hit = kept.get(key);
        if (!fresh && hit && hit.gen === gen && now - hit.at < ttlMs) return hit.values;
        const entry: Kept = { at: now, gen, values: serviceSecrets(client, service, deps.retired, deps.clock).then((s) => s.values), chars: 0 };
        if (hit) drop(key, hit);
        kept.set(key, entry);
        prune(now);
        entry.values.then((values) => {
          if (kept.get(key) !== entry) return;
          entry.chars = values.reduce((n, v) => n + v.length, 0);
          keptChars += entry.chars;
          prune(deps.clock.now());
        }, () => drop(key, entry)); // a failed read is not kept: the next page asks Render again
        return entry.values;
      };
    },
  };
}
