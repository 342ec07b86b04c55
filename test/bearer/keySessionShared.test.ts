import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { Agent } from '../helpers/agent.js';
import { usePipelineStack, QUICK_PHASES, type PipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, until, waitFinished, type TestWorker } from '../helpers/pipeline.js';

// X-Render-Api-Key (stateless CI): the key lives in a session of the request's own, kept while a deploy
// it started is unfinished (server/bearer/keySessions.ts). One POST /mcp may start several: a JSON-RPC
// batch of two deploy_repo calls runs both on that one key session. The first one ending (canceled
// here; a fast failure alike) must not take the key from the other, still running.
let pipeline: PipelineStack;
let stack: Stack;
let worker: TestWorker;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => {
  pipeline = p;
  ({ stack, worker } = p);
});

test.serial('two deploys started by one /mcp batch with X-Render-Api-Key: canceling one leaves the other its key', async (t) => {
  const login = 'batchkey';
  stack.github.addUser({ id: 9100, login });
  const token = stack.github.issueToken(login);
  const apiKey = `rnd_${login}${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  addNodeRepo(stack, login, 'one');
  addNodeRepo(stack, login, 'two');
  const plain = new Agent(stack.url, { authorization: `Bearer ${token}` });
  t.is((await plain.get('/api/session')).status, 200);
  const sessions = async () => (await stack.redis.client.keys(`${stack.config.redisPrefix}:sess:*`)).length;
  const before = await sessions();
  await worker.close(5_000); // both queued before either runs

  const mcp = new Agent(stack.url, { authorization: `Bearer ${token}`, 'x-render-api-key': apiKey, accept: 'application/json, text/event-stream' });
  const deploy = (id: number, repo: string) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'deploy_repo', arguments: { github_repo: `${login}/${repo}`, project_name: repo } } });
  const batch = await mcp.post('/mcp', [deploy(1, 'one'), deploy(2, 'two')]);
  t.is(batch.status, 200, batch.text);
  const ids = (batch.json as Array<{ id: number; result: { isError?: boolean; structuredContent: { id: string } } }>)
    .sort((a, b) => a.id - b.id).map((a) => { t.falsy(a.result.isError, JSON.stringify(a.result)); return a.result.structuredContent.id; });
  t.is(ids.length, 2);

  const canceled = await plain.post(`/api/render/deployments/${ids[0]}/cancel`);
  t.is(canceled.json.status, 'canceled', canceled.text);

  worker = await pipeline.startWorker();
  const other = await waitFinished(plain, ids[1]!);
  t.is(other.status, 'live', JSON.stringify(other.failure));
  // The last of its deploys ended: the key session goes.
  await until('the key session discarded', async () => (await sessions()) === before);
  t.pass();
});
