import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { Agent } from '../helpers/agent.js';

// X-Render-Api-Key runs a request on a key session of its own (server/bearer/middleware.ts), thrown away
// when the request ends. The routes that act on the caller's session itself (sign out, store or clear the
// Render key) used to act on that throwaway session and answer 200: a script sending the header on every
// request "signed out" while its token session, and the Render key stored in it, lived on. They refuse
// the header (400, nothing changes), so the caller resends without it and acts on the token session.
let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

let nextId = 9300;
function tokenUser(login: string) {
  stack.github.addUser({ id: nextId++, login, name: `${login} name` });
  const token = stack.github.issueToken(login);
  const stored = `rnd_${login}${'s'.repeat(24)}`;
  const perRequest = `rnd_${login}${'p'.repeat(24)}`;
  stack.render.addAccount({ apiKey: stored, workspaces: [{ name: `${login} stored ws` }] });
  stack.render.addAccount({ apiKey: perRequest, workspaces: [{ name: `${login} per-request ws` }] });
  return { plain: new Agent(stack.url, { authorization: `Bearer ${token}` }), withKey: new Agent(stack.url, { authorization: `Bearer ${token}`, 'x-render-api-key': perRequest }) };
}
const sessionCount = async () => (await stack.redis.client.keys(`${stack.config.redisPrefix}:sess:*`)).length;

for (const [name, path, body] of [
  ['sign-out', '/api/auth/logout', undefined],
  ['key setup', '/api/render/setup', 'the per-request key'],
  ['key clear', '/api/render/clear-credentials', undefined],
] as const) {
  test.serial(`${name} with X-Render-Api-Key is refused and leaves the token session and its stored key as they were`, async (t) => {
    const { plain, withKey } = tokenUser(`own-${name.replace(/\W/g, '')}`);
    const stored = `rnd_own-${name.replace(/\W/g, '')}${'s'.repeat(24)}`;
    t.is((await plain.post('/api/render/setup', { api_key: stored })).status, 200);
    const before = await plain.get('/api/render/status');
    const sessions = await sessionCount();
    const res = await withKey.post(path, body ? { api_key: (withKey.defaults)['x-render-api-key'] } : undefined);
    t.is(res.status, 400, res.text);
    t.is(res.json.error.code, 'bad_request');
    t.regex(res.json.error.message, /X-Render-Api-Key/);
    const after = await plain.get('/api/render/status');
    t.is(after.status, 200, 'the token session still lives');
    t.deepEqual(after.json, before.json, 'its stored key is the same one');
    t.is(await sessionCount(), sessions, 'no key session is left behind');
  });
}
