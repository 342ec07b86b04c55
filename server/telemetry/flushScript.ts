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
 *   u userKey loginKey login id ttl loginAtKey at : HSET userKey login (and loginAt at), EXPIRE userKey ttl, SET loginKey id EX ttl
 *     (and SET loginAtKey at EX ttl); each of the two only when `at` is not older than the one it replaces (see below), `at` 0: unknown
 * A command Redis refuses (a key of another type: WRONGTYPE; a field that is not a number) ends its
 * operation only: by redis.call it would end the script, losing every later user's counts in the call.
 * Returns the failed operations, each its ordinal (from 1) and Redis's error.
 */
const FLUSH = redisScript(`
local failed, op, ok = {}, 0, true
local function call(...)
  if not ok then return end
  local r = redis.pcall(...)
  if type(r) == 'table' and r.err then
    ok = false
    failed[#failed + 1] = op
    failed[#failed + 1] = r.err
  end
end
local i, n = 1, #ARGV
while i <= n do
  local code, key = ARGV[i], KEYS[tonumber(ARGV[i + 1])]
  op, ok = op + 1, true
  if code == 'h' then
    local c = tonumber(ARGV[i + 3])
    for j = 0, c - 1 do call('HINCRBY', key, ARGV[i + 4 + 2 * j], ARGV[i + 5 + 2 * j]) end
    call('EXPIRE', key, ARGV[i + 2])
    i = i + 4 + 2 * c
  elseif code == 'p' then
    local c = tonumber(ARGV[i + 3])
    call('PFADD', key, unpack(ARGV, i + 4, i + 3 + c))
    call('EXPIRE', key, ARGV[i + 2])
    i = i + 4 + c
  elseif code == 'z' then
    call('ZADD', key, 'GT', ARGV[i + 2], ARGV[i + 3])
    i = i + 4
  elseif code == 's' then
    local c = tonumber(ARGV[i + 2])
    call('HSET', key, unpack(ARGV, i + 3, i + 2 + 2 * c))
    i = i + 3 + 2 * c
  elseif code == 'u' then
    -- A login is GitHub's word at a session's sign-in, and a session outlives a rename: the login a session
    -- of before the rename carries is the user's old one, which someone else may hold now (and have signed
    -- in with since). So the newer word wins, not the later request (at: 0 when unknown, as before).
    local at = tonumber(ARGV[i + 7]) or 0
    local seen = redis.pcall('HGET', key, 'loginAt')
    if type(seen) ~= 'string' or at >= (tonumber(seen) or 0) then
      if at > 0 then call('HSET', key, 'login', ARGV[i + 3], 'loginAt', at) else call('HSET', key, 'login', ARGV[i + 3]) end
    end
    call('EXPIRE', key, ARGV[i + 5])
    local atKey = KEYS[tonumber(ARGV[i + 6])]
    local held = redis.pcall('GET', atKey)
    if type(held) ~= 'string' or at >= (tonumber(held) or 0) then
      call('SET', KEYS[tonumber(ARGV[i + 2])], ARGV[i + 4], 'EX', ARGV[i + 5])
      if at > 0 then call('SET', atKey, at, 'EX', ARGV[i + 5]) end
    end
    i = i + 8
  else
    return redis.error_reply('telemetry flush: unknown operation ' .. tostring(code))
  end
end
return failed`);

/** An operation of a flush that Redis refused: whose it was (a user id; null: the route names) and why. */
export interface FlushFailure { userId: number | null; message: string }

/** Builds one call of the flush script. */
export class FlushBatch {
  readonly keys: string[] = [];
  readonly args: Array<string | number> = [];
  private readonly index = new Map<string, number>();
  /** Whose each operation is, in order: the script names a failed one by its ordinal. */
  private readonly owners: Array<number | null> = [];
  private owner: number | null = null;

  private key(k: string): number {
    let i = this.index.get(k);
    if (i === undefined) { this.keys.push(k); i = this.keys.length; this.index.set(k, i); }
    return i;
  }
  private op(...args: Array<string | number>): void { this.args.push(...args); this.owners.push(this.owner); }
  /** The operations added from now on are this user's. */
  user(userId: number): void { this.owner = userId; }
  /** HINCRBY each [field, by] pair, then EXPIRE. */
  counts(key: string, ttl: number, pairs: Array<string | number>): void { this.op('h', this.key(key), ttl, pairs.length / 2, ...pairs); }
  hll(key: string, ttl: number, members: string[]): void { this.op('p', this.key(key), ttl, members.length, ...members); }
  zaddGt(key: string, score: number, member: string): void { this.op('z', this.key(key), score, member); }
  hset(key: string, pairs: string[]): void { this.op('s', this.key(key), pairs.length / 2, ...pairs); }
  login(userKey: string, loginKey: string, login: string, userId: number, ttl: number, loginAtKey: string, at: number): void { this.op('u', this.key(userKey), this.key(loginKey), login, userId, ttl, this.key(loginAtKey), at); }
  get empty(): boolean { return this.args.length === 0; }
  /** Run the call; resolves with the operations Redis refused (the others are written). */
  async run(redis: Redis): Promise<FlushFailure[]> {
    const reply = (await FLUSH(redis, this.keys, this.args)) as Array<number | string>;
    const failures: FlushFailure[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) failures.push({ userId: this.owners[Number(reply[i]) - 1] ?? null, message: String(reply[i + 1]) });
    return failures;
  }
}
