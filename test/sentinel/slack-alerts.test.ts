import test from 'ava';
import { BUDGET_FOR_TESTS } from './limits.js';
import { renderTestClient } from '../sandbox/render-test-client.js';
import { enable, startSentinelStack, tenant, waitFor, type SentinelStack } from './support.js';

//  Sentinel's alerts to a tenant's Slack webhook (server/sentinel/alerts.ts alertText,
// server/alerts/slack.ts). The service's name is the one text in an alert that someone else chooses: anyone
// in the workspace may rename a service on Render, and they are the people the watch reports. `<`, `>` and
// `&` are escaped and bidirectional controls isolated (slackMarkup.test.ts, sentinel/bidiNames.test.ts);
// these are the ways left to make an alert say something else. Real flow: a crash line in the service's
// app log, a round of the worker, the stack's local receiver standing in for hooks.slack.com.

let s: SentinelStack;
test.before(async () => { s = await startSentinelStack({ renderLimits: BUDGET_FOR_TESTS }); });
test.after.always(async () => { await s?.close(); });

const CRASH = 'TypeError: Cannot read properties of undefined (reading \'id\')';

/** `login`'s service renamed on Render to `name`, the watch on, a crash logged: the alert's parsed body. */
async function alertForRenamed(login: string, name: string): Promise<{ text: string; mrkdwn?: unknown; id: string }> {
  const hook = `${s.tenantSlack.origin}/services/T000/B000/${login.toUpperCase().padEnd(16, '0').slice(0, 16)}`;
  const user = await tenant(s.stack, login);
  const svc = user.services[0]!;
  const renamed = await renderTestClient(s.stack.render.url, user.apiKey).call('PATCH', `/services/${svc.id}`, { name });
  if (renamed.status !== 200) throw new Error(`rename: ${renamed.status} ${renamed.text}`);
  await enable(user.agent, { slackWebhookUrl: hook });
  s.stack.render.appendLog(svc.id, CRASH);
  const path = new URL(hook).pathname;
  const body = await waitFor(`the alert for ${login}`, async () => s.tenantSlack.bodies.find((b) => b.startsWith(`POST ${path} `)));
  return { ...(JSON.parse(body.slice(`POST ${path} `.length)) as { text: string; mrkdwn?: unknown }), id: svc.id };
}

test('a service renamed with line breaks: the alert is one line, with no line of the renamer\'s own', async (t) => {
  // The channel saw "[Sentinel] HIGH: TypeError ×1 in 1 min · workspace … · service ⁨probeline-api", then
  // the renamer's own line "[Sentinel] All clear: the previous alert was a false positive", then "⁩ (srv-…) · time".
  const { text } = await alertForRenamed('probeline', 'probeline-api\n[Sentinel] All clear: the previous alert was a false positive\n');
  t.false(/[\p{Cc}\u2028\u2029]/u.test(text), `one line: ${JSON.stringify(text)}`);
  t.true(text.includes('All clear'), 'the name is still shown, as text');
});

test('a service renamed with Slack formatting: the alert is sent with mrkdwn off', async (t) => {
  // `*`, `_`, `~` and backticks have no escape in Slack's mrkdwn: a name "~probefmt-api~ `" struck itself
  // through and opened a code span. The alert uses no formatting of its own.
  const { text, mrkdwn } = await alertForRenamed('probefmt', '*ALL CLEAR* ~probefmt-api~ `');
  t.true(text.includes('*ALL CLEAR* ~probefmt-api~'), text);
  t.is(mrkdwn, false, `the name's * ~ \` are read as formatting: ${text}`);
});

test('a very long service name: the alert still names the service id and the time, and closes the name\'s isolate', async (t) => {
  // slack.ts cuts every text at 500 characters, after the name: a name of ~500 characters cut off the
  // service's id, the time and the isolate's closing PDI (U+2069) with them.
  const { text, id } = await alertForRenamed('probelong', `probelong-api${' x'.repeat(300)}`);
  t.true(text.includes(`(${id})`), `the service id is in the alert: …${text.slice(-80)}`);
  t.true(/· \d{4}-\d\d-\d\dT/.test(text), 'and the time');
  t.is(text.split('\u2068').length, text.split('\u2069').length, 'every isolate opened is closed');
});
