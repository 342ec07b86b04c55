import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderCalls, signedInWithKey, until, waitFinished } from '../helpers/pipeline.js';

// workers/runAligner.ts holds a deploy run that follows another closely before it starts (the job is
// already taken: active, locked). What happens to the deployment meanwhile must still count: a cancel or
// a sign-out during the hold ends it before anything is asked of Render. The window is stretched here to
// 3 s so the hold is certain; in production it is 100 ms.
let stack: Stack;
usePipelineStack(test, { worker: { runWindowMs: 3_000 } }, (p) => {
  ({ stack } = p);
});

/** Two users' deploys asked back to back: the first runs at once, the second is held by the window. */
async function secondDeployHeld(t: { is(a: unknown, b: unknown, m?: string): void }, first: string, second: string) {
  const a = await signedInWithKey(stack, first);
  addNodeRepo(stack, first, 'app');
  const b = await signedInWithKey(stack, second);
  addNodeRepo(stack, second, 'app');
  const ranA = await a.agent.post('/api/render/deploy', { github_repo: `${first}/app`, project_name: first });
  t.is(ranA.status, 202, ranA.text);
  const heldB = await b.agent.post('/api/render/deploy', { github_repo: `${second}/app`, project_name: second });
  t.is(heldB.status, 202, heldB.text);
  // Taken by the worker (active), yet nothing of it asked of GitHub's or Render's side: held.
  await until('the second deploy\'s job taken', async () => ((await stack.web.deps.queue.getJob(heldB.json.id))?.isActive()) ? true : null, 5_000);
  const rec = (await b.agent.get(`/api/render/deployments/${heldB.json.id}`)).json;
  t.is(rec.status, 'queued', 'its run has not started');
  return { a, b, idA: ranA.json.id as string, idB: heldB.json.id as string };
}

test.serial('a deploy canceled while its run is held by the window ends canceled, and nothing of it reaches Render', async (t) => {
  const { a, b, idA, idB } = await secondDeployHeld(t, 'aligned-first', 'aligned-canceled');
  const canceled = await b.agent.post(`/api/render/deployments/${idB}/cancel`);
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.status, 'canceled');
  const done = await waitFinished(b.agent, idB);
  t.is(done.status, 'canceled');
  t.is(done.failure?.message, 'You canceled this deploy.');
  t.deepEqual(renderCalls(stack, b.accountId, 'POST', '/services'), [], 'no service was created for it');
  t.is((await waitFinished(a.agent, idA)).status, 'live', 'the other user\'s deploy went on');
});

test.serial('a deploy whose user signs out while its run is held by the window stops there, and its key is never used for it', async (t) => {
  const { a, b, idA, idB } = await secondDeployHeld(t, 'aligned-first2', 'aligned-leaver');
  const callsAtSignOut = stack.render.calls.filter((c) => c.accountId === b.accountId).length;
  t.is((await b.agent.post('/api/auth/logout')).status, 200);
  // The held run starts once the window ends, finds the session gone and ends (or its job was removed).
  await until('the held run\'s end', async () => {
    const job = await stack.web.deps.queue.getJob(idB);
    return !job || job.finishedOn ? true : null;
  }, 15_000);
  t.is(stack.render.calls.filter((c) => c.accountId === b.accountId).length, callsAtSignOut, 'nothing asked of Render with the key after the sign-out');
  const again = stack.agent();
  await stack.signIn(again, 'aligned-leaver');
  const rec = (await again.get(`/api/render/deployments/${idB}`)).json;
  t.true(['canceled', 'credentials_revoked'].includes(rec.status), `ended by the sign-out (${rec.status})`);
  t.is((await waitFinished(a.agent, idA)).status, 'live', 'the other user\'s deploy went on');
});
