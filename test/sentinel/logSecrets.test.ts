import test from 'ava';
import { BUDGET_FOR_TESTS } from './limits.js';
import { enable, findings, startSentinelStack, tenant, waitFor, type SentinelStack } from './support.js';
import { dumpRedis } from '../helpers/stack.js';

// Sentinel's app-log findings (shown on the page, sent to Slack) are redacted as the deployment
// logs are: a secret file's content, and a value replaced on the settings page that the running
// deploy still has, are secrets like the current env var values.

let s: SentinelStack;
test.before(async () => { s = await startSentinelStack({ renderLimits: BUDGET_FOR_TESTS }); });
test.after.always(async () => { await s?.close(); });

const FILE_BODY = 'MIIEvQIBADANBgkqhkiG9w0sentinelfile';
const OLD_VALUE = 'rotated-away-api-key-4c1e9b';

test.serial('an app-log finding redacts secret file contents and values replaced through the settings', async (t) => {
  const eve = await tenant(s.stack, 'eve-secrets');
  const svc = eve.services[0]!.id;
  const render = (method: string, path: string, body: unknown) => fetch(`${s.stack.render.url}${path}`, {
    method, headers: { authorization: `Bearer ${eve.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  t.true((await render('PUT', `/services/${svc}/secret-files/key.pem`, { content: `-----BEGIN PRIVATE KEY-----\n${FILE_BODY}\n-----END PRIVATE KEY-----\n` })).ok);
  t.true((await render('PUT', `/services/${svc}/env-vars/API_KEY`, { value: OLD_VALUE })).ok);
  // Rotated on the settings page; the running deploy keeps the old value until the next one.
  const rotated = await eve.agent.request('PUT', `/api/render/services/${svc}/env-vars/API_KEY`, { json: { value: 'fresh-api-key-value-88d2' } });
  t.is(rotated.status, 200, rotated.text);
  await enable(eve.agent, { slackWebhookUrl: s.tenantSlack.url });
  const messages = [
    `TypeError: Cannot read properties of undefined (reading 'pem') key=${FILE_BODY}`,
    `TypeError: Cannot read properties of undefined (reading 'pem') api=${OLD_VALUE}`,
  ];
  await fetch(`${s.stack.render.controlUrl}/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ resourceId: svc, messages }) });
  const f = await waitFor('the TypeError finding', async () => (await findings(eve.agent)).find((x) => x.kind === 'app_log' && x.count === 2));
  t.regex(f.firstLine, /key=\[redacted\]/);
  t.regex(f.lastLine, /api=\[redacted\]/);
  await waitFor('the Slack alert', async () => s.tenantSlack.texts.some((x) => x.includes('TypeError')));
  const everywhere = [JSON.stringify(await findings(eve.agent)), await dumpRedis(s.stack.redis.client), s.tenantSlack.bodies.join('\n')].join('\n');
  t.false(everywhere.includes(FILE_BODY), 'the file\'s content');
  t.false(everywhere.includes(OLD_VALUE), 'the replaced value');
});
