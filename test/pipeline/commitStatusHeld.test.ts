import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { addNodeRepo, signedInWithKey, startTestWorker, waitFinished } from '../helpers/pipeline.js';
import type { WorkerProcess } from '../../workers/process.js';

// Commit statuses run on their own queue (workers/tasks/commitStatus.ts): a GitHub that holds status
// writes (as its per-user pacing does, a second per write) must not hold deploy slots. Awaited in the
// deploy step, one tenant's deploys filled every slot and another tenant's deploy waited behind them.
let stack: Stack;
let worker: WorkerProcess & { logs: string[] };
test.before(async () => {
  stack = await startStack({ renderOptions: { phaseMs: { created: 10, build_in_progress: 40, pre_deploy_in_progress: 10, update_in_progress: 10 } } });
  // Two deploy slots: the busy tenant's three deploys alone would fill them if a step waited on GitHub.
  worker = await startTestWorker(stack, { concurrency: 2 });
});
test.after.always(async () => { await worker?.close(5_000); await stack?.close(); });

const statusPosts = () => stack.github.calls.filter((c) => c.method === 'POST' && c.path.includes('/statuses/')).length;

test.serial('a GitHub holding status writes delays neither the busy tenant\'s deploys nor another tenant\'s', async (t) => {
  const busy = await signedInWithKey(stack, 'held');
  const other = await signedInWithKey(stack, 'heldother');
  for (let i = 0; i < 3; i++) addNodeRepo(stack, 'held', `app${i}`);
  addNodeRepo(stack, 'heldother', 'solo');
  const release = stack.github.holdStatuses();
  t.teardown(release);

  const busyIds = await Promise.all([0, 1, 2].map(async (i) => (await busy.agent.post('/api/render/deploy', { github_repo: `held/app${i}`, project_name: `held-app${i}` })).json.id as string));
  const solo = await other.agent.post('/api/render/deploy', { github_repo: 'heldother/solo', project_name: 'heldother-solo' });
  t.is(solo.status, 202, solo.text);
  // Well under the GitHub client's 10 s request timeout: a step waiting on a held status would only
  // have moved on once that timed out.
  const soloDone = await waitFinished(other.agent, solo.json.id, 8_000);
  t.is(soloDone.status, 'live');
  const busyDone = await Promise.all(busyIds.map((id) => waitFinished(busy.agent, id, 8_000)));
  t.deepEqual(busyDone.map((d) => d.status), ['live', 'live', 'live']);
  t.is(statusPosts(), 0, 'every deploy ended while GitHub still held every status write');

  release();
  // Once GitHub answers, each deployment's statuses land in order: its pending status, if its job took
  // it up before the deploy ended (one that starts later posts what the record says then: the final
  // status supersedes it, workers/tasks/commitStatusState.ts), then the result, once.
  const commits = [...busyDone.map((d, i) => ['held', `app${i}`, d.commitSha as string]), ['heldother', 'solo', soloDone.commitSha as string]] as const;
  const states = (owner: string, repo: string, sha: string) => stack.github.statusesFor(owner, repo, sha).map((s) => s.state);
  for (const [owner, repo, sha] of commits) {
    for (let i = 0; i < 200 && states(owner, repo, sha).at(-1) !== 'success'; i++) await new Promise((r) => setTimeout(r, 50));
    const posted = states(owner, repo, sha);
    t.true(['pending,success', 'success'].includes(posted.join()), `${owner}/${repo}: ${posted.join()}`);
  }
});
