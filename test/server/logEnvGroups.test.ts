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
  // Render allows 30 other writes a minute a key; a test below creates 101 env groups.
  renderOptions: { manualDeploys: true, rateLimits: { write: { limit: 200 } } },
  logTail: QUICK_LOG_TAIL,
}, (p) => { ({ stack } = p); });

test('a linked env group\'s values printed by the app are redacted in the page, the download and the tail; an unlinked group is not read', async (t) => {
  const { agent, apiKey, ownerId, accountId } = await signedInWithKey(stack, 'envgroup');
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
  // Values read only from the group linked to this service (this account's calls: the file's tests run at once).
  const groupReads = new Set(stack.render.calls.slice(mark).filter((c) => c.accountId === accountId && c.path.startsWith('/env-groups/')).map((c) => c.path));
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

/** A live deployment of `login`'s, its service linked to a new env group holding `value`; the group's id. */
async function deployedWithGroup(t: import('ava').ExecutionContext, login: string, value: string) {
  const user = await signedInWithKey(stack, login);
  const deployed = await deployedLiveByHand(stack, user.agent, login);
  const res = await fetch(`${stack.render.url}/env-groups`, {
    method: 'POST', headers: { authorization: `Bearer ${user.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ownerId: user.ownerId, name: `${login}-group`, envVars: [{ key: 'TOKEN', value }], serviceIds: [deployed.serviceId] }),
  });
  t.is(res.status, 201);
  const group = (await res.json()) as { id: string; createdAt: string };
  return { ...user, ...deployed, group };
}

test('odd answers about env groups: a group gone between the list and its read is skipped, not the service\'s 404; a list item wrapped or without links is read as what it is', async (t) => {
  const value = 'odd-answers-group-value-2c9d';
  const { agent, apiKey, ownerId, id, serviceId } = await deployedWithGroup(t, 'envgroup-odd', value);
  stack.render.appendLog(serviceId, `token ${value}`, { type: 'app' });

  // Deleted on Render after the list named it: the page is read, not "the service was deleted".
  const gone = stack.render.setFault({ kind: 'status', status: 404, method: 'GET', route: '/env-groups/{envGroupId}', apiKey });
  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  stack.render.clearFault(gone);
  t.is(page.status, 200, page.text);

  // One item Render wraps as its other lists are, one with no links at all: the wrapped group is read.
  const meta = await (await fetch(`${stack.render.url}/env-groups?ownerId=${ownerId}`, { headers: { authorization: `Bearer ${apiKey}` } })).json() as unknown[];
  const odd = stack.render.setFault({ kind: 'body', method: 'GET', route: '/env-groups', apiKey, body: [{ id: 'evg-00000000000000000000', name: 'x', serviceLinks: null }, { envGroup: meta[0], cursor: 'c1' }] });
  const wrapped = await agent.get(`/api/render/deployments/${id}/logs`);
  stack.render.clearFault(odd);
  t.is(wrapped.status, 200, wrapped.text);
  t.true(wrapped.json.logs.some((l: { message: string }) => l.message === 'token [redacted]'), wrapped.text);
  t.false(wrapped.text.includes(value));
});

test('a workspace whose env groups cannot all be listed: the lines are not shown (422 log_redaction_incomplete), nothing leaks', async (t) => {
  const value = 'too-many-groups-value-8e1b';
  const { agent, apiKey, id, serviceId, group } = await deployedWithGroup(t, 'envgroup-many', value);
  stack.render.appendLog(serviceId, `token ${value}`, { type: 'app' });
  // Full pages, and none older to page on to (the list cannot be read to its end).
  const full = Array.from({ length: 100 }, (_, i) => ({ id: `evg-${String(i).padStart(20, '0')}`, name: `g${i}`, ownerId: 'x', createdAt: group.createdAt, updatedAt: group.createdAt, serviceLinks: [] }));
  const fault = stack.render.setFault({ kind: 'body', method: 'GET', route: '/env-groups', apiKey, body: full });
  t.teardown(() => stack.render.clearFault(fault));
  for (const path of [`/api/render/deployments/${id}/logs`, `/api/render/deployments/${id}/logs.txt`]) {
    const res = await agent.get(path);
    t.is(res.status, 422, res.text);
    t.is(res.json?.error?.code ?? JSON.parse(res.text).error.code, 'log_redaction_incomplete');
    t.false(res.text.includes(value));
  }
});

test('more env groups than one page holds: the list is read on past its first page (created before its oldest), and the linked group found there is redacted', async (t) => {
  const value = 'second-page-group-value-41f0';
  const { agent, apiKey, ownerId, accountId, id, serviceId } = await deployedWithGroup(t, 'envgroup-paged', value);
  // Created after the linked one: the newest 100, the first page, do not hold it.
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${stack.render.url}/env-groups`, {
      method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ownerId, name: `filler-${i}`, envVars: [] }),
    });
    t.is(res.status, 201);
  }
  stack.render.appendLog(serviceId, `token ${value}`, { type: 'app' });
  const mark = stack.render.calls.length;
  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  t.is(page.status, 200, page.text);
  t.true(page.json.logs.some((l: { message: string }) => l.message === 'token [redacted]'), page.text);
  t.false(page.text.includes(value));
  const lists = stack.render.calls.slice(mark).filter((c) => c.accountId === accountId && c.route === '/env-groups');
  t.is(lists.length, 2, 'two pages');
  t.regex(lists[1]!.query, /createdBefore=/);
});
