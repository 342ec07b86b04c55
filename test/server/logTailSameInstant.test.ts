import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_LOG_TAIL } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';
import { openSseAs, sseLogLines } from '../helpers/sse.js';
import { formatUs } from '../../server/deployments/logWindows.js';

// Render pages logs by time. A stack trace printed in one write can put more lines at one instant than a
// page holds: the tail, standing at that instant with every line of the page delivered, read the same page
// again and again (4 a second, the key's log reads all spent) and delivered nothing after it, for good.

let stack: Stack;
usePipelineStack(test, {
  renderOptions: { manualDeploys: true },
  logTail: QUICK_LOG_TAIL,
}, (p) => { ({ stack } = p); });

test('more lines at one instant than a page holds: the tail reads on past it, and lines after it arrive', async (t) => {
  const { agent } = await signedInWithKey(stack, 'sameinstant');
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'sameinstant');
  stack.render.appendLog(serviceId, 'first', { type: 'app' });
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === 'first'), 15_000);

  const instant = formatUs(Date.now() * 1000 + 5_000);
  for (let i = 0; i < 150; i++) stack.render.appendLog(serviceId, `    at frame ${i} (app.js:${i}:1)`, { type: 'app', timestamp: instant });
  await new Promise((resolve) => setTimeout(resolve, 20));
  stack.render.appendLog(serviceId, 'after the trace', { type: 'app', timestamp: formatUs(Date.now() * 1000 + 10_000) });

  const arrived = await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === 'after the trace'), 20_000).then(() => true, () => false);
  t.true(arrived, 'the line after the trace reached the tab');
  t.is(sseLogLines(tab.text()).filter((l) => l.message.startsWith('    at frame')).length, 100, 'the trace\'s first page, live; the rest is past what one instant can page');
  // The user's own reads are not starved by the tail: a page of the history answers.
  t.is((await agent.get(`/api/render/deployments/${id}/logs?limit=5`)).status, 200);
});
