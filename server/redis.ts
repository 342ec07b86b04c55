import { Redis, type RedisOptions } from 'ioredis';
import { sharedPipelineScripts } from './redisPipelines.js';

const WEB_COMMAND_TIMEOUT_MS = 10_000;

/**
 * Redis connections by role. Web-side commands fail fast when Redis is down (a request should get a
 * 503, not hang); BullMQ workers need maxRetriesPerRequest: null (they block and reconnect).
 */
export function createRedis(url: string, role: 'web' | 'worker' | 'subscriber', extra: RedisOptions = {}): Redis {
  const base: RedisOptions = {
    connectionName: `orchestrator-${role}`,
    enableAutoPipelining: role === 'web',
    retryStrategy: (times) => Math.min(times * 200, 2000),
    // commandTimeout: a Redis that stopped answering with its connection open (a stalled process, a
    // network partition) held every request for as long as TCP took to notice, hours; web-side commands
    // never block, so one not answered in 10 s ends as a 503 (isRedisUnavailable).
    ...(role === 'web' ? { maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 2000, commandTimeout: WEB_COMMAND_TIMEOUT_MS } : { maxRetriesPerRequest: null }),
  };
  const redis = new Redis(url, { ...base, ...extra });
  // Each auto-pipelined batch is a new pipeline: not one that copies every script of the connection.
  if (redis.options.enableAutoPipelining) sharedPipelineScripts(redis);
  // ioredis emits 'error' on every failed reconnect; readiness reports it, so don't crash or spam.
  redis.on('error', () => {});
  return redis;
}

/** A REDIS_URL fit to print: its password (if any) replaced by ***. */
export function redisUrlWithoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch { return '(unparseable URL)'; }
}

/**
 * A BullMQ queue's errors are its connection's (each failed reconnect while Redis is away): readiness
 * reports them, as for createRedis' connections. Without a listener BullMQ prints each one with its
 * stack to stderr, dozens of raw lines a second among the JSON log lines.
 */
export function quietQueue<Q extends { on(event: 'error', listener: (err: Error) => void): unknown }>(queue: Q): Q {
  queue.on('error', () => {});
  return queue;
}

/**
 * A command refused because Redis is out of reach (connection closed or refused, retries spent, the
 * offline queue off, no answer within the web's command timeout) or not serving yet (LOADING): a passing outage, answered as a 503, not a bug.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  if (err.message === 'Connection is closed.' || err.message === 'Command timed out' || err.message.startsWith("Stream isn't writeable")) return true;
  // Not errno codes (ECONNREFUSED…): other clients' errors carry them too, and they are not about Redis.
  return err.name === 'ReplyError' && /^(LOADING|MASTERDOWN|TRYAGAIN)\b/.test(err.message);
}

const REFUSED_WRITE = /^(OOM|READONLY)\b/;

/**
 * A write Redis refused while answering: maxmemory reached under the noeviction policy (render.yaml's),
 * `OOM command not allowed…`, or a replica that takes no writes, `READONLY …`. Also from a script
 * (Redis 7 keeps the reply's code; Redis 6 wraps it as `ERR Error running script … -OOM …`) and from a
 * MULTI it aborted (`EXECABORT`, the queued commands' refusals in previousErrors). Like
 * isRedisUnavailable, a storage outage answered as a 503 until memory frees or a primary takes over.
 */
export function isRedisRefusingWrites(err: unknown): boolean {
  if (!(err instanceof Error) || err.name !== 'ReplyError') return false;
  if (REFUSED_WRITE.test(err.message) || /^ERR Error running script\b.*-(OOM|READONLY)\b/.test(err.message)) return true;
  const previous = (err as { previousErrors?: unknown }).previousErrors;
  return /^EXECABORT\b/.test(err.message) && Array.isArray(previous)
    && previous.some((e) => e instanceof Error && REFUSED_WRITE.test(e.message));
}

/** Every key that starts with `prefix` (its glob characters taken literally), by SCAN: a few hundred a round trip. */
export async function* keysUnder(redis: Redis, prefix: string): AsyncGenerator<string> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    yield* found;
  } while (cursor !== '0');
}
