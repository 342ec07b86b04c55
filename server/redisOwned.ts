import type { Redis } from 'ioredis';
import { redisScript } from './redisScript.js';

// Compare and delete in one step: between a GET and a DEL from the client, our lease could expire and
// another holder take the key, whose lock we would then drop.
const DELETE_IF_OURS = redisScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`);

/**
 * Gives back a lock, lease or claim (SET NX PX with a random token): deletes `key` only while it still
 * holds `token`. True when it did.
 */
export async function deleteIfOurs(redis: Redis, key: string, token: string): Promise<boolean> {
  return Number(await DELETE_IF_OURS(redis, [key], [token])) === 1;
}
