import type { Clock } from '../clock.js';
import { keyedHash, open, seal } from '../crypto/keyring.js';
import { keysUnder } from '../redis.js';
import { redisScript } from '../redisScript.js';
import type { RenderClient } from '../render/client.js';
import { RenderApiError } from '../render/errors.js';
import { MAX_RETIRED, retireSecrets, RETIRED_TTL_SEC, runningDeploysOf, setGuarded, type RetireGuard, type RetiredSecretsDeps, type Retiring } from './retiredSecrets.js';

/**
 * Values changed outside this app (Render's Dashboard, its API, a Blueprint sync, a group unlinked) are
 * retired too. The settings routes keep a value they replace (retiredSecrets.ts), but a value rotated on
 * the Dashboard was gone from every later read: the logs of deploys that ran with it printed it in clear.
 *
 * So every read of a service's values for redaction (serviceSecrets: log pages, downloads, the live tail,
 * the Sentinel watch) compares them with the last ones seen, kept sealed per service: a value no longer
 * there goes to the retired list, marked as found by a read (its change may be older than its time), and
 * the new values become the last seen. A value set and replaced again between two reads was never seen
 * and cannot be redacted; nor can one left out of a view past MAX_VIEW_CHARS (SECURITY.md).
 *
 * One hash per service: `mac`, a keyed hash of the values (an unchanged read compares it and writes only
 * its TTL: one script call, sent beside the Render reads), `kid`, the key `sealed` is sealed with, and
 * `sealed`, the values by item. A reader replaces the view it compared its own with, and only that one,
 * in the same script that keeps the values gone (retireSecrets' guard): of readers that found the same
 * values gone, one keeps them. One that finds another's view stored meanwhile compares anew. Which of two
 * reads at once was the later cannot be told from Render's answers; the older view stored last costs the
 * next read a few values kept twice, never one lost.
 */
export interface SeenItem { name: string; value: string }

const keyOf = (d: RetiredSecretsDeps, serviceId: string) => `${d.prefix}:secrets-seen:${serviceId}`;
const aadOf = (serviceId: string) => `secrets-seen:${serviceId}`;

/**
 * The view's characters at most (its JSON; sealed, about 4/3 of it): past it the largest values are left
 * out first. Secret files may hold 48 KB each, and a service may link many env groups; the retired list
 * beside it keeps 1 MiB.
 */
const MAX_VIEW_CHARS = 512 * 1024;
/** Readers of one service at once are few (a panel, a tail, the watch); this bounds a pile-up, after which a reader keeps its own values. */
const MAX_ATTEMPTS = 20;

/** Hashed under the current SECRET_KEY; `unchanged` also takes one under the previous key. */
const macOf = (d: RetiredSecretsDeps, serviceId: string, view: string) => keyedHash(`${aadOf(serviceId)}\n${view}`, d.keyring.current);

/**
 * Whether the stored hash is the one of `view`, under either key: while a rotation rolls out, instances
 * with the keys in either order (SECURITY.md, "Rotating SECRET_KEY") agree on an unchanged view, rather
 * than each rewriting it on every read.
 */
function unchanged(d: RetiredSecretsDeps, serviceId: string, view: string, mac: string, stored: string | null): boolean {
  if (stored === mac) return true;
  return d.keyring.previous !== null && stored === keyedHash(`${aadOf(serviceId)}\n${view}`, d.keyring.previous);
}

const byNameThenValue = (a: SeenItem, b: SeenItem) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0);
const viewJson = (items: SeenItem[]) => JSON.stringify(items.map((i) => [i.name, i.value]));

/** The items a view keeps: every one, the largest values left out first past MAX_VIEW_CHARS of its JSON (`json`). */
function bounded(sorted: SeenItem[], json = viewJson(sorted)): SeenItem[] {
  if (json.length <= MAX_VIEW_CHARS) return sorted;
  const largestFirst = [...sorted].sort((a, b) => b.value.length - a.value.length);
  let chars = json.length;
  const left = new Set<SeenItem>();
  for (const item of largestFirst) {
    if (chars <= MAX_VIEW_CHARS) break;
    left.add(item);
    chars -= JSON.stringify([item.name, item.value]).length + 1;
  }
  return sorted.filter((i) => !left.has(i));
}

