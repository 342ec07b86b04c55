import test from 'ava';
import { startPipelineStack, QUICK_PHASES, type PipelineStack } from '../helpers/pipelineStack.js';
import { liveService, renderCalls, until } from '../helpers/pipeline.js';

// Found by a review of the change that cut a 429's wait to the watch's bound (so a day's Retry-After no longer
// left a deploy "Building" for the day): the cut applied to any record whose ask was marked, on the premise that
// "the watch gives up once strictly past its bound", but a record in triggering_deploy never reaches the watch.
// Past the bound, every 429 was waited out for 1 ms and the next run met the 429 again: ~15 requests a second
// into Render's rate limit. Only a watched status is cut now (deployTask.ts rateLimitedWaitMs).

let p: PipelineStack;
test.before(async () => {
  p = await startPipelineStack({ renderOptions: { phaseMs: QUICK_PHASES } });
});
test.after.always(async () => { await p?.close(); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.serial('a redeploy in triggering_deploy past the watch bound honours Render\'s Retry-After (no 429 storm)', async (t) => {
  const { agent, apiKey, accountId, serviceId } = await liveService(p.stack, 'storm');
  await p.worker.close(5_000);
  const worker = await p.startWorker({ watch: { maxMs: 3_000, queuedUnmatchedMs: 3_000 } });
  t.teardown(() => worker.close(5_000));
  // The trigger itself: 429, wait 5 s (past the 3 s bound, counted from deployRequestedAt, marked before the ask).
  const trig = p.stack.render.setFault({ method: 'POST', route: '/services/{serviceId}/deploys', kind: 'status', status: 429, ms: 5_000, count: 1, apiKey });
  t.teardown(() => p.stack.render.clearFault(trig));
  const before = renderCalls(p.stack, accountId, 'POST', '/services/{serviceId}/deploys').length;
  const res = await agent.post(`/api/render/services/${serviceId}/redeploy`);
  t.is(res.status, 202, res.text);
  await until('the trigger answered 429', async () => renderCalls(p.stack, accountId, 'POST', '/services/{serviceId}/deploys').length > before);
  // From now on Render rate-limits this key's deploy list (the retried trigger's look for its own deploy), asking 30 s.
  const list = p.stack.render.setFault({ method: 'GET', route: '/services/{serviceId}/deploys', kind: 'status', status: 429, ms: 30_000, apiKey });
  t.teardown(() => p.stack.render.clearFault(list));
  const listsBefore = renderCalls(p.stack, accountId, 'GET', '/services/{serviceId}/deploys').length;
  await sleep(9_000);
  const lists = renderCalls(p.stack, accountId, 'GET', '/services/{serviceId}/deploys').length - listsBefore;
  const rec = (await agent.get(`/api/render/deployments/${res.json.id}`)).json;
  t.log(`record ${rec.status}; ${lists} deploy-list requests answered 429 (Retry-After 30 s) in 9 s`);
  t.true(lists <= 2, `Render asked for 30 s between tries; the worker asked ${lists} times in 9 s`);
});
