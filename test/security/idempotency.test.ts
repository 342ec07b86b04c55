import test from 'ava';
import { createHash } from 'node:crypto';
import { startStack, dumpRedis, type Stack } from '../helpers/stack.js';
import { queuePrefix, DEPLOY_QUEUE } from '../../server/queues/deployQueue.js';
import type { Agent } from '../helpers/agent.js';

// Issue 11 part 6: Idempotency-Key fingerprints are HMACs (a Redis dump cannot confirm guesses of env
// values), and a claim is released when creating the deploy fails after it (no 409 for 24 hours).

let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

let nextUser = 7100;
async function signedIn(login: string): Promise<{ agent: Agent; userId: number }> {
  const apiKey = `rnd_${login}${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  const agent = stack.agent();
  const userId = nextUser++;
  await stack.signIn(agent, login, { id: userId });
  const res = await agent.post('/api/render/setup', { api_key: apiKey });
  if (res.status !== 200) throw new Error(`setup: ${res.status} ${res.text}`);
  return { agent, userId };
}

/** Sealed env values whose deployment record does not exist. */
async function orphanEnvValues(): Promise<string[]> {
  const orphans: string[] = [];
  for (const k of await stack.redis.client.keys(`${stack.redis.prefix}:deployment:*:env`)) {
    if (!(await stack.redis.client.exists(k.replace(/:env$/, '')))) orphans.push(k);
  }
  return orphans;
}

const idemKeys = async (userId: number) => stack.redis.client.keys(`${stack.redis.prefix}:user:${userId}:idem:*`);

test('the stored idempotency fingerprint is not a plain SHA-256 of the request (env values cannot be confirmed from a dump)', async (t) => {
  const { agent, userId } = await signedIn('idemfp');
  const secret = 'correct-horse-battery-staple';
  const res = await agent.post('/api/render/deploy', { github_repo: 'idemfp/app', project_name: 'fp-app', env_vars: { DATABASE_PASSWORD: secret } }, { headers: { 'idempotency-key': 'fp-1' } });
  t.is(res.status, 202);
  const [key] = await idemKeys(userId);
  const [storedId, storedFp] = (await stack.redis.client.get(key!))!.split(':');
  t.is(storedId, res.json.id);
  // What the old code stored: sha256 over {request, envVars}, rebuilt exactly as the route builds it.
  const { request } = (await stack.web.deps.deployments.get(res.json.id))!;
  const plain = createHash('sha256').update(JSON.stringify({ request, envVars: [{ key: 'DATABASE_PASSWORD', value: secret }] })).digest('hex');
  t.is(storedFp!.length, 64);
  t.not(storedFp, plain, 'a Redis reader could confirm the guessed password against this');
  t.false((await dumpRedis(stack.redis.client)).includes(plain));
  // Still a fingerprint: the same body replays, a different one is refused.
  const again = await agent.post('/api/render/deploy', { github_repo: 'idemfp/app', project_name: 'fp-app', env_vars: { DATABASE_PASSWORD: secret } }, { headers: { 'idempotency-key': 'fp-1' } });
  t.is(again.status, 202);
  t.is(again.headers.get('idempotent-replayed'), 'true');
  t.is(again.json.id, res.json.id);
  const other = await agent.post('/api/render/deploy', { github_repo: 'idemfp/app', project_name: 'fp-app', env_vars: { DATABASE_PASSWORD: 'guess' } }, { headers: { 'idempotency-key': 'fp-1' } });
  t.is(other.status, 409);
  t.is(other.json.error.code, 'idempotency_key_reused');
});

test.serial('a record write refused after the claim releases the key: the retry with the same key deploys', async (t) => {
  const { agent, userId } = await signedIn('idemrecord');
  const body = { github_repo: 'idemrecord/app', project_name: 'rec-app', env_vars: { TOKEN: 'tok-value-1' } };
  const headers = { 'idempotency-key': 'retry-after-record-failure' };
  // A real Redis failure inside the record write: the user's index has the wrong type, so the MULTI's ZADD fails.
  const index = `${stack.redis.prefix}:user:${userId}:deployments`;
  await stack.redis.client.set(index, 'not-a-sorted-set');
  const failed = await agent.post('/api/render/deploy', body, { headers });
  t.is(failed.status, 500);
  t.is(failed.json.error.code, 'internal_error');
  t.deepEqual(await idemKeys(userId), [], 'the claim was given back');
  t.deepEqual(await stack.redis.client.smembers(`${stack.redis.prefix}:user:${userId}:active`), [], 'no half-made deployment is left active');
  t.deepEqual(await orphanEnvValues(), [], 'no sealed env values without a record');

  await stack.redis.client.del(index);
  const retried = await agent.post('/api/render/deploy', body, { headers });
  t.is(retried.status, 202, 'not 409 for 24 hours');
  t.is(retried.headers.get('idempotent-replayed'), null);
  t.truthy(await stack.web.deps.queue.getJob(retried.json.id), 'its job is queued');
  t.deepEqual((await agent.get('/api/render/my-deployments')).json.deployments.map((d: { id: string }) => d.id), [retried.json.id]);
});

test.serial('a queue failure after the record was written releases the key and leaves no orphan record', async (t) => {
  const { agent, userId } = await signedIn('idemqueue');
  const body = { github_repo: 'idemqueue/app', project_name: 'queue-app' };
  const headers = { 'idempotency-key': 'retry-after-queue-failure' };
  // A real failure inside BullMQ's add script: its job counter holds something INCR refuses.
  const counter = `${queuePrefix(stack.config.redisPrefix)}:${DEPLOY_QUEUE}:id`;
  const saved = await stack.redis.client.get(counter);
  await stack.redis.client.set(counter, 'not-a-number');
  let failed;
  try {
    failed = await agent.post('/api/render/deploy', body, { headers });
  } finally {
    if (saved === null) await stack.redis.client.del(counter); else await stack.redis.client.set(counter, saved);
  }
  t.is(failed.status, 500);
  t.deepEqual(await idemKeys(userId), []);
  t.deepEqual((await agent.get('/api/render/my-deployments')).json.deployments, [], 'the record of the failed request is gone');
  t.is(await stack.redis.client.zcard(`${stack.redis.prefix}:user:${userId}:pending`), 0, 'it does not count against the user\'s priority');

  const retried = await agent.post('/api/render/deploy', body, { headers });
  t.is(retried.status, 202);
  t.is(retried.headers.get('idempotent-replayed'), null, 'a new deployment, not the stuck one without a job');
  t.truthy(await stack.web.deps.queue.getJob(retried.json.id));
});
