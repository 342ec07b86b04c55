import test from 'ava';
import { manualClock } from '../../server/clock.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { removeDeployJob } from '../../server/queues/deployQueue.js';
import type { Agent } from '../helpers/agent.js';

// An Idempotency-Key is claimed (SET NX, 24 hours) before the deployment's record is written. A web process
// that dies between the two leaves a claim naming a deployment that nobody will ever write; every retry
// with that key used to answer 409 idempotency_in_progress for the claim's whole 24 hours. A claim whose
// deployment still has no record well after it was made (IDEMPOTENCY_ABANDONED_MS) is taken over by the retry.
const clock = manualClock();
let stack: Stack;
test.before(async () => { stack = await startStack({ clock }); });
test.after.always(async () => { await stack?.close(); });

async function signedIn(login: string, id: number): Promise<Agent> {
  const apiKey = `rnd_${login}${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  const agent = stack.agent();
  await stack.signIn(agent, login, { id });
  const res = await agent.post('/api/render/setup', { api_key: apiKey });
  if (res.status !== 200) throw new Error(`setup: ${res.status} ${res.text}`);
  return agent;
}

test.serial('a claim left by a request that died before writing its deployment is taken over by a later retry, not a 409 for 24 hours', async (t) => {
  const userId = 7300;
  const agent = await signedIn('idemdead', userId);
  const body = { github_repo: 'idemdead/app', project_name: 'dead-app' };
  const headers = { 'idempotency-key': 'ci-abandoned-1' };
  const first = await agent.post('/api/render/deploy', body, { headers });
  t.is(first.status, 202);
  // What the dying process leaves: its claim, and no record or job of the deployment it names.
  await stack.web.deps.deployments.discard(first.json.id, userId);
  await removeDeployJob(stack.web.deps.queue, first.json.id);
  t.is((await agent.get(`/api/render/deployments/${first.json.id}`)).status, 404);

  // Right away the first request may still be writing: the retry is told to come back.
  const early = await agent.post('/api/render/deploy', body, { headers });
  t.is(early.status, 409);
  t.is(early.json.error.code, 'idempotency_in_progress');
  t.is(early.headers.get('retry-after'), '1', 'says when to ask again');

  clock.advance(3 * 60_000);
  const retried = await agent.post('/api/render/deploy', body, { headers });
  t.is(retried.status, 202, retried.text);
  t.is(retried.headers.get('idempotent-replayed'), null, 'a deployment of its own');
  t.not(retried.json.id, first.json.id);
  t.truthy(await stack.web.deps.queue.getJob(retried.json.id), 'its job is queued');
  // The key now names the new deployment: the next retry replays it; another body is still refused.
  const replay = await agent.post('/api/render/deploy', body, { headers });
  t.is(replay.status, 202);
  t.is(replay.headers.get('idempotent-replayed'), 'true');
  t.is(replay.json.id, retried.json.id);
  const other = await agent.post('/api/render/deploy', { ...body, project_name: 'other-app' }, { headers });
  t.is(other.status, 409);
  t.is(other.json.error.code, 'idempotency_key_reused');
});
