import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_LOG_TAIL } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey } from '../helpers/pipeline.js';
import { openSseAs, sseLogLines } from '../helpers/sse.js';

// Values a service gets from a linked env group (linked on Render's dashboard or by a Blueprint) are
// secrets like its own: an app that prints one has it redacted in the log pages, the download and the
// live tail. Render lists them apart from the service's own env vars, so they are read from the group.

const GROUP_VALUE = 'sk_live_group_secret_51Hx8c2e';
const GROUP_FILE = 'group-secret-file-content-a71f';
let stack: Stack;
usePipelineStack(test, {
  renderOptions: { manualDeploys: true },
  logTail: QUICK_LOG_TAIL,
}, (p) => { ({ stack } = p); });

test('a linked env group\'s values printed by the app are redacted in the page, the download and the tail; an unlinked group is not read', async (t) => {
  const { agent, apiKey, ownerId } = await signedInWithKey(stack, 'envgroup');
  const { id, serviceId } = await deployedLiveByHand(stack, agent, 'envgroup');
  const createGroup = async (body: Record<string, unknown>) => {
    const res = await fetch(`${stack.render.url}/env-groups`, {
      method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ ownerId, ...body }),
    });
    t.is(res.status, 201, await res.clone().text());
    return ((await res.json()) as { id: string }).id;
  };
  const linked = await createGroup({ name: 'payments', envVars: [{ key: 'STRIPE_KEY', value: GROUP_VALUE }], secretFiles: [{ name: 'stripe.pem', content: GROUP_FILE }] });
  const link = await fetch(`${stack.render.url}/env-groups/${linked}/services/${serviceId}`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` } });
  t.is(link.status, 200);
  await createGroup({ name: 'elsewhere', envVars: [{ key: 'OTHER', value: 'not-this-services-value' }] });

  const mark = stack.render.calls.length;
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  await tab.waitFor((text) => text.includes('retry:'));
  stack.render.appendLog(serviceId, `charging with ${GROUP_VALUE}`, { type: 'app' });
  stack.render.appendLog(serviceId, `pem: ${GROUP_FILE}`, { type: 'app' });
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message.startsWith('pem:')), 15_000);
  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  const txt = await agent.get(`/api/render/deployments/${id}/logs.txt`);
  const messages = page.json.logs.map((l: { message: string }) => l.message);
  t.true(messages.includes('charging with [redacted]'), messages.join('\n'));
  t.true(messages.includes('pem: [redacted]'));
  for (const text of [tab.text(), page.text, txt.text]) {
    t.false(text.includes(GROUP_VALUE));
    t.false(text.includes(GROUP_FILE));
  }
  // Values read only from the group linked to this service.
  const groupReads = new Set(stack.render.calls.slice(mark).filter((c) => c.path.startsWith('/env-groups/')).map((c) => c.path));
  t.deepEqual([...groupReads], [`/env-groups/${linked}`]);
});

test('someone else\'s deployment logs are a 404 whatever their service\'s env groups hold: the groups are read with the owner\'s key only', async (t) => {
  const alice = await signedInWithKey(stack, 'envgroup-alice');
  const { id } = await deployedLiveByHand(stack, alice.agent, 'envgroup-alice');
  const mallory = await signedInWithKey(stack, 'envgroup-mallory');
  const mark = stack.render.calls.length;
  for (const path of [`/api/render/deployments/${id}/logs`, `/api/render/deployments/${id}/logs.txt`]) t.is((await mallory.agent.get(path)).status, 404);
  t.deepEqual(stack.render.calls.slice(mark).filter((c) => c.accountId === mallory.accountId), [], 'no Render call with the prober\'s key');
});
