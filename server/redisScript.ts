import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A Lua script called by EVALSHA, with EVAL as the fallback (the script cache is empty after a Redis
 * restart): the script's text crosses the connection once, not on every call.
 */
export function redisScript(lua: string) {
  const sha = createHash('sha1').update(lua).digest('hex');
  return async (redis: Redis, keys: string[], args: Array<string | number | Buffer>): Promise<unknown> => {
    // One array, never spread into the call: spreading ~100,000 arguments overflows the call stack
    // (a telemetry flush of an hour's counts once did, and lost them all).
    const tail = (keys as Array<string | number | Buffer>).concat(args);
    try {
      return await redis.call('evalsha', ([sha, keys.length] as Array<string | number | Buffer>).concat(tail));
    } catch (err) {
      if (!(err instanceof Error) || !err.message.includes('NOSCRIPT')) throw err;
      return redis.call('eval', ([lua, keys.length] as Array<string | number | Buffer>).concat(tail));
    }
  };
}
