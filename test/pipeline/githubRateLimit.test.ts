import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderCalls, signedInWithKey, waitFinished } from '../helpers/pipeline.js';

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

// GitHub's primary rate limit used up (403, x-ratelimit-remaining: 0, reset an hour away): every
// request until the reset gets the same answer, and GitHub warns that an integration that keeps asking
// while limited may be banned (docs.github.com, "Rate limits for the REST API"). The deploy retried it
// as an outage, asking again at each of its attempts, and ended "Render or GitHub kept failing".
test('GitHub\'s rate limit used up for an hour ends the deploy saying so, without asking GitHub again at each retry', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'limited');
  addNodeRepo(stack, 'limited', 'app');
  const reset = Math.ceil(Date.now() / 1000) + 3600;
  stack.github.injectFault({
    path: '/repos/limited/app', status: 403, times: 100,
    body: { message: 'API rate limit exceeded for user ID 1.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api' },
    headers: { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset), 'x-ratelimit-resource': 'core' },
  });
  const before = stack.github.calls.filter((c) => c.path.startsWith('/api/v3/repos/limited/app') || c.path.startsWith('/repos/limited/app')).length;
  const res = await agent.post('/api/render/deploy', { github_repo: 'limited/app', project_name: 'limited-app', branch: 'main' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'failed');
  t.is(done.failure?.code, 'github_rate_limited', JSON.stringify(done.failure));
  t.regex(done.failure?.message ?? '', /rate limit/i);
  t.regex(done.failure?.message ?? '', /deploy again/i);
  const asked = stack.github.calls.filter((c) => c.path.startsWith('/api/v3/repos/limited/app') || c.path.startsWith('/repos/limited/app')).length - before;
  t.is(asked, 1, `GitHub asked ${asked} times while limited`);
  t.is(renderCalls(stack, accountId, 'POST', '/services').length, 0, 'nothing was created on Render');
});

// A secondary rate limit with a short Retry-After is waited out (a delayed job), and the deploy goes on.
test('a GitHub secondary rate limit with a short Retry-After is waited out and the deploy goes live', async (t) => {
  const { agent } = await signedInWithKey(stack, 'briefly');
  addNodeRepo(stack, 'briefly', 'app');
  stack.github.injectFault({
    path: '/repos/briefly/app', status: 403, times: 1, headers: { 'retry-after': '1' },
    body: { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api' },
  });
  const res = await agent.post('/api/render/deploy', { github_repo: 'briefly/app', project_name: 'briefly-app', branch: 'main' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'live', JSON.stringify(done.failure));
});
