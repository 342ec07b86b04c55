import test from 'ava';
import { sharedFixture } from '../helpers/fixture.js';
import { startOpsEnv, type OpsEnv, type ChildWeb } from '../ops/support/cluster.js';
import { startHttpGate, type HttpGate } from './support/httpGate.js';

// A token's GitHub check (server/bearer/tokenSessions.ts) racing GitHub's refusal of the same token seen
// by another web process. Two real web processes against one Redis, each reaching GitHub through a
// proxy that can hold its token checks (support/httpGate.ts): the order of events is forced, no timing.
// Once GitHub's refusal has been answered 401 on one process, the token must work nowhere, and the
// token session it had must be ended as the refusal's (its deploys stopped), whichever check was out.
// Serial: both tests hold the same gates.

let env: OpsEnv;
let webs: ChildWeb[];
let gates: HttpGate[];
/** GitHub's token check, `GET /user`. */
const tokenCheck = (method: string, path: string) => method === 'GET' && path.split('?')[0]!.endsWith('/user');
sharedFixture(test, () => startOpsEnv(), async (started) => {
  env = started;
  gates = await Promise.all([startHttpGate(env.github.apiUrl), startHttpGate(env.github.apiUrl)]);
  webs = await Promise.all(gates.map((g) => env.spawnWeb({ env: { GITHUB_API_URL: g.apiUrl } })));
});
test.after.always(async () => { await Promise.all((gates ?? []).map((g) => g.close())); });

let nextUserId = 93_000;
function newUser(login: string): { id: number; token: string } {
  const id = nextUserId++;
  env.github.addUser({ id, login, name: `${login} name` });
  return { id, token: env.github.issueToken(login) };
}
async function call(web: ChildWeb, token: string, path: string, method = 'GET', body?: unknown) {
  const res = await fetch(`${web.url}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() as Record<string, any> };
}
/** The user's sessions whose record exists (refs in its index). */
async function liveSessions(userId: number): Promise<string[]> {
  const { client, prefix } = env.redis;
  const refs = await client.smembers(`${prefix}:user:${userId}:sessions`);
  const exists = await Promise.all(refs.map((ref) => client.exists(`${prefix}:sess:${ref}`)));
  return refs.filter((_, i) => exists[i] === 1);
}

test.serial('a check GitHub answered "valid" before the token was revoked, arriving after another process saw the refusal: the token stays refused', async (t) => {
  const { id, token } = newUser('race-late-valid');
  gates[0]!.hold('response', tokenCheck); // GitHub says "valid" now; the answer reaches webs[0] later
  const late = call(webs[0]!, token, '/api/session');
  await gates[0]!.whenHeld();
  env.github.revokeToken(token);
  const refused = await call(webs[1]!, token, '/api/session');
  t.is(refused.status, 401);
  t.is(refused.json.error.code, 'github_token_invalid');
  gates[0]!.release();
  await late;
  // The refusal was answered: nothing sent after it works with the token, on either process.
  for (const w of webs) {
    const after = await call(w, token, '/api/session');
    t.is(after.status, 401, `after the refusal: ${after.status} ${JSON.stringify(after.json)}`);
  }
  t.deepEqual(await liveSessions(id), [], 'no token session lives on');
});

test.serial('GitHub refuses a check sent before the token\'s session was made: that session ends with the refusal, and its deploys stop', async (t) => {
  const login = 'race-orphan';
  const { id, token } = newUser(login);
  const apiKey = `rnd_raceorphan${'k'.repeat(24)}`;
  env.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  env.github.addRepo({ owner: login, name: 'app', branches: { main: { 'package.json': '{}', 'index.js': '' } } });
  gates[1]!.hold('request', tokenCheck); // webs[1]'s check waits before reaching GitHub
  const early = call(webs[1]!, token, '/api/session');
  await gates[1]!.whenHeld();
  // Meanwhile on webs[0]: the token's session, a key in it, a deploy (no worker runs: it stays queued).
  t.is((await call(webs[0]!, token, '/api/render/setup', 'POST', { api_key: apiKey })).status, 200);
  const deploy = await call(webs[0]!, token, '/api/render/deploy', 'POST', { github_repo: `${login}/app`, project_name: 'race-orphan' });
  t.is(deploy.status, 202, JSON.stringify(deploy.json));
  t.is((await liveSessions(id)).length, 1);
  env.github.revokeToken(token);
  gates[1]!.release();
  const refused = await early;
  t.is(refused.status, 401);
  t.is(refused.json.error.code, 'github_token_invalid');
  t.deepEqual(await liveSessions(id), [], 'the token session ended with GitHub\'s refusal');
  const status = await env.redis.client.hget(`${env.redis.prefix}:deployment:${deploy.json.id}`, 'status');
  t.is(status, 'credentials_revoked', 'its deploy stopped');
});
