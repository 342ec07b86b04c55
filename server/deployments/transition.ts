import { createHash } from 'node:crypto';
import { redisScript } from '../redisScript.js';
import type { DeploymentRecord } from './types.js';

/**
 * One round trip per record change: write (unless terminal, and only over the exact JSON this
 * process verified or wrote), drop it from the user's unfinished set when it ends, and publish the
 * live update. KEYS: record, active set, events channel. ARGV: expected sha1 of the stored JSON ('':
 * do not compare), json, mac, status, '1' when terminal, id, event, then the terminal statuses.
 * Returns 1 written, 0 already terminal, -1 missing, -2 the stored JSON is not the one expected.
 *
 * The MAC is computed by the caller (Redis never sees SECRET_KEY); the compare is what lets the
 * caller skip re-reading a record it wrote itself: anything else that changed it (another process,
 * a Redis writer) fails the compare, and the caller then reads and verifies it as usual.
 */
export const transitionScript = redisScript(`
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return -1 end
for i = 8, #ARGV do if current == ARGV[i] then return 0 end end
if ARGV[1] ~= '' and redis.sha1hex(redis.call('HGET', KEYS[1], 'json') or '') ~= ARGV[1] then return -2 end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'mac', ARGV[3], 'status', ARGV[4])
if ARGV[5] == '1' then redis.call('SREM', KEYS[2], ARGV[6]) end
redis.call('PUBLISH', KEYS[3], ARGV[7])
return 1`);

export const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

/**
 * Records this process verified or wrote last, by id, with the sha1 of their stored JSON: the base
 * of the next change without reading it back. Bounded; an entry is only ever a guess that the
 * transition script checks.
 */
export function createKnownRecords(max = 5_000) {
  const known = new Map<string, { rec: DeploymentRecord; sha: string }>();
  return {
    get: (id: string) => known.get(id),
    set(id: string, json: string) {
      known.delete(id);
      if (known.size >= max) { const oldest = known.keys().next(); if (!oldest.done) known.delete(oldest.value); }
      // Its own copy (as a read would give): callers may change the record they were handed.
      known.set(id, { rec: JSON.parse(json) as DeploymentRecord, sha: sha1(json) });
    },
    forget: (id: string) => { known.delete(id); },
  };
}
