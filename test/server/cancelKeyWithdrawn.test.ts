import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';
import { usePipelineStack, type PipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey } from '../helpers/pipeline.js';
import { waitUntil } from '../helpers/wait.js';

// A cancel reads the deploy on Render, then cancels it there: each call only while the request's session
// still holds its key, like every route that changes something on Render (serviceKeyWithdrawn.test.ts).
// The user may take the key back in another tab (sign out, clear it, connect another account's) while the
// read is at Render: nothing more goes out with that key, and the answer is the one a request sent then
// would get. Before, the cancel went on with the key it opened at its start and canceled the deploy on
// Render with a key the user had withdrawn (sign-out deliberately cancels nothing there, revocation.ts),
// then answered 409 "ended before the cancel reached it".

let stack: Stack;
let pipeline: PipelineStack;
usePipelineStack(test, { renderOptions: { manualDeploys: true } }, (p) => ({ stack, pipeline } = { stack: p.stack, pipeline: p }));

const DEPLOY_READ = '/services/{serviceId}/deploys/{deployId}';

/** `login`'s deployment, building on Render; its cancel held at the deploy's read while `withdraw` runs in another tab. */
async function cancelWithdrawnDuring(t: { teardown: (fn: () => Promise<void>) => void }, login: string, withdraw: (agent: Agent) => Promise<{ status: number; text: string }>, heldRoute = DEPLOY_READ) {
  const who = await signedInWithKey(stack, login);
  addNodeRepo(stack, login, 'app');
  const started = await who.agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: `${login}-app` });
  if (started.status !== 202) throw new Error(started.text);
  const id = started.json.id as string;
  const rec = await waitUntil('the deploy on Render', async () => {
    const r = await stack.web.deps.deployments.get(id);
    return r?.deployId ? r : null;
  }, 30_000, 25);
  stack.render.advanceDeploy(rec.deployId!); // building
  // No worker from here: the only Render calls are the cancel's.
  await pipeline.worker.close(5_000);
  t.teardown(async () => { pipeline.worker = await pipeline.startWorker(); });
  const held = stack.render.holdRequest({ method: heldRoute === DEPLOY_READ ? 'GET' : 'POST', route: heldRoute, apiKey: who.apiKey });
  const cancel = who.agent.post(`/api/render/deployments/${id}/cancel`);
  await held.arrived;
  const withdrawn = await withdraw(who.agent);
  if (withdrawn.status !== 200) throw new Error(withdrawn.text);
  const mark = stack.render.calls.length;
  held.release();
  const res = await cancel;
  const after = stack.render.calls.slice(mark).filter((c) => c.accountId === who.accountId).map((c) => `${c.method} ${c.route}`);
  const onRender = (await (await fetch(`${stack.render.url}/services/${rec.serviceId}/deploys/${rec.deployId}`, { headers: { authorization: `Bearer ${who.apiKey}` } })).json()) as { status: string };
  return { res, after, renderStatus: onRender.status };
}

test.serial('a cancel whose deploy read was at Render when the user signs out cancels nothing there and answers 401', async (t) => {
  const { res, after, renderStatus } = await cancelWithdrawnDuring(t, 'ckw-out', (agent) => agent.post('/api/auth/logout'));
  t.is(res.status, 401, res.text);
  t.deepEqual(after, [], 'no Render call after the sign-out was answered');
  t.is(renderStatus, 'build_in_progress');
});

test.serial('a cancel whose deploy read was at Render when the key was cleared cancels nothing there and says the key is missing', async (t) => {
  const { res, after, renderStatus } = await cancelWithdrawnDuring(t, 'ckw-clear', (agent) => agent.post('/api/render/clear-credentials'));
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'render_key_missing');
  t.deepEqual(after, [], 'no Render call after the clear was answered');
  t.is(renderStatus, 'build_in_progress');
});

test.serial('a cancel whose deploy read was at Render when another account\'s key was connected cancels nothing with the old key', async (t) => {
  const other = `rnd_ckwreplaced${'k'.repeat(20)}`;
  stack.render.addAccount({ apiKey: other, workspaces: [{ name: 'ckw other workspace' }] });
  const { res, after, renderStatus } = await cancelWithdrawnDuring(t, 'ckw-replace', (agent) => agent.post('/api/render/setup', { api_key: other }));
  t.is(res.status, 503, res.text);
  t.regex(res.json.error.message, /Render key changed while this cancel was at Render/);
  t.deepEqual(after, []);
  t.is(renderStatus, 'build_in_progress');
});

// The cancel itself at Render when the user signs out: it was sent before the sign-out (Render cancels the
// deploy), and the sign-out revoked the record meanwhile. Answered as a request sent then, 401, not 409
// "This deployment ended before the cancel reached it", which is not what happened.
test.serial('a cancel at Render when the user signs out answers 401, not that the deployment ended before it', async (t) => {
  const { res, after } = await cancelWithdrawnDuring(t, 'ckw-late', (agent) => agent.post('/api/auth/logout'), '/services/{serviceId}/deploys/{deployId}/cancel');
  t.is(res.status, 401, res.text);
  t.deepEqual(after, [], 'nothing after the cancel');
});
