import test from 'ava';
import { Redis } from 'ioredis';
import { startStack, type Stack } from '../helpers/stack.js';
import { addNodeRepo, signedInWithKey } from '../helpers/pipeline.js';

// A key cleared in one tab while another tab connects a new key and deploys with it. The clear removes
// the old key, waits for every process to drop its cached copy (the fence, server/sessions/fence.ts),
// then stops the session's deploys: all of them, so a deploy the other tab started with the new key in
// that wait was stopped too ("you cleared your Render key"), though its key was never cleared.
// The fence is held here by a subscriber of the test's own that acks when the test says so.

let stack: Stack;
test.before(async () => { stack = await startStack({ env: { SESSION_END_FENCE_MS: '600000' } }); });
test.after.always(async () => { await stack?.close(); });

test.serial('a clear stops the deploys made with the key it removed, not one made with a key connected meanwhile', async (t) => {
  const { agent } = await signedInWithKey(stack, 'clear-race');
  addNodeRepo(stack, 'clear-race', 'app');
  const old = await agent.post('/api/render/deploy', { github_repo: 'clear-race/app', project_name: 'clear-race-old' });
  t.is(old.status, 202); // no worker runs: deploys stay queued

  const fenceChannel = stack.web.deps.sessions.keys.fenceChannel;
  const held = new Redis(stack.redis.url);
  const acker = new Redis(stack.redis.url);
  try {
    const fence = new Promise<string[]>((resolve) => held.on('message', (_channel: string, message: string) => resolve(message.split(' '))));
    await held.subscribe(fenceChannel);
    const clearing = agent.post('/api/render/clear-credentials'); // tab B
    const [nonce, ackChannel] = await fence; // the old key is removed; the clear waits for our ack

    // Tab A connects another key and deploys with it.
    const other = 'rnd_clearraceotherkey0123456789';
    stack.render.addAccount({ apiKey: other, workspaces: [{ name: 'clear-race other' }] });
    t.is((await agent.post('/api/render/setup', { api_key: other })).status, 200);
    const fresh = await agent.post('/api/render/deploy', { github_repo: 'clear-race/app', project_name: 'clear-race-new' });
    t.is(fresh.status, 202);

    await acker.publish(ackChannel!, nonce!);
    t.is((await clearing).status, 200);
    t.is((await stack.web.deps.deployments.get(old.json.id))?.status, 'credentials_revoked', 'the cleared key\'s deploy stopped');
    t.is((await stack.web.deps.deployments.get(fresh.json.id))?.status, 'queued', 'the new key\'s deploy goes on');
    t.true((await agent.get('/api/render/status')).json.configured, 'the new key stays');
  } finally {
    held.disconnect();
    acker.disconnect();
  }
});
