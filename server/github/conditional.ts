/**
 * GitHub's conditional requests: a GET sent with the ETag of the last answer gets 304 Not Modified
 * when nothing changed, and a 304 does not count against the token's rate limit. Entries are per
 * token (a digest) and URL, since GitHub's answers vary by Authorization: one tenant's cached answer
 * can only ever be revalidated with, and returned to, the same token. Bounded by bytes and entries,
 * least recently used first out; answers bigger than MAX_ENTRY_BYTES are not kept.
 */
interface ConditionalEntry { etag: string; data: unknown; headers: Record<string, string> }

const MAX_ENTRIES = 2_000;
const MAX_BYTES = 16 * 1024 * 1024;
const MAX_ENTRY_BYTES = 64 * 1024;

export function createConditionalCache(limits = { maxEntries: MAX_ENTRIES, maxBytes: MAX_BYTES, maxEntryBytes: MAX_ENTRY_BYTES }) {
  const entries = new Map<string, ConditionalEntry & { bytes: number }>();
  let bytes = 0;

  function remove(key: string): void {
    const old = entries.get(key);
    if (!old) return;
    bytes -= old.bytes;
    entries.delete(key);
  }

  return {
    get(key: string): ConditionalEntry | undefined {
      const entry = entries.get(key);
      if (!entry) return undefined;
      entries.delete(key); // most recently used goes last
      entries.set(key, entry);
      return entry;
    },
    /** `bodyBytes`: the answer's length as received (what it costs to keep, roughly). */
    set(key: string, entry: ConditionalEntry, bodyBytes: number): void {
      remove(key);
      const size = key.length + entry.etag.length + bodyBytes;
      if (size > limits.maxEntryBytes) return;
      entries.set(key, { ...entry, bytes: size });
      bytes += size;
      for (const oldest of entries.keys()) {
        if (bytes <= limits.maxBytes && entries.size <= limits.maxEntries) break;
        remove(oldest);
      }
    },
    size: () => entries.size,
  };
}
