import test from 'ava';
import { startStack, dumpRedis, type Stack } from '../helpers/stack.js';
import { signedInWithKey } from '../helpers/pipeline.js';
import type { Agent } from '../helpers/agent.js';

// Sentinel's settings are in the user's audit trail: turning the watch off, moving where its findings go
// (the Slack webhook) or whose key it reads with are what someone holding one of the user's sessions would
// change unseen. Before, none of it left an entry.

let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

const WEBHOOK = 'https://hooks.slack.com/services/T0AUDIT/B0AUDIT/sentinelAuditSecret0001';
const OTHER_WEBHOOK = 'https://hooks.slack.com/services/T0AUDIT/B0AUDIT/sentinelAuditSecret0002';

async function save(agent: Agent, body: Record<string, unknown>) {
  const res = await agent.request('PUT', '/api/sentinel', { json: body });
  if (res.status !== 200) throw new Error(`PUT /api/sentinel: ${res.status} ${res.text}`);
}

/** The caller's sentinel_settings entries, oldest first: each one's changes. */
async function settingsEntries(agent: Agent): Promise<string[][]> {
  const res = await agent.get('/api/audit?limit=100');
  if (res.status !== 200) throw new Error(`GET /api/audit: ${res.status} ${res.text}`);
  return (res.json.entries as Array<{ action: string; outcome: string; detail: { changes?: string[] } }>)
    .filter((e) => e.action === 'sentinel_settings').reverse().map((e) => e.detail.changes ?? []);
}

test('each Sentinel save that changes something is one audit entry naming what changed; the same settings again add none', async (t) => {
  const { agent } = await signedInWithKey(stack, 'sentaudit');
  await save(agent, { enabled: true, slackWebhookUrl: WEBHOOK });
  t.deepEqual(await settingsEntries(agent), [['turned_on', 'webhook_set']]);

  await save(agent, { enabled: true });
  t.deepEqual(await settingsEntries(agent), [['turned_on', 'webhook_set']], 'nothing changed, nothing recorded');

  await save(agent, { intervalSeconds: 600, slackDeployResults: true });
  await save(agent, { slackWebhookUrl: OTHER_WEBHOOK });
  await save(agent, { slackWebhookUrl: null });
  await save(agent, { enabled: false });
  // Off already: nothing to turn off.
  await save(agent, { enabled: false });
  t.deepEqual(await settingsEntries(agent), [
    ['turned_on', 'webhook_set'],
    ['interval_changed', 'deploy_results_on'],
    ['webhook_replaced'],
    ['webhook_removed'],
    ['turned_off'],
  ]);

  const trail = (await agent.get('/api/audit?limit=100')).text;
  const redis = await dumpRedis(stack.redis.client);
  for (const url of [WEBHOOK, OTHER_WEBHOOK]) {
    const secretPart = url.split('/').at(-1)!;
    t.false(trail.includes(secretPart), 'no webhook in the trail');
    t.false(redis.includes(secretPart), 'no webhook in Redis in the clear (the audit chains among it)');
  }
});

test('a save from another of the user\'s sessions moves the watch to that session\'s key, and the entry says so', async (t) => {
  const first = await signedInWithKey(stack, 'sentmove');
  await save(first.agent, { enabled: true });
  const second = stack.agent();
  await stack.signIn(second, 'sentmove');
  const setup = await second.post('/api/render/setup', { api_key: first.apiKey });
  t.is(setup.status, 200, setup.text);
  await save(second, { enabled: true });
  t.deepEqual(await settingsEntries(second), [['turned_on'], ['watch_moved']]);
  // The watching session saving again: no move.
  await save(second, { enabled: true, intervalSeconds: 120 });
  t.deepEqual((await settingsEntries(second)).at(-1), ['interval_changed']);
});

test('two switches-off at once: one entry, from the one that removed the watch', async (t) => {
  const { agent } = await signedInWithKey(stack, 'sentoffs');
  for (let round = 0; round < 5; round++) {
    await save(agent, { enabled: true });
    // Both read the watch as on before either removes it: each wrote "turned off" before.
    await Promise.all([save(agent, { enabled: false }), save(agent, { enabled: false })]);
  }
  const entries = await settingsEntries(agent);
  t.deepEqual(entries, Array.from({ length: 5 }, () => [['turned_on'], ['turned_off']]).flat());
});

test('another user\'s saves are not in the caller\'s trail', async (t) => {
  const [ann, ben] = [await signedInWithKey(stack, 'sentann'), await signedInWithKey(stack, 'sentben')];
  await save(ann.agent, { enabled: true });
  t.deepEqual(await settingsEntries(ben.agent), []);
  t.deepEqual(await settingsEntries(ann.agent), [['turned_on']]);
});

test('two switches-on at once: one turned_on entry; the other save finds the watch on and adds none', async (t) => {
  const { agent } = await signedInWithKey(stack, 'sentons');
  for (let round = 0; round < 5; round++) {
    // Both read the watch as off before either wrote it: each wrote "turned on" before.
    await Promise.all([save(agent, { enabled: true }), save(agent, { enabled: true })]);
    await save(agent, { enabled: false });
  }
  const entries = await settingsEntries(agent);
  t.deepEqual(entries, Array.from({ length: 5 }, () => [['turned_on'], ['turned_off']]).flat());
});

test('a webhook and an interval saved at once (two tabs): both are kept, each entry names its own change', async (t) => {
  const { agent } = await signedInWithKey(stack, 'sentboth');
  for (let round = 0; round < 5; round++) {
    await save(agent, { enabled: true, intervalSeconds: 300 });
    // Each read the watch before the other wrote it: the later write put back what it had read (no
    // webhook, or the old interval), and its entry said it changed nothing of the other's.
    await Promise.all([save(agent, { slackWebhookUrl: WEBHOOK }), save(agent, { intervalSeconds: 120 })]);
    const view = (await agent.get('/api/sentinel')).json as { enabled: boolean; intervalSeconds: number; slack: { configured: boolean } };
    t.like(view, { enabled: true, intervalSeconds: 120, slack: { configured: true } }, `round ${round}`);
    await save(agent, { enabled: false });
  }
  const entries = await settingsEntries(agent);
  const sorted = (e: string[][]) => e.map((changes) => changes.join('+')).sort();
  for (let round = 0; round < 5; round++) {
    const [on, ...rest] = entries.slice(round * 4, round * 4 + 4);
    t.deepEqual(on, ['turned_on'], `round ${round}`);
    t.deepEqual(sorted(rest), ['interval_changed', 'turned_off', 'webhook_set'], `round ${round}`);
  }
  t.is(entries.length, 20);
});