/**
 * What the hash stores for the view of `sorted` (whose JSON is `json`): its keyed hash, over every value,
 * and the view itself within its bound, sealed under the current key.
 */
function viewFields(d: RetiredSecretsDeps, serviceId: string, sorted: SeenItem[], json = viewJson(sorted), mac = macOf(d, serviceId, json)) {
  const kept = bounded(sorted, json);
  return { mac, kid: d.keyring.current.kid, sealed: seal(kept === sorted ? json : viewJson(kept), aadOf(serviceId), d.keyring) };
}

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
 * `storedMac`, from `seenMac`): what it held and `items` do not is retired, and `items` stored as the
 * view. Returns the Render calls it made (the running deploys' read, past the retired list's cap). A stop
 * the client raised there (a spent budget, a key withdrawn) is thrown once the values are kept.
 */
export async function noteSeenSecrets(d: RetiredSecretsDeps, clock: Clock, client: RenderClient, serviceId: string, items: SeenItem[], storedMac: string): Promise<number> {
  const sorted = items.filter((i) => i.value !== '').sort(byNameThenValue);
  const all = viewJson(sorted);
  const mac = macOf(d, serviceId, all);
  // Unchanged. Otherwise stored anew, also with nothing gone: an item added, or a view hashed under a
  // SECRET_KEY this process no longer holds.
  if (unchanged(d, serviceId, all, mac, storedMac)) return 0;
  const key = keyOf(d, serviceId);
  const current = new Set(sorted.map((i) => i.value));
  const fields = viewFields(d, serviceId, sorted, all, mac);

  let calls = 0;
  const stopped: { err?: Error } = {};
  const readRunning = runningDeploysOf(client, clock, serviceId);
  const running = async () => {
    try {
      const answer = await readRunning();
      calls += 1;
      return answer;
    } catch (err) {
      // Render's refusal or no answer: a call made, and the list is trimmed later. Anything else is a stop.
      if (err instanceof RenderApiError) calls += 1; else stopped.err = err instanceof Error ? err : new Error(String(err));
      throw err;
    }
  };
  let lastSeen: Array<[string, string]> = [];
  let stored = false;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS && !stored; attempt++) {
    const [macNow = null, sealedNow = null] = await d.redis.hmget(key, 'mac', 'sealed');
    if (unchanged(d, serviceId, all, mac, macNow)) { stored = true; break; }
    lastSeen = openView(sealedNow, serviceId, d) ?? [];
    const gone: Retiring[] = lastSeen.filter(([, value]) => !current.has(value)).map(([name, value]) => ({ name, value }));
    const guard: RetireGuard = { key, expected: macNow ?? '', fields };
    stored = await retireSecrets(d, serviceId, gone, clock.now(), running, { guard, outside: true });
  }
  if (!stored) {
    // Others kept storing their views: this read's own values not in the last view it saw are kept as
    // retired, so none of them is lost (a current value kept too is only redacted a while longer), within
    // a view's bound (more at once would push every older entry out of the retired list).
    const inView = new Set(lastSeen.map(([, value]) => value));
    await retireSecrets(d, serviceId, bounded(sorted.filter((i) => !inView.has(i.value))).slice(0, MAX_RETIRED), clock.now(), running, { outside: true });
  }
  if (stopped.err) throw stopped.err;
  return calls;
}

/**
 * In a settings change's turn, before it retires `replaced` (the item's value on Render now): the view's
 * other values of the item, changed on the Dashboard since the last read, are retired first, as found
 * gone, so the retired list has the item's values in the order they were replaced (the cap's order reads
 * it so: `dropOrder`). Returns them, for `noteSettingsChange` to drop from the view.
 */
export async function retireSeenOthers(d: RetiredSecretsDeps, clock: Clock, client: RenderClient, serviceId: string, name: string, replaced: string | null): Promise<string[]> {
  const sealed = await d.redis.hget(keyOf(d, serviceId), 'sealed');
  const others = (openView(sealed, serviceId, d) ?? []).filter(([n, v]) => n === name && v !== replaced);
  if (!others.length) return [];
  await retireSecrets(d, serviceId, others.map(([n, v]) => ({ name: n, value: v })), clock.now(), runningDeploysOf(client, clock, serviceId), { outside: true });
  return others.map(([, v]) => v);
}

