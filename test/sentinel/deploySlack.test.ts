import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import type { TestWorker } from '../helpers/pipeline.js';
import type { Agent } from '../helpers/agent.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey, waitFinished } from '../helpers/pipeline.js';

// Issue 15: deploy results to the user's own Slack webhook (Sentinel's webhook setting and SSRF guard),
// only when they turned deploy results on. The stack delivers hooks.slack.com webhooks to a local receiver.
let stack: Stack;
let worker: TestWorker;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack, worker } = p));

const webhook = (team: string) => `https://hooks.slack.com/services/${team}/B000/XXXXXXXXXXXXXXXX`;

async function waitForText(match: RegExp) {
  for (let i = 0; i < 200; i++) {
    const found = stack.slack.texts.find((x) => match.test(x));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  return null;
}

test('turned on: one message when the deploy is live and one when a build fails, ids and names only', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'slacker');
  const put = await agent.request('PUT', '/api/sentinel', { json: { enabled: true, slackWebhookUrl: webhook('TSLACKER'), slackDeployResults: true } });
  t.is(put.status, 200, put.text);
  t.true(put.json.slack.deployResults);
  addNodeRepo(stack, 'slacker', 'shop');
  addNodeRepo(stack, 'slacker', 'broken');
  stack.render.failBuilds({ serviceName: 'slacker-broken' }, 'build_failed');
  const ok = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'slacker/shop', project_name: 'slacker-shop', env_vars: [{ key: 'TOKEN', value: 'slack-secret-value-1' }] })).json.id);
  t.is(ok.status, 'live');
  const live = await waitForText(/slacker-shop is live/);
  t.truthy(live, stack.slack.texts.join('\n'));
  t.true(live!.includes(`${stack.config.baseUrl}/#/deployments/${ok.id}`));
  t.true(live!.includes('slacker/shop@main'));
  const bad = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'slacker/broken', project_name: 'slacker-broken' })).json.id);
  t.is(bad.status, 'build_failed');
  t.truthy(await waitForText(/slacker-broken failed: build_failed/));
  t.is(stack.slack.bodies.filter((b) => b.includes('slacker-shop is live')).length, 1, 'one message per deployment');
  for (const secret of [apiKey, 'slack-secret-value-1', ...stack.github.tokensFor('slacker')]) t.false(stack.slack.bodies.join('\n').includes(secret));
  t.true(stack.slack.bodies.filter((b) => b.includes('slacker-')).every((b) => b.startsWith('POST /services/TSLACKER/')), 'to the user\'s own webhook');
});

test('webhook set but deploy results off (the default): no deploy message', async (t) => {
  const { agent } = await signedInWithKey(stack, 'quiet');
  const put = await agent.request('PUT', '/api/sentinel', { json: { enabled: true, slackWebhookUrl: webhook('TQUIET') } });
  t.false(put.json.slack.deployResults);
  addNodeRepo(stack, 'quiet', 'app');
  const done = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: 'quiet/app', project_name: 'quiet-app' })).json.id);
  t.is(done.status, 'live');
  // The deploy job's run is over (its Slack step settled) once the worker logs it done. (Its commit
  // statuses are no signal for this: a pending one may be superseded by the final one, and the final one
  // is asked alongside the Slack step.)
  const jobDone = () => worker.logs.some((l) => l.includes('"deploy job done"') && l.includes(done.id));
  for (let i = 0; i < 200 && !jobDone(); i++) await new Promise((r) => setTimeout(r, 50));
  t.true(jobDone());
  t.false(stack.slack.texts.some((x) => x.includes('quiet-app')));
  const bad = await agent.request('PUT', '/api/sentinel', { json: { enabled: true, slackDeployResults: 'yes' } });
  t.is(bad.status, 400);
  t.is(bad.json.error.code, 'validation_failed');
});

/** `login` signed in with a key, its watch turned on with deploy results (hourly), and its first round run: the next is an hour away. */
async function watchingWithDeployResults(t: ExecutionContext, login: string) {
  const user = await signedInWithKey(stack, login);
  const put = await user.agent.request('PUT', '/api/sentinel', { json: { enabled: true, intervalSeconds: 3600, slackWebhookUrl: webhook(`T${login.toUpperCase()}`), slackDeployResults: true } });
  t.is(put.status, 200, put.text);
  for (let i = 0; i < 200 && !(await user.agent.get('/api/sentinel')).json.lastRunAt; i++) await new Promise((r) => setTimeout(r, 50));
  t.truthy((await user.agent.get('/api/sentinel')).json.lastRunAt, 'the first round ran');
  return user;
}

