import test from 'ava';
import { randomBytes } from 'node:crypto';
import { sharedFixture } from '../helpers/fixture.js';
import { startOpsEnv, type OpsEnv, type ChildWeb } from '../ops/support/cluster.js';

// X-Render-Api-Key's open mark (`keysess-open:<ref>`, server/bearer/keySessions.ts) that Redis refuses
// to write: the request must fail without leaving a key session (and the sealed key in it) behind.
// The web process connects as a Redis ACL user that may write every key except the marks, so exactly
// that write fails, every time, on a real Redis.

let env: OpsEnv;
let web: ChildWeb;
let aclUser: string;
sharedFixture(test, () => startOpsEnv(), async (started) => {
  env = started;
  aclUser = `nomark-${env.redis.prefix}`;
  const password = randomBytes(16).toString('hex');
  await env.redis.client.call('ACL', 'SETUSER', aclUser, 'reset', 'on', `>${password}`, '+@all', 'allchannels', '%R~*',
    ...allKeysBut(`${env.redis.prefix}:keysess-open:`).map((p) => `~${p}`));
  const url = new URL(env.redis.url);
  url.username = aclUser;
  url.password = password;
  web = await env.spawnWeb({ env: { REDIS_URL: url.toString() } });
});
test.after.always(async () => { await env?.redis.client.call('ACL', 'DELUSER', aclUser); });

/** Glob patterns matching every key that does not start with `prefix` (ACL key patterns cannot negate). */
function allKeysBut(prefix: string): string[] {
  const esc = (s: string) => s.replace(/[*?[\]\\^]/g, (c) => `\\${c}`);
  const patterns: string[] = [];
  for (let i = 0; i < prefix.length; i++) {
    const same = esc(prefix.slice(0, i));
    patterns.push(`${same}[^${esc(prefix[i]!)}]*`); // the same up to i, then another character
    if (i > 0) patterns.push(same); // a key that is a shorter part of the prefix
  }
  return patterns;
}

test.serial('a key session whose open mark Redis refuses: a 500, and no session or mark is left', async (t) => {
  const login = 'markrefused';
  env.github.addUser({ id: 95_000, login });
  const token = env.github.issueToken(login);
  const apiKey = `rnd_${login}${'m'.repeat(24)}`;
  env.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  const get = (headers: Record<string, string>) => fetch(`${web.url}/api/render/status`, { headers: { authorization: `Bearer ${token}`, ...headers } });
  // The token's own session first, so what follows counts only the key session.
  t.is((await get({})).status, 200);
  const keys = (what: string) => env.redis.client.keys(`${env.redis.prefix}:${what}:*`);
  const before = (await keys('sess')).length;
  await env.redis.client.call('ACL', 'LOG', 'RESET');

  const res = await get({ 'x-render-api-key': apiKey });
  const text = await res.text();
  t.is(res.status, 500, text);
  t.is(JSON.parse(text).error.code, 'internal_error');
  t.false(text.includes(apiKey));
  t.is((await keys('sess')).length, before, 'no key session (with the sealed key) is left behind');
  t.deepEqual(await keys('keysess-open'), []);
  // What Redis refused was the mark, and nothing else.
  const refused = (await env.redis.client.call('ACL', 'LOG')) as unknown[][];
  t.true(refused.length > 0);
  for (const entry of refused) t.regex(String(entry[entry.indexOf('object') + 1]), /:keysess-open:/);
});
