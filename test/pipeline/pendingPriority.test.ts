import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';

// Fairness (server/queues/deployQueue.ts): a deploy job's priority is 1 + its user's jobs not yet
// started. A job canceled, or revoked by a sign-out, while still queued never starts: until the
// record write that ends it left the user's pending set too, each one cost the user's later deploys a
// priority step, for as long as they kept deploying (each enqueue renews the set's 7 days). Found by
// an adversarial review. No worker here: jobs stay queued.

let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

async function signedIn(login: string, id: number, apiKey = `rnd_${login}${'k'.repeat(24)}`, opts: { newAccount?: boolean } = {}): Promise<Agent> {
  if (opts.newAccount !== false) stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  const agent = stack.agent();
  await stack.signIn(agent, login, { id });
  const res = await agent.post('/api/render/setup', { api_key: apiKey });
  if (res.status !== 200) throw new Error(`setup: ${res.status} ${res.text}`);
  return agent;
}

const pendingOf = (userId: number) => stack.redis.client.zrange(`${stack.redis.prefix}:user:${userId}:pending`, '0', '-1');

async function loneDeployPriority(agent: Agent, repo: string): Promise<{ id: string; priority: number | undefined }> {
  const lone = await agent.post('/api/render/deploy', { github_repo: repo, project_name: 'lone' });
  if (lone.status !== 202) throw new Error(`deploy: ${lone.status} ${lone.text}`);
  const job = await stack.web.deps.queue.getJob(lone.json.id);
  return { id: lone.json.id, priority: job?.opts.priority };
}

test('deployments canceled while queued no longer count against their user\'s priority', async (t) => {
  const userId = 8801;
  const agent = await signedIn('pendcancel', userId);
  for (let i = 0; i < 3; i++) {
    const res = await agent.post('/api/render/deploy', { github_repo: 'pendcancel/app', project_name: `app-${i}` });
    t.is(res.status, 202, res.text);
    const canceled = await agent.post(`/api/render/deployments/${res.json.id}/cancel`);
    t.is(canceled.status, 200, canceled.text);
    t.is(canceled.json.status, 'canceled');
    t.is(await stack.web.deps.queue.getJob(res.json.id), undefined, 'its job is gone');
  }
  t.deepEqual(await pendingOf(userId), []);
  const lone = await loneDeployPriority(agent, 'pendcancel/app');
  t.is(lone.priority, 1, 'the user\'s only waiting deploy has the best priority');
  t.deepEqual(await pendingOf(userId), [lone.id], 'only the job still waiting counts');
});

test('deployments revoked by a sign-out while queued no longer count against their user\'s priority', async (t) => {
  const userId = 8802;
  const apiKey = `rnd_pendsignout${'k'.repeat(24)}`;
  const first = await signedIn('pendsignout', userId, apiKey);
  for (let i = 0; i < 2; i++) t.is((await first.post('/api/render/deploy', { github_repo: 'pendsignout/app', project_name: `app-${i}` })).status, 202);
  t.is((await pendingOf(userId)).length, 2);
  t.is((await first.post('/api/auth/logout')).status, 200);
  t.deepEqual(await pendingOf(userId), [], 'the signed-out session\'s queued deploys left the count');
  const second = await signedIn('pendsignout', userId, apiKey, { newAccount: false });
  const lone = await loneDeployPriority(second, 'pendsignout/app');
  t.is(lone.priority, 1);
});
