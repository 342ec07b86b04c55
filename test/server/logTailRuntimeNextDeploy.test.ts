import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_LOG_TAIL } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, renderApi, renderDeploysOf, signedInWithKey } from '../helpers/pipeline.js';
import { openSseAs, sseLogLines } from '../helpers/sse.js';

// A live deploy's runtime lines are the service's app lines from when it went live until a newer deploy
// replaced it (deactivated; its updatedAt), or "now" while it is live (logWindows.ts). The tail took that
// "now" from the web's clock right after Render called the deploy live, then read the log: with the web's
// clock ahead of Render's (here 1.5 s; a container without NTP), or a read that waited at Render while the
// next deploy went live, the next deploy's app lines fell inside the window and streamed into this
// deployment's panel. The build phase read the deploy again after such a read and dropped what came after its
// end; the runtime phase did not. The history pages never had the line (they bound the window by the
// deactivation they read).

const SKEW_MS = 1_500;
const DEPLOY_ROUTE = '/services/{serviceId}/deploys/{deployId}';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let stack: Stack;
usePipelineStack(test, {
  renderOptions: { manualDeploys: true },
  logTail: QUICK_LOG_TAIL,
  clock: { now: () => Date.now() + SKEW_MS },
}, (p) => { ({ stack } = p); });

test.serial('the deploy that replaced a live one: its app lines never reach the old deployment\'s live tail, the old one\'s last lines do', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'rtreplaced');
  const { id, serviceId, deployId } = await deployedLiveByHand(stack, agent, 'rtreplaced');
  stack.render.appendLog(serviceId, 'old deploy line', { type: 'app' });
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === 'old deploy line'), 15_000);

  // The tail's next log read waits at Render while the old deploy prints once more, then a new deploy goes
  // live (the old one deactivated) and prints.
  const held = stack.render.holdRequest({ method: 'GET', route: '/logs', apiKey });
  t.teardown(held.release);
  await held.arrived;
  stack.render.appendLog(serviceId, 'old deploy last line', { type: 'app' });
  await sleep(5);
  await renderApi(stack, apiKey, 'POST', `/services/${serviceId}/deploys`, {});
  const next = (await renderDeploysOf(stack, apiKey, serviceId)).find((d) => d.id !== deployId)!;
  for (let i = 0; i < 6; i++) {
    const d = (await renderDeploysOf(stack, apiKey, serviceId)).find((x) => x.id === next.id)!;
    if (d.status === 'live') break;
    stack.render.advanceDeploy(next.id);
  }
  const old = (await renderDeploysOf(stack, apiKey, serviceId)).find((d) => d.id === deployId)!;
  t.is(old.status, 'deactivated', 'the old deploy was replaced');
  await sleep(5);
  stack.render.appendLog(serviceId, 'next deploy line', { type: 'app' });
  held.release();

  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === 'old deploy last line'), 15_000);
  await sleep(1_500); // a few more polls (300 ms apart), and the window's settling (150 ms)
  const shown = sseLogLines(tab.text()).map((l) => l.message);
  const history = ((await agent.get(`/api/render/deployments/${id}/logs`)).json.logs as { message: string }[]).map((l) => l.message);
  t.false(history.includes('next deploy line'), 'the history pages have it not either');
  t.false(shown.includes('next deploy line'), `the next deploy's line in the old deployment's tail: ${JSON.stringify(shown)}`);
  t.deepEqual(shown.filter((l) => !history.includes(l)), [], 'the tail shows what the history shows (the next deploy\'s "Server listening" neither)');
  t.is(shown.filter((l) => l === 'old deploy last line').length, 1, 'the old deploy\'s own last line, once');
});

test.serial('a live deploy\'s runtime polls stay one deploy read and one log read, lines or not', async (t) => {
  const { agent, accountId } = await signedInWithKey(stack, 'rtcost');
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'rtcost');
  stack.render.appendLog(serviceId, 'started', { type: 'app' });
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === 'started'), 15_000);
  await sleep(400); // past the first look (which reads the deploy again after lines it brought)

  // The app prints all along: each poll (300 ms apart) brings lines. Reading the deploy again after each
  // such read, on top of the read before it, made that 2 deploy reads a poll.
  const mark = stack.render.calls.length;
  let printed = 0;
  const printing = setInterval(() => stack.render.appendLog(serviceId, `request ${++printed}`, { type: 'app' }), 50);
  t.teardown(() => clearInterval(printing));
  await sleep(2_500);
  clearInterval(printing);
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === `request ${printed}`), 15_000);
  const calls = stack.render.calls.slice(mark).filter((c) => c.accountId === accountId);
  const logReads = calls.filter((c) => c.route === '/logs').length;
  const deployReads = calls.filter((c) => c.route === DEPLOY_ROUTE).length;
  t.true(logReads >= 5, `log reads: ${logReads}`);
  t.true(deployReads <= logReads + 1, `deploy reads ${deployReads} for ${logReads} log reads`);
});
