import type { Redis } from 'ioredis';
import { signIntegrity, verifyIntegrity, type Keyring } from '../crypto/keyring.js';
import { recordMacInput, RecordTamperedError } from './integrity.js';
import { deploymentEvent, type DeploymentKeys } from './storeKeys.js';
import { baseOf, resignIfUnchanged, type RecordBase, type SignedRecord, type createKnownRecords } from './transition.js';
import type { DeploymentRecord } from './types.js';

/** Render-style ids: prefix + 20 characters of [0-9a-z]. Never all digits, never a colon (BullMQ job ids). */
export const DEPLOYMENT_ID = /^dpl-[0-9a-z]{20}$/;

/**
 * Every record's id, a SCAN page at a time (never KEYS): `page` is called with the ids of each page
 * in turn, the keys beside the records (`:env`, `:commit-status`, `:slack`) left out.
 */
export async function forEachRecordPage(redis: Redis, keys: DeploymentKeys, page: (ids: string[]) => Promise<void>): Promise<void> {
  const recordPrefix = keys.record('');
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${recordPrefix}dpl-*`, 'COUNT', 500);
    cursor = next;
    await page(found.map((key) => key.slice(recordPrefix.length)).filter((id) => DEPLOYMENT_ID.test(id)));
  } while (cursor !== '0');
}

/** A record as stored: missing, verified (ours), or failing its MAC (with the user id it claims, if any). */
type Inspection =
  | { state: 'missing' }
  | { state: 'valid'; record: DeploymentRecord }
  | { state: 'tampered'; claimedUserId: number | null; stored: unknown };

/**
 * Reading and signing records: every read verifies the MAC (integrity.ts) before anything is shown
 * or acted on; a verified record is remembered (`known`) as the base of this process's next change.
 */
export function createRecordReader(o: { redis: Redis; keys: DeploymentKeys; keyring: Keyring; known: ReturnType<typeof createKnownRecords> }) {
  const { redis, keys, keyring, known } = o;

  const sign = (rec: DeploymentRecord): SignedRecord => {
    const json = JSON.stringify(rec);
    return { id: rec.id, json, mac: signIntegrity(recordMacInput(rec.id, json), keyring), status: rec.status, event: deploymentEvent(rec) };
  };

  /** Read and verify a record, with the JSON it was stored as when it verifies. */
  async function load(id: string): Promise<{ found: Inspection; json?: string }> {
    if (!DEPLOYMENT_ID.test(id)) return { found: { state: 'missing' } };
    const [json, mac] = await redis.hmget(keys.record(id), 'json', 'mac');
    if (!json) return { found: { state: 'missing' } };
    const which = verifyIntegrity(recordMacInput(id, json), mac, keyring);
    let stored: unknown = null;
    try { stored = JSON.parse(json); } catch { /* unreadable: tampered */ }
    const claimed = (stored as { userId?: unknown; id?: unknown } | null);
    if (!which || !stored || claimed?.id !== id) {
      const userId = typeof claimed?.userId === 'number' && Number.isSafeInteger(claimed.userId) && claimed.userId > 0 ? claimed.userId : null;
      return { found: { state: 'tampered', claimedUserId: userId, stored } };
    }
    // Made under SECRET_KEY_PREVIOUS: re-signed with the current key, unless it changed meanwhile.
    if (which === 'previous') await resignIfUnchanged(redis, [keys.record(id)], [json, signIntegrity(recordMacInput(id, json), keyring)]);
    known.set(id, json);
    return { found: { state: 'valid', record: stored as DeploymentRecord }, json };
  }

  /** Read and verify a record. One made under SECRET_KEY_PREVIOUS verifies and is re-signed with the current key. */
  const inspect = async (id: string): Promise<Inspection> => (await load(id)).found;

  /** A verified record, or null when it is missing or fails its MAC (never shown, never acted on). */
  async function get(id: string): Promise<DeploymentRecord | null> {
    const found = await inspect(id);
    return found.state === 'valid' ? found.record : null;
  }

  /**
   * The base of a change, read and verified: null when missing; a record failing its MAC throws
   * RecordTamperedError ('throw', so no write launders a forgery) or reads as missing ('skip').
   */
  async function readBase(id: string, tampered: 'throw' | 'skip'): Promise<RecordBase | null> {
    const { found, json } = await load(id);
    if (found.state === 'tampered' && tampered === 'throw') throw new RecordTamperedError(id);
    return found.state === 'valid' && json ? baseOf(json, found.record) : null;
  }

  /**
   * During a SECRET_KEY rotation: re-sign every record still signed with the previous key (each
   * worker runs this at start and again while the rotation lasts: workers/rotationSweep.ts), so
   * finished records nobody opens during the overlap still verify once SECRET_KEY_PREVIOUS is
   * removed. Returns how many were re-signed.
   */
  async function resignStale(): Promise<number> {
    const previous = keyring.previous;
    if (!previous) return 0;
    let resigned = 0;
    await forEachRecordPage(redis, keys, async (ids) => {
      for (const id of ids) {
        const mac = await redis.hget(keys.record(id), 'mac');
        if (mac?.split('.')[1] !== previous.kid) continue;
        if ((await inspect(id)).state === 'valid') resigned++;
      }
    });
    return resigned;
  }

  return { sign, inspect, get, readBase, resignStale };
}
