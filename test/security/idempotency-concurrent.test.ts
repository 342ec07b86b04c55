import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { startWebBehindHold } from '../helpers/redisHold.js';

// A double submit: two requests with the same Idempotency-Key and body arrive together at two web
// processes, and the first fails after claiming the key (a 5xx that gives the key back). The second
// must then get the first's deployment or make its own, never 409. Each web process reaches Redis
// through a proxy that stops it at a known command, so the interleaving is the same on every run:
// the first request is held at its record write (after its claim), the second at a chosen point of its
// own claim, and the first is let go to fail before the second goes on.
let stack: Stack;
let webs: Array<Awaited<ReturnType<typeof startWebBehindHold>>> = [];
test.before(async () => {
  stack = await startStack();
  webs = await Promise.all([startWebBehindHold(stack.config), startWebBehindHold(stack.config)]);
});
test.after.always(async () => {
  await Promise.all(webs.map((w) => w.close()));
  await stack?.close();
});

let nextUser = 7500;
async function bearerUser(login: string) {
  const userId = nextUser++;
  stack.github.addUser({ id: userId, login });
  const token = stack.github.issuePat(login);
  const apiKey = `rnd_${login}${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  const headers = { authorization: `Bearer ${token}`, 'x-render-api-key': apiKey, accept: 'application/json' };
  const ask = async (base: string, method: string, path: string, body?: unknown, extra: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, { method, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}), ...extra }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, replayed: res.headers.get('idempotent-replayed'), json: await res.json().catch(() => null) as { id?: string; error?: { code: string } } | null };
  };
  // The token's session exists before the race (its first request makes it).
  for (const w of webs) if ((await ask(w.url, 'GET', '/api/render/status')).status !== 200) throw new Error('sign-in failed');
  return { userId, ask };
}

const prefixed = (k: string) => `${stack.config.redisPrefix}:${k}`;
/** A real Redis failure inside the record write (the MULTI's ZADD on the user's index), until undone. */
const breakRecordWrites = (userId: number) => stack.redis.client.set(prefixed(`user:${userId}:deployments`), 'not-a-sorted-set');
const mendRecordWrites = (userId: number) => stack.redis.client.del(prefixed(`user:${userId}:deployments`));
const idemKeys = (userId: number) => stack.redis.client.keys(prefixed(`user:${userId}:idem:*`));

test.serial('the first of two requests fails and gives its key back between the second\'s SET NX and its read of the claim: the second deploys, not idempotency_key_reused', async (t) => {
  const [w1, w2] = webs as [typeof webs[0], typeof webs[0]];
  const { userId, ask } = await bearerUser('idemrace1');
  const body = { github_repo: 'idemrace1/app', project_name: 'race-app' };
  const idem = { 'idempotency-key': 'double-submit-1' };
  await breakRecordWrites(userId);

  w1.hold.holdAt(prefixed('deployment:'));
  const first = ask(w1.url, 'POST', '/api/render/deploy', body, idem);
  await w1.hold.held();
  t.is((await idemKeys(userId)).length, 1, 'the first request holds the key');

  // The second's claim attempt (SET NX) runs and finds the first's claim; what it sends next waits.
  w2.hold.holdAt(':idem:', 'after');
  const second = ask(w2.url, 'POST', '/api/render/deploy', body, idem);
  await w2.hold.held();

  w1.hold.release();
  t.is((await first).status, 500, 'the first request failed');
  t.deepEqual(await idemKeys(userId), [], 'and gave its key back');
  await mendRecordWrites(userId);
  w2.hold.release();

  const res = await second;
  t.is(res.status, 202, JSON.stringify(res.json));
  t.is(res.replayed, null, 'a deployment of its own: the first made none');
  const again = await ask(stack.url, 'POST', '/api/render/deploy', body, idem);
  t.is(again.status, 202);
  t.is(again.replayed, 'true');
  t.is(again.json?.id, res.json?.id);
  t.is(await stack.redis.client.zcard(prefixed(`user:${userId}:deployments`)), 1, 'one deployment');
});

test.serial('the first of two requests fails while the second waits for its record: the second deploys, not idempotency_in_progress', async (t) => {
  const [w1, w2] = webs as [typeof webs[0], typeof webs[0]];
  const { userId, ask } = await bearerUser('idemrace2');
  const body = { github_repo: 'idemrace2/app', project_name: 'race-app-2' };
  const idem = { 'idempotency-key': 'double-submit-2' };
  await breakRecordWrites(userId);

  w1.hold.holdAt(prefixed('deployment:'));
  const first = ask(w1.url, 'POST', '/api/render/deploy', body, idem);
  await w1.hold.held();
  const [claimKey] = await idemKeys(userId);
  const firstId = (await stack.redis.client.get(claimKey!))!.split(':')[0]!;

  // The second finds the first's claim and looks for its record (none yet); what it sends next waits.
  w2.hold.holdAt(prefixed(`deployment:${firstId}`), 'after');
  const second = ask(w2.url, 'POST', '/api/render/deploy', body, idem);
  await w2.hold.held();

  w1.hold.release();
  t.is((await first).status, 500);
  t.deepEqual(await idemKeys(userId), []);
  await mendRecordWrites(userId);
  w2.hold.release();

  const res = await second;
  t.is(res.status, 202, JSON.stringify(res.json));
  t.is(res.replayed, null);
  t.not(res.json?.id, firstId);
  t.is(await stack.redis.client.zcard(prefixed(`user:${userId}:deployments`)), 1);
});

test.serial('the first of two requests succeeds while the second waits for its record: the second answers with the first\'s deployment', async (t) => {
  const [w1, w2] = webs as [typeof webs[0], typeof webs[0]];
  const { userId, ask } = await bearerUser('idemrace3');
  const body = { github_repo: 'idemrace3/app', project_name: 'race-app-3' };
  const idem = { 'idempotency-key': 'double-submit-3' };

  w1.hold.holdAt(prefixed('deployment:'));
  const first = ask(w1.url, 'POST', '/api/render/deploy', body, idem);
  await w1.hold.held();
  w2.hold.holdAt(':idem:', 'after');
  const second = ask(w2.url, 'POST', '/api/render/deploy', body, idem);
  await w2.hold.held();
  w1.hold.release();
  const made = await first;
  t.is(made.status, 202);
  w2.hold.release();
  const res = await second;
  t.is(res.status, 202, JSON.stringify(res.json));
  t.is(res.replayed, 'true');
  t.is(res.json?.id, made.json?.id);
  t.is(await stack.redis.client.zcard(prefixed(`user:${userId}:deployments`)), 1);
});
