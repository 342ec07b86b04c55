import test from 'ava';
import { BUDGET_FOR_TESTS } from './limits.js';
import { renderTestClient } from '../sandbox/render-test-client.js';
import { enable, startSentinelStack, tenant, waitFor, type SentinelStack } from './support.js';

// Render puts no rule on a service's name (spec/render-openapi.json: any string), and anyone in the
// workspace may rename a service: the very people Sentinel watches. Slack reads `<…>` in a webhook's
// text as markup (a channel-wide ping, a link under any label) and asks senders to escape &, < and >
// (https://api.slack.com/reference/surfaces/formatting#escaping). An alert shows the name as typed,
// and markup in it does nothing.

let s: SentinelStack;
test.before(async () => { s = await startSentinelStack({ renderLimits: BUDGET_FOR_TESTS }); });
test.after.always(async () => { await s?.close(); });

test('a service named with Slack markup: the alert shows the name, escaped, and pings or links nobody', async (t) => {
  const hook = `${s.tenantSlack.origin}/services/T000/B000/${'RUTH'.padEnd(16, '0')}`;
  const ruth = await tenant(s.stack, 'ruth-markup');
  const svc = ruth.services[0]!;
  const name = '<!channel> <https://evil.example/login|Render: sign in again> & co';
  const renamed = await renderTestClient(s.stack.render.url, ruth.apiKey).call('PATCH', `/services/${svc.id}`, { name });
  t.is(renamed.status, 200, renamed.text);
  await enable(ruth.agent, { slackWebhookUrl: hook });
  s.stack.render.appendLog(svc.id, 'TypeError: Cannot read properties of undefined (reading \'id\')');
  const alert = await waitFor('the alert', async () => s.tenantSlack.texts.find((x) => x.includes(svc.id)));
  t.false(/[<>]/.test(alert), `no Slack markup left: ${alert}`);
  t.true(alert.includes('&lt;!channel&gt; &lt;https://evil.example/login|Render: sign in again&gt; &amp; co'), alert);
});