/**
 * After a change through the settings that Render took, of `name` to `value` (null: removed), having
 * retired `dropped` (the value replaced, and what `retireSeenOthers` found): the stored view drops those
 * and gets `value`, so the next read neither finds them gone and keeps them twice, nor misses `value` if
 * it is changed on the Dashboard before then. Any other value the view holds for the item (stored by a
 * read meanwhile) stays, for the next read to find gone. Without a view, one of this item alone is stored:
 * what a view does not hold is never taken for gone. (A read that began before that view, and compares
 * with it, may keep `value` as gone while it is current, and store its older view: nothing is lost, a
 * current value is only redacted as retired too.)
 */
export async function noteSettingsChange(d: RetiredSecretsDeps, serviceId: string, name: string, dropped: Array<string | null>, value: string | null): Promise<void> {
  const key = keyOf(d, serviceId);
  // A few tries: a log read, or another item's change, may store a view between the read and the write.
  for (let attempt = 1; attempt <= 5; attempt++) {
    const [mac = null, sealed = null] = await d.redis.hmget(key, 'mac', 'sealed');
    const before = sealed === null ? [] : openView(sealed, serviceId, d);
    if (!before) return; // sealed under a key this process lacks, or altered: left to the next read
    const items = before.filter(([n, v]) => n !== name || !dropped.includes(v)).map(([n, v]) => ({ name: n, value: v }));
    if (value) items.push({ name, value });
    items.sort(byNameThenValue);
    if (await setGuarded(d, serviceId, { key, expected: mac ?? '', fields: viewFields(d, serviceId, items) })) return;
  }
}

/**
 * A service this app just created with env vars (workers/tasks/createService.ts): its view starts with them,
 * so one changed on the Dashboard before any log read is retired by the next. Only while the service has
 * no view (one script call, sent with the creation's other writes).
 */
export async function seedSeenSecrets(d: RetiredSecretsDeps, serviceId: string, items: SeenItem[]): Promise<void> {
  const sorted = items.filter((i) => i.value !== '').sort(byNameThenValue);
  if (!sorted.length) return;
  await setGuarded(d, serviceId, { key: keyOf(d, serviceId), expected: '', fields: viewFields(d, serviceId, sorted) });
}

/**
 * During a SECRET_KEY rotation (workers/rotationSweep.ts): each view still sealed with the previous key is
 * sealed with the current one (its hash stays: `unchanged` takes it under either key). A
 * service read meanwhile is stored anew by that read; one not read for the rotation's length would
 * otherwise open as no view, and a value changed outside the app before its next read be lost. Returns
 * how many were re-sealed.
 */
export async function resealSeenSecrets(d: RetiredSecretsDeps): Promise<number> {
  if (!d.keyring.previous) return 0;
  const prefix = `${d.prefix}:secrets-seen:`;
  let resealed = 0;
  for await (const key of keysUnder(d.redis, prefix)) {
    const serviceId = key.slice(prefix.length);
    // One read of all three: a hash and a view read apart could belong to two different writes.
    const [kid = null, mac = null, sealed = null] = await d.redis.hmget(key, 'kid', 'mac', 'sealed');
    if (mac === null || kid === d.keyring.current.kid) continue;
    let view: string;
    try { view = open(sealed ?? '', aadOf(serviceId), d.keyring); } catch { continue; } // under neither key: nothing to save
    const fields = { mac, kid: d.keyring.current.kid, sealed: seal(view, aadOf(serviceId), d.keyring) };
    // The TTL kept: a view nobody reads still goes 30 days after its last read.
    if (await setGuarded(d, serviceId, { key, expected: mac, fields, keepTtl: true })) resealed += 1;
  }
  return resealed;
}

/**
 * The stored view; null when there is none, or it cannot be opened: sealed under a SECRET_KEY no longer
 * held, or altered (a Redis writer can as well delete it: the view, like the retired list, is kept from
 * readers, not writers).
 */
function openView(sealed: string | null, serviceId: string, d: RetiredSecretsDeps): Array<[string, string]> | null {
  if (sealed === null) return null;
  try {
    const parsed: unknown = JSON.parse(open(sealed, aadOf(serviceId), d.keyring));
    return Array.isArray(parsed) ? parsed.filter((p): p is [string, string] => Array.isArray(p) && typeof p[0] === 'string' && typeof p[1] === 'string') : null;
  } catch {
    return null;
  }
}
