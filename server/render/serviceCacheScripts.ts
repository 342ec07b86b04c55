// The service list cache's Redis scripts (server/render/serviceCache.ts), by EVALSHA: the text need not
// cross on every read. A list's loader holds `<list>:lock:<gen>` (SET NX PX, a token of its own) for the
// generation it read, so a loader that starts after an invalidation never waits behind one from before it.
import { redisScript } from '../redisScript.js';

/**
 * A read that misses claims the load in the same round trip (issue 17: a first poll's Redis round trips
 * before its Render call went from three to two). KEYS: gen, data, the lock of the generation the caller
 * expects (ARGV[1]: the generation it saw last). The entry's generation and age are read from the head of
 * its JSON (`entryJson`): an entry of the current generation younger than ARGV[5] ms at the caller's
 * clock (ARGV[4]) is served, no claim. Returns {gen, entry or nil, claimed}: 1 claimed, 0 held by another
 * loader (or served), -1 the generation is not the one expected (no claim: ask again for the right lock).
 */
export const readOrClaim = redisScript(`
local gen = redis.call('GET', KEYS[1]) or '0'
local raw = redis.call('GET', KEYS[2])
if raw then
  local g, at = string.match(raw, '^{"gen":"([^"]*)","at":(%d+),')
  if g == gen and tonumber(ARGV[4]) - tonumber(at) < tonumber(ARGV[5]) then return {gen, raw, 0} end
end
if gen ~= ARGV[1] then return {gen, raw, -1} end
if redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3], 'NX') then return {gen, raw, 1} end
return {gen, raw, 0}`);

/**
 * A loader's end in one round trip. KEYS: gen, data, lock. Writes the list (ARGV[2]; '' drops it) only if
 * nobody invalidated since the loader read the generation ARGV[1] (a list fetched before a suspend must
 * not be cached after it; a drop leaves a newer list alone), then gives the lock back if it still holds
 * our token (ARGV[4]). Returns 1 when it wrote or dropped.
 */
export const finishLoad = redisScript(`
local done = 0
if (redis.call('GET', KEYS[1]) or '0') == ARGV[1] then
  if ARGV[2] == '' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
  done = 1
end
if redis.call('GET', KEYS[3]) == ARGV[4] then redis.call('DEL', KEYS[3]) end
return done`);
