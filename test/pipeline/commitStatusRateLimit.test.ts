import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey, until, waitFinished } from '../helpers/pipeline.js';
import { commitStatusJobId } from '../../server/queues/commitStatusQueue.js';

// A commit status POST meeting GitHub's secondary rate limit (403 "You have exceeded a secondary rate limit",
// calls left, no Retry-After; GitHub: wait at least a minute). The status job left it to BullMQ's backoff (2 s
// doubling, 4 attempts): every attempt inside GitHub's minute, one more write against the limit each, and then
// the status was given up: the deploy went live with no status on its commit (a probe's). The job now waits as
// a delayed job for the minute the client names (retryAfterSeconds), as the deploy job does.

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

const SECONDARY = {
  status: 403,
  body: { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits' },
  headers: { 'x-ratelimit-remaining': '4990', 'x-ratelimit-limit': '5000' },
};

test('a secondary rate limit on the status POST: the status job waits GitHub\'s minute as a delayed job, no POST meanwhile', async (t) => {
  const { agent } = await signedInWithKey(stack, 'rlsec');
  addNodeRepo(stack, 'rlsec', 'app');
  stack.github.injectFault({ path: '/repos/rlsec/app/statuses', ...SECONDARY, times: 4 });
  const posts = () => stack.github.calls.filter((c) => c.method === 'POST' && c.path.includes('/repos/rlsec/app/statuses/'));
  const res = await agent.post('/api/render/deploy', { github_repo: 'rlsec/app', project_name: 'rlsec-app' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id);
  t.is(done.status, 'live');
  await until('a status POST met the limit', async () => posts().some((c) => c.status === 403));
  // The job that met it waits as a delayed job for GitHub's minute (the pending one's, or the final one's).
  const queue = stack.web.deps.commitStatusQueue;
  const ids = [commitStatusJobId(res.json.id, 'pending'), commitStatusJobId(res.json.id, 'final')];
  const delayed = await until('the status job waits', async () => {
    const jobs = (await queue.getDelayed()).filter((j) => ids.includes(j.id!));
    return jobs.length ? jobs : null;
  }, 20_000).catch(() => []);
  t.true(delayed.length > 0, `no status job waits: POSTs ${JSON.stringify(posts().map((c) => c.status))}`);
  for (const job of delayed) t.true(job.delay >= 59_000, `waits ${job.delay} ms, not GitHub's minute`);
  t.deepEqual(posts().map((c) => c.status), [403], 'one write against the limit, not one per BullMQ attempt');
});
