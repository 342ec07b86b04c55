import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { startStack } from '../helpers/stack.js';
import { sharedFixture } from '../helpers/fixture.js';
import { createRenderClient } from '../../server/render/client.js';

// GET /api/render/services retries with the session's new key when its list load stopped because the key was
// replaced meanwhile (routes/services.ts listAsNow). A Render 401 to that retry is the NEW key's refusal, and the
// session holds the new key: its status says rejected. The note (render/keyRejected.ts) took the fingerprint
// from the session as the request loaded it (the old key's), so the mark compared against the wrong key and was
// dropped; now the refused call's error names its key (render/errors.ts refusedKeyOf).

let stack: Stack;
sharedFixture(test, () => startStack(), (s) => { stack = s; });

const keyOf = (name: string) => `rnd_${name.replace(/[^A-Za-z0-9]/g, '')}${'q'.repeat(24)}`;

test.serial('a services list retried with the key connected meanwhile: Render refusing that key marks the session', async (t) => {
  const login = 'pkrej-retry';
  const first = keyOf(`${login}-a`);
  stack.render.addAccount({ apiKey: first, workspaces: [{ name: 'a ws' }] });
  const tabA = stack.agent();
  await stack.signIn(tabA, login);
  t.is((await tabA.post('/api/render/setup', { api_key: first })).status, 200);
  // One service, so the load makes a second call (its latest deploy) after the list: the check before it
  // finds the key replaced (RenderKeyWithdrawn) and the route retries with the session's key now.
  const render = createRenderClient({ baseUrl: stack.render.url, apiKey: first });
  const ownerId = (await tabA.get('/api/render/status')).json.owners[0].id;
  await render.createService({ type: 'web_service', name: 'pkrej-web', ownerId, repo: 'https://github.com/acme/pkrej-web', branch: 'main', autoDeploy: 'yes',
    serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } } });

  // The same session in a second tab (same cookie).
  const tabB = stack.agent();
  for (const [k, v] of tabA.jar) tabB.jar.set(k, v);
  tabB.csrfToken = tabA.csrfToken;

  const held = stack.render.holdRequest({ method: 'GET', route: '/services', apiKey: first });
  const list = tabA.get('/api/render/services');
  await held.arrived;
  const second = keyOf(`${login}-b`);
  stack.render.addAccount({ apiKey: second, workspaces: [{ name: 'b ws' }] });
  const setup = await tabB.post('/api/render/setup', { api_key: second });
  t.is(setup.status, 200, setup.text);
  // The new key is revoked on Render right after it was connected.
  stack.render.revokeKey(second);
  held.release();
  const res = await list;
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'render_key_invalid', 'the retry went out with the new key and Render refused it');

  const status = await tabA.get('/api/render/status');
  t.is(status.json.keyHint, `rnd_...${second.slice(-4)}`, 'the session holds the new key');
  t.false(status.json.verified, 'Render refused the key the session holds: not verified');
  t.is(typeof status.json.rejectedAt, 'string', 'the refusal of the key the session holds is noted');
});

test.serial('the same new key refused on a plain call is marked', async (t) => {
  const login = 'pkrej-retry-ctl';
  const first = keyOf(`${login}-a`);
  stack.render.addAccount({ apiKey: first, workspaces: [{ name: 'a ws' }] });
  const agent = stack.agent();
  await stack.signIn(agent, login);
  t.is((await agent.post('/api/render/setup', { api_key: first })).status, 200);
  const second = keyOf(`${login}-b`);
  stack.render.addAccount({ apiKey: second, workspaces: [{ name: 'b ws' }] });
  t.is((await agent.post('/api/render/setup', { api_key: second })).status, 200);
  stack.render.revokeKey(second);
  t.is((await agent.get('/api/render/services')).json.error?.code, 'render_key_invalid');
  t.is(typeof (await agent.get('/api/render/status')).json.rejectedAt, 'string');
});
