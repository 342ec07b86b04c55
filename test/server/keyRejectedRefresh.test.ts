import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { signedInWithKey } from '../helpers/pipeline.js';

// POST /api/render/workspaces/refresh stores the new list through STORE_CREDENTIALS, which HDELed `krej`
// unconditionally: a mark written while the refresh was in flight (Render answered its GET
// /owners, then the key was revoked and a deploy step or another tab's call met the 401 and marked it) was
// wiped, the status verified again though Render refuses the key. The mark is written here by the
// store's own markKeyRejected (what keyRejected.ts calls), while the refresh's GET /owners is held.
let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

test('a refusal noted while a workspaces refresh is at Render (the key revoked meanwhile) survives the refresh\'s write', async (t) => {
  const { agent, apiKey, accountId, ownerId } = await signedInWithKey(stack, 'probe-refresh-mark');
  const userId = (await agent.get('/api/session')).json.user.id as number;
  stack.render.setWorkspaces(accountId, [ownerId], { [ownerId]: 'renamed on Render' });

  const held = stack.render.holdRequest({ method: 'GET', route: '/owners', apiKey });
  const refresh = agent.post('/api/render/workspaces/refresh');
  await held.arrived;

  // The session's record and its key's fingerprint, as the worker's noteKeyRejected would use them.
  const redis = stack.redis.client;
  const refs = await redis.keys(`${stack.redis.prefix}:sess:*`);
  let ref = ''; let kfp = '';
  for (const k of refs) {
    const [uid, fp] = await redis.hmget(k, 'uid', 'kfp');
    if (uid === String(userId) && fp) { ref = k.slice(`${stack.redis.prefix}:sess:`.length); kfp = fp; }
  }
  t.truthy(ref);
  t.is(await stack.web.deps.sessions.markKeyRejected(ref, userId, kfp), 'marked');
  t.is(typeof (await agent.get('/api/render/status')).json.rejectedAt, 'string', 'marked while the refresh is at Render');

  held.release();
  const res = await refresh;
  t.is(res.status, 200, res.text);
  // Its answer too: the tab that refreshed takes it as its session (web/assets/app.js refreshWorkspaces).
  t.is(typeof res.json.rejectedAt, 'string', 'the refresh answered the key as verified though the session keeps the refusal');
  const status = await agent.get('/api/render/status');
  t.is(typeof status.json.rejectedAt, 'string', 'the refusal noted meanwhile was wiped by the refresh\'s write');
});