/** `repo` deployed live through `agent`, its job over, and no deploy result posted for it. */
async function deployedWithNoResult(t: ExecutionContext, agent: Agent, login: string, repo: string, why: string) {
  const done = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: `${login}/${repo}`, project_name: `${login}-${repo}` })).json.id);
  t.is(done.status, 'live');
  const jobDone = () => worker.logs.some((l) => l.includes('"deploy job done"') && l.includes(done.id));
  for (let i = 0; i < 200 && !jobDone(); i++) await new Promise((r) => setTimeout(r, 50));
  t.true(jobDone());
  t.deepEqual(stack.slack.texts.filter((x) => x.includes(`${login}-${repo}`)), [], why);
}

/**
 * The session that turned deploy results on ends its consent (`end`): no more messages, and its watch
 * shows as off to the user's other session (and to its own, when it still lives).
 */
async function consentEnds(t: ExecutionContext, login: string, end: 'signOut' | 'clearKey') {
  const { agent: browser, apiKey } = await watchingWithDeployResults(t, login);

  // The same user's other session (another device, CI with its token) deploys too.
  const other = stack.agent();
  await stack.signIn(other, login);
  t.is((await other.post('/api/render/setup', { api_key: apiKey })).status, 200);
  const seenBefore = (await other.get('/api/sentinel')).json;
  t.like(seenBefore, { enabled: true, watchingThisSession: false, slack: { deployResults: true } });
  addNodeRepo(stack, login, 'before');
  addNodeRepo(stack, login, 'after');
  const before = await waitFinished(other, (await other.post('/api/render/deploy', { github_repo: `${login}/before`, project_name: `${login}-before` })).json.id);
  t.is(before.status, 'live');
  t.truthy(await waitForText(new RegExp(`${login}-before is live`)), 'while the consenting session lives, the other session\'s deploys are posted');

  if (end === 'signOut') t.is((await browser.post('/api/auth/logout')).status, 200);
  else {
    t.is((await browser.post('/api/render/clear-credentials')).status, 200);
    t.like((await browser.get('/api/sentinel')).json, { enabled: false, slack: { configured: false, deployResults: false } }, 'its own page says the watch is off');
  }
  const seenAfter = (await other.get('/api/sentinel')).json;
  t.like(seenAfter, { enabled: false, watchingThisSession: false, slack: { configured: false, deployResults: false } });

  await deployedWithNoResult(t, other, login, 'after', 'no deploy result after the consenting session\'s consent ended');
}

test('the session that turned deploy results on signs out: no more messages, and its watch shows as off to the user\'s other session', async (t) => {
  // The setting is that session's consent ("while I am signed in"), as the watch is: a round stops the
  // watch once its session ended, but with hourly rounds deploy results went on meanwhile (found by an
  // adversarial review).
  await consentEnds(t, 'slackout', 'signOut');
});

test('the session that turned deploy results on clears its key: no more messages, and its watch shows as off to both sessions', async (t) => {
  // "Signing out (or clearing the key) ends the watch": a round stops a watch whose session holds no key,
  // but until then (an hour) deploy results went on and the page said the watch was on (found by a review).
  await consentEnds(t, 'slackclear', 'clearKey');
});

test('a watch ended by clearing the key stays ended when a key is connected again before the next round', async (t) => {
  // The end was only read from the session (it holds no key): a key connected again in the same session
  // before the next round (up to an hour) brought the watch back on, with its webhook (found by a review).
  const login = 'slackreclear';
  const { agent: browser } = await watchingWithDeployResults(t, login);

  t.is((await browser.post('/api/render/clear-credentials')).status, 200);
  const otherKey = `rnd_slackreclearother${'k'.repeat(20)}`;
  stack.render.addAccount({ apiKey: otherKey, workspaces: [{ name: 'other workspace' }] });
  t.is((await browser.post('/api/render/setup', { api_key: otherKey })).status, 200);
  t.like((await browser.get('/api/sentinel')).json, { enabled: false, slack: { configured: false, deployResults: false } });

  addNodeRepo(stack, login, 'later');
  await deployedWithNoResult(t, browser, login, 'later', 'no deploy result from the ended watch');
});
