import type { Redis } from 'ioredis';
import { redisScript } from '../redisScript.js';

/**
 * Lua: a flush's writes as one script call instead of ~12 commands per user in a pipeline (each a
 * command object, a promise and a reply in the web process; bench `pipeline`: every deploy is a new
 * user's only request, so its flush was ~10% of the web's CPU per deploy). The same commands, in
 * the same order. KEYS: every key named. ARGV: operations, each a code and its operands (a key is
 * its index in KEYS):
 *   h key ttl n field value … : HINCRBY each field, then EXPIRE key ttl
 *   p key ttl n member …      : PFADD the members, then EXPIRE key ttl
 *   z key score member        : ZADD key GT score member
 *   s key n field value …     : HSET the fields
 *   u userKey loginKey login id ttl : HSET userKey login, EXPIRE userKey ttl, SET loginKey id EX ttl
 */
const FLUSH = redisScript(`
local i, n = 1, #ARGV
while i <= n do
  local op, key = ARGV[i], KEYS[tonumber(ARGV[i + 1])]
  if op == 'h' then
    local c = tonumber(ARGV[i + 3])
    for j = 0, c - 1 do redis.call('HINCRBY', key, ARGV[i + 4 + 2 * j], ARGV[i + 5 + 2 * j]) end
    redis.call('EXPIRE', key, ARGV[i + 2])
    i = i + 4 + 2 * c
  elseif op == 'p' then
    local c = tonumber(ARGV[i + 3])
    redis.call('PFADD', key, unpack(ARGV, i + 4, i + 3 + c))
    redis.call('EXPIRE', key, ARGV[i + 2])
    i = i + 4 + c
  elseif op == 'z' then
    redis.call('ZADD', key, 'GT', ARGV[i + 2], ARGV[i + 3])
    i = i + 4
  elseif op == 's' then
    local c = tonumber(ARGV[i + 2])
    redis.call('HSET', key, unpack(ARGV, i + 3, i + 2 + 2 * c))
    i = i + 3 + 2 * c
  elseif op == 'u' then
    redis.call('HSET', key, 'login', ARGV[i + 3])
    redis.call('EXPIRE', key, ARGV[i + 5])
    redis.call('SET', KEYS[tonumber(ARGV[i + 2])], ARGV[i + 4], 'EX', ARGV[i + 5])
    i = i + 6
  else
    return redis.error_reply('telemetry flush: unknown operation ' .. tostring(op))
  end
end
return 1`);

/** Builds one call of the flush script. */
export class FlushBatch {
  readonly keys: string[] = [];
  readonly args: Array<string | number> = [];
  private readonly index = new Map<string, number>();

  private key(k: string): number {
    let i = this.index.get(k);
    if (i === undefined) { this.keys.push(k); i = this.keys.length; this.index.set(k, i); }
    return i;
  }
  /** HINCRBY each [field, by] pair, then EXPIRE. */
  counts(key: string, ttl: number, pairs: Array<string | number>): void { this.args.push('h', this.key(key), ttl, pairs.length / 2, ...pairs); }
  hll(key: string, ttl: number, members: string[]): void { this.args.push('p', this.key(key), ttl, members.length, ...members); }
  zaddGt(key: string, score: number, member: string): void { this.args.push('z', this.key(key), score, member); }
  hset(key: string, pairs: string[]): void { this.args.push('s', this.key(key), pairs.length / 2, ...pairs); }
  login(userKey: string, loginKey: string, login: string, userId: number, ttl: number): void { this.args.push('u', this.key(userKey), this.key(loginKey), login, userId, ttl); }
  get empty(): boolean { return this.args.length === 0; }
  run(redis: Redis): Promise<unknown> { return FLUSH(redis, this.keys, this.args); }
}
