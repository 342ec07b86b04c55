import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { signedInWithKey } from '../helpers/pipeline.js';
import { waitFor } from './support.js';

// Tests never send traffic off this machine: a Slack test message to a real-looking
// https://hooks.slack.com/services/… webhook (what the attack catalogue posts) is checked as a Slack
// webhook and then delivered to the stack's local receiver, never resolved or sent to Slack.

let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

test.serial('POST /api/sentinel/test-alert with a hooks.slack.com webhook reaches the local receiver, not Slack', async (t) => {
  const { agent } = await signedInWithKey(stack, 'slack-local');
  const res = await agent.post('/api/sentinel/test-alert', { slackWebhookUrl: 'https://hooks.slack.com/services/T0000/B0000/localdelivery00' });
  t.is(res.status, 200);
  t.deepEqual(res.json, { delivered: true, reason: null }, 'answered once Slack (here the local receiver) took it');
  const got = await waitFor('the test message at the local receiver', async () => stack.slack.bodies.find((b) => b.startsWith('POST /services/T0000/B0000/localdelivery00 ')));
  t.regex(got, /Test message from render-orchestrator/);
  t.false(stack.logs.some((l) => l.includes('Slack alert failed')), 'delivery did not fail (no DNS lookup, no refused URL)');
});

test.serial('the local delivery does not widen what is accepted: a non-Slack webhook is still a 400 and posts nothing', async (t) => {
  const { agent } = await signedInWithKey(stack, 'slack-local-evil');
  const before = stack.slack.bodies.length;
  for (const url of ['https://evil.example/services/T0000/B0000/xxxxxxxxxxxx', `${stack.slack.origin}/services/T0000/B0000/xxxxxxxxxxxx`, 'http://hooks.slack.com/services/T0000/B0000/xxxxxxxxxxxx']) {
    const res = await agent.post('/api/sentinel/test-alert', { slackWebhookUrl: url });
    t.is(res.status, 400, url);
    t.is(res.json.error.code, 'validation_failed', url);
  }
  t.is(stack.slack.bodies.length, before);
});
