import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey, waitFinished, statusesWhenPosted as statusesPosted } from '../helpers/pipeline.js';

// "The second deploy" of one repository under the same service name, into another Render account
// (key replaced) or another workspace. Service names are unique per workspace only, so these are two
// services; README says each service has its own commit status ("one per service, so two services
// deployed from one commit each show their own result").
let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

const statusesWhenPosted = (owner: string, repo: string, sha: string, n: number) => statusesPosted(stack, owner, repo, sha, n);

/** GitHub's combined view: the newest status of each context (what a branch protection rule reads). */
function newestPerContext(all: Array<{ context?: string; state: string }>) {
  const newest = new Map<string, string>();
  for (const s of all) newest.set(s.context ?? 'default', s.state);
  return newest;
}

test.serial('repo deployed as "app" with key A (live), then key B of another account connected and the repo deployed as "app" there (fails): A\'s success is not hidden', async (t) => {
  const { agent } = await signedInWithKey(stack, 'kswa');
  addNodeRepo(stack, 'kswa', 'shop');
  const first = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'kswa/shop', project_name: 'app' })).json.id);
  t.is(first.status, 'live');
  await statusesWhenPosted('kswa', 'shop', first.commitSha, 2);

  // The user's other Render account (prod, say): key B pasted in the same session.
  const keyB = 'rnd_kswaotheraccountkkkkkkkkkkk';
  stack.render.addAccount({ apiKey: keyB, workspaces: [{ name: 'kswa prod' }] });
  const setup = await agent.post('/api/render/setup', { api_key: keyB });
  t.is(setup.status, 200, setup.text);
  stack.render.failBuilds({ serviceName: 'app' }, 'build_failed');
  const second = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'kswa/shop', project_name: 'app' })).json.id);
  t.is(second.status, 'build_failed');
  t.is(second.commitSha, first.commitSha, 'the same commit, two services in two accounts');
  t.not(second.serviceId, first.serviceId);

  const all = await statusesWhenPosted('kswa', 'shop', first.commitSha, 4);
  const newest = newestPerContext(all);
  t.log([...newest]);
  // Two services, each with its result: the live one in account A must still read success.
  t.is(newest.size, 2, `one context per service; got ${JSON.stringify([...newest])}`);
  t.true([...newest.values()].includes('success'), 'A\'s live deploy of this commit shows nowhere on the commit any more');
});

test.serial('one key, two workspaces: the repo deployed as "app" to each (staging live, prod failed): each shows its own result', async (t) => {
  const apiKey = 'rnd_kswtwowsaccountkkkkkkkkkkkk';
  const account = stack.render.addAccount({ apiKey, workspaces: [{ name: 'staging' }, { name: 'prod' }] });
  const agent = stack.agent();
  await stack.signIn(agent, 'ksw2');
  t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
  addNodeRepo(stack, 'ksw2', 'shop');
  const [staging, prod] = account.workspaces.map((w) => w.id);
  const a = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'ksw2/shop', project_name: 'app', owner_id: staging })).json.id);
  t.is(a.status, 'live');
  await statusesWhenPosted('ksw2', 'shop', a.commitSha, 2);
  stack.render.failBuilds({ serviceName: 'app' }, 'build_failed');
  const b = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'ksw2/shop', project_name: 'app', owner_id: prod })).json.id);
  t.is(b.status, 'build_failed');
  t.is(b.commitSha, a.commitSha);
  const newest = newestPerContext(await statusesWhenPosted('ksw2', 'shop', a.commitSha, 4));
  t.log([...newest]);
  t.is(newest.size, 2, `one context per service; got ${JSON.stringify([...newest])}`);
});

test.serial('two users (owner and collaborator) deploy the same repo at the same moment, each to their own Render account under its default name: each commit status is its own', async (t) => {
  const owner = await signedInWithKey(stack, 'kswown');
  const collab = await signedInWithKey(stack, 'kswcol');
  stack.github.addRepo({
    owner: 'kswown', name: 'api', private: true, collaborators: ['kswcol'],
    branches: { main: { 'package.json': JSON.stringify({ name: 'api', scripts: { start: 'node index.js' } }), 'package-lock.json': '{}', 'index.js': '' } },
  });
  stack.render.failBuilds({ serviceName: 'api' }, 'build_failed', 1);
  const [ra, rb] = await Promise.all([
    owner.agent.post('/api/render/deploy', { github_repo: 'kswown/api', project_name: 'api' }),
    collab.agent.post('/api/render/deploy', { github_repo: 'kswown/api', project_name: 'api' }),
  ]);
  t.is(ra.status, 202, ra.text);
  t.is(rb.status, 202, rb.text);
  const [da, db] = await Promise.all([waitFinished(owner.agent, ra.json.id), waitFinished(collab.agent, rb.json.id)]);
  t.log(da.status, db.status);
  t.deepEqual([da.status, db.status].sort(), ['build_failed', 'live']);
  const all = await statusesWhenPosted('kswown', 'api', da.commitSha, 4);
  t.log(all.map((s) => `${s.login} ${s.context} ${s.state} ${s.targetUrl}`));
  const newest = newestPerContext(all);
  t.is(newest.size, 2, `one context per service; got ${JSON.stringify([...newest])}`);
});
