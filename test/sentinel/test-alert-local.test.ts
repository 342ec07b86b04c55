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

test.serial('test messages are limited per user, sent at once or not: a burst sends 5, the rest are 429 without a request out; another user is not held back', async (t) => {
  const { agent } = await signedInWithKey(stack, 'slack-burst');
  const path = '/services/T0000/B0000/burstburstburst1';
  const sent = () => stack.slack.bodies.filter((b) => b.startsWith(`POST ${path} `)).length;
  const answers = await Promise.all(Array.from({ length: 12 }, () => agent.post('/api/sentinel/test-alert', { slackWebhookUrl: `https://hooks.slack.com${path}` })));
  t.deepEqual(answers.map((a) => a.status).sort(), [...Array<number>(5).fill(200), ...Array<number>(7).fill(429)]);
  t.is(sent(), 5, 'one request out per accepted test');
  for (const a of answers) t.false(a.text.includes('burstburstburst1'), 'the webhook URL is never in an answer');
  const other = await signedInWithKey(stack, 'slack-burst-other');
  t.is((await other.agent.post('/api/sentinel/test-alert', { slackWebhookUrl: `https://hooks.slack.com${path}` })).status, 200);
});
