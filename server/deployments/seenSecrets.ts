import type { Clock } from '../clock.js';
import { isStale, keyedHash, open, seal } from '../crypto/keyring.js';
import { keysUnder } from '../redis.js';
import { redisScript } from '../redisScript.js';
import type { RenderClient } from '../render/client.js';
import { retireSecrets, RETIRED_TTL_SEC, runningDeploysOf, type RetiredSecretsDeps, type Retiring } from './retiredSecrets.js';

/**
 * Values changed outside this app (Render's Dashboard, its API, a Blueprint sync) are retired too. The
 * settings routes keep a value they replace (retiredSecrets.ts), but a value rotated on the Dashboard
 * was gone from every later read: the logs of deploys that ran with it printed it in clear.
 *
 * So every read of a service's values for redaction (serviceSecrets: log pages, the live tail, the
 * Sentinel watch) compares them with the last ones seen, kept sealed per service: a value no longer
 * there (changed or removed) goes to the retired list, like one replaced through the settings, and the
 * new values become the last seen. A value set and replaced again between two such reads was never
 * seen here and cannot be redacted (SECURITY.md).
 *
 * One hash per service: `mac`, a keyed hash of the values (an unchanged read compares it and writes
 * nothing but the TTL: one script call, sent beside the Render reads), and `sealed`, the values by item.
 * A reader replaces the view it compared its own with, and only that one (compare-and-set on `mac`,
 * read again and compared anew when another reader stored one meanwhile): a value leaves the stored view
 * only once it is retired. Which of two reads at once was the later one cannot be told from Render's
 * answers; the older view stored last costs the next read a few values retired twice, never one lost.
 */
export interface SeenItem { name: string; value: string }

const keyOf = (d: RetiredSecretsDeps, serviceId: string) => `${d.prefix}:secrets-seen:${serviceId}`;
const aadOf = (serviceId: string) => `secrets-seen:${serviceId}`;

/**
 * The hash's fields swapped only while `mac` is still ARGV[1] (or the hash is missing and ARGV[1] is '');
 * the TTL renewed to ARGV[4] seconds, or kept with 0 (a re-seal).
 */
const REPLACE_SEEN = redisScript(`
local mac = redis.call('HGET', KEYS[1], 'mac')
if (mac or '') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'mac', ARGV[2], 'sealed', ARGV[3])
if ARGV[4] ~= '0' then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
return 1`);

const macOf = (d: RetiredSecretsDeps, serviceId: string, view: string) => keyedHash(`${aadOf(serviceId)}\n${view}`, d.keyring.current);

/** `mac`, with the TTL renewed: a view is kept 30 days after its last read, not its last change. */
const READ_SEEN_MAC = redisScript(`
local mac = redis.call('HGET', KEYS[1], 'mac')
if mac then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return mac`);

/** The last-seen view's keyed hash, read beside Render's reads: `noteSeenSecrets` ends at once when the values are those. */
export async function seenMac(d: RetiredSecretsDeps, serviceId: string): Promise<string> {
  return ((await READ_SEEN_MAC(d.redis, [keyOf(d, serviceId)], [RETIRED_TTL_SEC])) as string | null) ?? '';
}

/**
 * `items` (every value read now, by item name) against the view last seen (unchanged when its hash is
 * `storedMac`, from `seenMac`): what it held and `items` do not is retired, then `items` stored as the
 * view. Returns the Render calls it made (the running deploys read by retireSecrets past its cap).
 */
export async function noteSeenSecrets(d: RetiredSecretsDeps, clock: Clock, client: RenderClient, serviceId: string, items: SeenItem[], storedMac: string): Promise<number> {
  const sorted = items.filter((i) => i.value !== '').sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.value < b.value ? -1 : 1));
  const view = JSON.stringify(sorted.map((i) => [i.name, i.value]));
  const mac = macOf(d, serviceId, view);
  // Unchanged. Otherwise stored anew, also with nothing gone: an item added, or the same values under a
  // hash and seal of another SECRET_KEY (a rotation), stored under the current one.
  if (mac === storedMac) return 0;
  const key = keyOf(d, serviceId);
  const now = new Set(sorted.map((i) => i.value));
  const running = runningDeploysOf(client, clock, serviceId);
  let calls = 0;
  // Each failed compare-and-set is another reader's view stored meanwhile: its values are retired in turn.
  for (let attempt = 1; ; attempt++) {
    const [storedNow = null, stored = null] = await d.redis.hmget(key, 'mac', 'sealed');
    if (storedNow === mac) return calls;
    const before = stored === null ? [] : openView(stored, serviceId, d);
    const gone: Retiring[] = before.filter(([, value]) => !now.has(value)).map(([name, value]) => ({ name, value }));
    if (gone.length) await retireSecrets(d, serviceId, gone, clock.now(), () => { calls += 1; return running(); });
    const replaced = await REPLACE_SEEN(d.redis, [key], [storedNow ?? '', mac, seal(view, aadOf(serviceId), d.keyring), RETIRED_TTL_SEC]);
    if (Number(replaced) === 1 || attempt === MAX_ATTEMPTS) return calls;
  }
}

/** Readers of one service at once are few (a panel, a tail, the watch); this only bounds a pathological pile-up. */
const MAX_ATTEMPTS = 20;

/**
 * During a SECRET_KEY rotation (workers/rotationSweep.ts): each view still sealed with the previous key is
 * sealed, and its hash taken, with the current one. A service read meanwhile is stored anew by that read;
 * one not read for the rotation's length would otherwise open as no view, and a value changed outside the
 * app before its next read be lost. Returns how many were re-sealed.
 */
export async function resealSeenSecrets(d: RetiredSecretsDeps): Promise<number> {
  if (!d.keyring.previous) return 0;
  const prefix = `${d.prefix}:secrets-seen:`;
  let resealed = 0;
  for await (const key of keysUnder(d.redis, prefix)) {
    const serviceId = key.slice(prefix.length);
    const [mac = null, sealed = null] = await d.redis.hmget(key, 'mac', 'sealed');
    if (mac === null || sealed === null || !isStale(sealed, d.keyring)) continue;
    let view: string;
    try { view = open(sealed, aadOf(serviceId), d.keyring); } catch { continue; } // under neither key: nothing to save
    resealed += Number(await REPLACE_SEEN(d.redis, [key], [mac, macOf(d, serviceId, view), seal(view, aadOf(serviceId), d.keyring), 0]));
  }
  return resealed;
}

/** The stored view; empty when it cannot be opened (sealed under a SECRET_KEY no longer held, or altered). */
function openView(sealed: string, serviceId: string, d: RetiredSecretsDeps): Array<[string, string]> {
  try {
    const parsed: unknown = JSON.parse(open(sealed, aadOf(serviceId), d.keyring));
    return Array.isArray(parsed) ? parsed.filter((p): p is [string, string] => Array.isArray(p) && typeof p[0] === 'string' && typeof p[1] === 'string') : [];
  } catch {
    return [];
  }
}
