import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { startStack } from '../helpers/stack.js';
import { sharedFixture } from '../helpers/fixture.js';
import { signedInWithKey } from '../helpers/pipeline.js';

// A key marked refused, then accepted by Render again on POST /api/render/workspaces/refresh (its GET /owners
// answered 200): the mark goes whether or not the workspace list changed (STORE_CREDENTIALS drops a mark older
// than the moment Render was asked). The refresh used to store only a changed list: the same answer from Render
// left the key "rejected" when the list was unchanged, "verified" when it changed.

let stack: Stack;
sharedFixture(test, () => startStack(), (s) => { stack = s; });

async function markedBy401(login: string) {
  const user = await signedInWithKey(stack, login);
  // One 401 from Render for this key (a refusal Render does not repeat).
  const fault = stack.render.setFault({ kind: 'status', status: 401, method: 'GET', route: '/services', apiKey: user.apiKey, count: 1 });
  const refused = await user.agent.get('/api/render/services');
  stack.render.clearFault(fault);
  if (refused.json?.error?.code !== 'render_key_invalid') throw new Error(`${refused.status} ${refused.text}`);
  const status = await user.agent.get('/api/render/status');
  if (typeof status.json.rejectedAt !== 'string') throw new Error('not marked');
  return user;
}

test.serial('refresh after Render accepted the key, workspaces changed: the mark goes, verified again', async (t) => {
  const { agent, accountId, ownerId } = await markedBy401('pkref-changed');
  stack.render.setWorkspaces(accountId, [ownerId], { [ownerId]: 'renamed' });
  const res = await agent.post('/api/render/workspaces/refresh');
  t.is(res.status, 200, res.text);
  t.true(res.json.verified);
  t.false('rejectedAt' in res.json);
});

test.serial('refresh after Render accepted the key, workspaces unchanged: the mark goes too, as when they changed', async (t) => {
  const { agent } = await markedBy401('pkref-same');
  t.is((await agent.get('/api/render/services')).status, 200, 'Render accepts the key again');
  const res = await agent.post('/api/render/workspaces/refresh');
  t.is(res.status, 200, res.text);
  t.true(res.json.verified, 'Render just answered GET /owners with this key, as in the changed case');
  t.false('rejectedAt' in res.json);
});
