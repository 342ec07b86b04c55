import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { signedInWithKey } from '../helpers/pipeline.js';

// A watch whose enabling session ended (signed out) reads as off to the user's other sessions until a
// round stops it (up to an hour; no worker runs here, so none does). A save from such a session must
// treat it as off too: it neither revives that watch without `enabled: true` nor carries the ended
// session's webhook and deploy-results choice, which the page shows as not configured, into a new one.
let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

const webhook = 'https://hooks.slack.com/services/TENDED/B000/XXXXXXXXXXXXXXXX';

test('a watch whose session signed out is off to the user\'s other session: a save without `enabled: true` is refused, and turning it on starts afresh', async (t) => {
  const { agent: browser, apiKey } = await signedInWithKey(stack, 'endedwatch');
  const on = await browser.request('PUT', '/api/sentinel', { json: { enabled: true, intervalSeconds: 3600, slackWebhookUrl: webhook, slackDeployResults: true } });
  t.is(on.status, 200, on.text);
  const other = stack.agent();
  await stack.signIn(other, 'endedwatch');
  t.is((await other.post('/api/render/setup', { api_key: apiKey })).status, 200);
  t.is((await browser.post('/api/auth/logout')).status, 200);
  t.like((await other.get('/api/sentinel')).json, { enabled: false, slack: { configured: false, deployResults: false } });

  for (const body of [{ intervalSeconds: 60 }, { slackDeployResults: false }, { slackWebhookUrl: webhook }]) {
    const res = await other.request('PUT', '/api/sentinel', { json: body });
    t.is(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
    t.regex(res.json.error?.message ?? '', /^enabled: Sentinel is off/);
  }
  const removed = await other.request('PUT', '/api/sentinel', { json: { slackWebhookUrl: null } });
  t.is(removed.status, 200, removed.text);
  t.false(removed.json.enabled, 'removing a webhook does not turn the ended watch back on');

  const test = await other.post('/api/sentinel/test-alert', {});
  t.is(test.status, 400, test.text);
  t.is(test.json.error.code, 'slack_not_configured', 'no test message to the ended session\'s webhook, which the page says is not set');
  t.false(stack.slack.bodies.some((b) => b.includes('/services/TENDED/')));

  const again = await other.request('PUT', '/api/sentinel', { json: { enabled: true } });
  t.is(again.status, 200, again.text);
  t.like(again.json, { enabled: true, watchingThisSession: true, intervalSeconds: 60, slack: { configured: false, hint: null, deployResults: false } },
    'a new watch: not the ended session\'s webhook, deploy results or interval');
});
