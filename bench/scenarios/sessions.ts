import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Bench } from '../lib/bench.js';
import { appEnv, configOf } from '../lib/env.js';
import { systemClock } from '../../server/clock.js';
import { buildDeps } from '../../server/system.js';
import { randomToken } from '../../server/crypto/keyring.js';
import { sealGithubToken, setRenderKey } from '../../server/sessions/credentials.js';
import { mapLimit, round } from '../lib/stats.js';
import { fmt, verdict, type Row } from '../lib/rows.js';

export interface SessionsResult { sessions: number; bytesPerSession: number; keysPerSession: number }

/**
 * Redis memory per idle signed-in session (with a Render key and a GitHub token sealed inside), as the
 * server's own session store writes it: INFO used_memory before and after N sessions, on a quiet Redis.
 */
export async function runSessions(bench: Bench, o: { sessions: number }): Promise<SessionsResult> {
  const env = appEnv({
    port: 1, secretKeyHex: randomBytes(32).toString('hex'), redisUrl: bench.redis.url, redisPrefix: `s${randomBytes(3).toString('hex')}`,
    github: { clientId: 'x', clientSecret: 'y', oauthUrl: 'http://127.0.0.1:1', apiUrl: 'http://127.0.0.1:1' }, renderApiUrl: 'http://127.0.0.1:1/v1',
  });
  const config = configOf(env);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null, enableAutoPipelining: true });
  const queueRedis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const deps = buildDeps({ config, redis, queueRedis, clock: systemClock, logger: pino({ level: 'silent' }) });
  const stop = bench.cleanup.add('session-memory clients', async () => { await Promise.all([deps.queue.close(), deps.commitStatusQueue.close()]).catch(() => {}); redis.disconnect(); queueRedis.disconnect(); });
  try {
    const measure = async () => {
      const info = await redis.info('memory');
      return { used: Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0), keys: await redis.dbsize() };
    };
    const before = await measure();
    await mapLimit(Array.from({ length: o.sessions }, (_, i) => i), 50, async (i) => {
      const userId = 900_000 + i;
      const now = Date.now();
      const sess = {
        createdAt: now, lastSeenAt: now,
        user: { id: userId, login: `mem-user-${i}`, name: `Memory User ${i}`, avatarUrl: `https://avatars.githubusercontent.com/u/${userId}?v=4` },
        githubTokenSealed: sealGithubToken(userId, `gho_${randomBytes(27).toString('base64url')}`, deps.keyring),
        csrfToken: randomToken(),
        clientHash: randomBytes(8).toString('hex'),
      };
      setRenderKey(sess, `rnd_${randomBytes(24).toString('base64url')}`, [{ id: `tea-${randomBytes(10).toString('hex')}`, name: `Workspace ${i}`, type: 'team' }], now, deps.keyring);
      await deps.sessions.create(randomBytes(32).toString('base64url'), sess);
    });
    const after = await measure();
    return {
      sessions: o.sessions,
      bytesPerSession: round((after.used - before.used) / o.sessions, 0),
      keysPerSession: round((after.keys - before.keys) / o.sessions, 2),
    };
  } finally {
    await stop();
  }
}

/** Bench's own budget: 100,000 idle sessions in 256 MB of Key Value (see README). */
const MAX_BYTES_PER_SESSION = 2.5 * 1024;

export function sessionsRows(m: SessionsResult): Row[] {
  return [{
    metric: `Redis memory per idle session (${fmt(m.sessions, 0)} sessions)`, value: `${fmt(m.bytesPerSession, 0)} bytes (${m.keysPerSession} keys each)`,
    target: `≤ ${fmt(MAX_BYTES_PER_SESSION / 1024)} KiB`, verdict: verdict(m.bytesPerSession <= MAX_BYTES_PER_SESSION),
  }];
}
