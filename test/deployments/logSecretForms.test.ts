import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_LOG_TAIL } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey, putSecretFile } from '../helpers/pipeline.js';
import { openSseAs, sseLogLines } from '../helpers/sse.js';

// Secrets as real programs print them, through the real web and the Render simulator (page, download, live
// tail). A value of a .env secret file printed by itself (dotenv loads the file; an error message or a config
// dump prints one value) was served in clear: a secret file was matched only whole, in its JSON forms and as
// whole lines (redact.ts forms: now a line's assigned value too). And a line's `level` label was copied as
// Render gave it, past redaction and control stripping: an app's secret or terminal escapes put there reached
// the JSON page, the tail and logs.txt (logs.ts labelWord: one word of letters, none of the secrets).

let stack: Stack;
usePipelineStack(test, {
  renderOptions: { manualDeploys: true },
  logTail: QUICK_LOG_TAIL,
}, (p) => { ({ stack } = p); });

test('a .env secret file: the app (dotenv) prints one of its values — page, download and tail', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'dotenv');
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'dotenv');
  const STRIPE = 'sk_live_51HdotenvSecretValue9f3a';
  const DBPW = 'correct-horse-battery-staple-77';
  await putSecretFile(stack, apiKey, r.serviceId, '.env', `STRIPE_KEY=${STRIPE}\nDB_PASSWORD="${DBPW}"\n`);
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  await tab.waitFor((text) => text.includes('retry:'));
  stack.render.appendLog(r.serviceId, `charging card with key ${STRIPE}`, { type: 'app' });
  stack.render.appendLog(r.serviceId, `db connect failed for password ${DBPW}`, { type: 'app' });
  stack.render.appendLog(r.serviceId, 'END-dotenv', { type: 'app' });
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === 'END-dotenv'), 15_000);
  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  const txt = await agent.get(`/api/render/deployments/${id}/logs.txt`);
  t.is(page.status, 200);
  for (const [where, text] of [['page', page.text], ['download', txt.text], ['tail', tab.text()]] as const) {
    t.false(text.includes(STRIPE), `${where} shows the .env file's STRIPE_KEY value`);
    t.false(text.includes(DBPW), `${where} shows the .env file's DB_PASSWORD value`);
  }
});

test('an env value printed in the level label (not the message): page and download', async (t) => {
  const { agent } = await signedInWithKey(stack, 'lvl');
  const SECRET = 'tok_live_level_label_secret_5521';
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'lvl', { env_vars: { API_TOKEN: SECRET } });
  stack.render.appendLog(r.serviceId, 'structured line', { type: 'app', level: SECRET });
  stack.render.appendLog(r.serviceId, 'escape line', { type: 'app', level: '\x1b]0;pwned\x07\x1b[2J' });
  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  const txt = await agent.get(`/api/render/deployments/${id}/logs.txt`);
  t.is(page.status, 200);
  t.false(page.text.includes(SECRET), 'page: level label unredacted');
  t.false(txt.text.includes(SECRET.toUpperCase()), 'download: level label unredacted');
  t.false(txt.text.includes('\x1b'), 'download: terminal escape in level label');
});

test('values with unicode / regex metachars / very short / very long / substring of another: page', async (t) => {
  const { agent } = await signedInWithKey(stack, 'uni');
  const values = {
    RE: 'a.b*c+?(x)[y]{2}|^$\\d-secret',
    COMBINING: 'pa\u0301ssword-e\u0301te\u0301-42',
    FULLWIDTH: 'ＳＥＣＲＥＴ－ｆｕｌｌ－９９',
    EMOJI: 'key-🔑-👨‍👩‍👧-secret',
    SHORTISH: 'x9Z!',
    INNER: 'innerval',
    OUTER: 'prefix-innerval-suffix',
    LONG: 'L'.repeat(15_000) + 'long-secret-tail',
  };
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'uni', { env_vars: values });
  for (const [k, v] of Object.entries(values)) stack.render.appendLog(r.serviceId, `${k}=${v} ; json=${JSON.stringify({ v })}`, { type: 'app' });
  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  t.is(page.status, 200, page.text.slice(0, 300));
  for (const [k, v] of Object.entries(values)) t.false(page.text.includes(JSON.stringify(v).slice(1, -1)), `${k} shown`);
  const long = page.json.logs.find((l: { message: string }) => l.message.startsWith('LONG='));
  t.truthy(long);
  t.false(long.message.includes('long-secret-tail'));
});

test('level label: secret redacted and terminal escapes stripped in page, tail and download', async (t) => {
  const { agent } = await signedInWithKey(stack, 'lvl2');
  const SECRET = 'tok_live_level_label_secret_5521';
  const { id, ...r } = await deployedLiveByHand(stack, agent, 'lvl2', { env_vars: { API_TOKEN: SECRET } });
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  t.teardown(() => tab.close());
  await tab.waitFor((text) => text.includes('retry:'));
  stack.render.appendLog(r.serviceId, 'structured line', { type: 'app', level: SECRET });
  stack.render.appendLog(r.serviceId, 'escape line', { type: 'app', level: '\x1b]0;pwned\x07\x1b[2J' });
  stack.render.appendLog(r.serviceId, 'END-lvl', { type: 'app' });
  await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === 'END-lvl'), 15_000);
  const page = await agent.get(`/api/render/deployments/${id}/logs`);
  const txt = await agent.get(`/api/render/deployments/${id}/logs.txt`);
  const results = {
    pageSecret: page.text.includes(SECRET),
    tailSecret: tab.text().includes(SECRET),
    downloadSecret: txt.text.includes(SECRET.toUpperCase()),
    downloadEsc: txt.text.includes('\x1b'),
  };
  t.deepEqual(results, { pageSecret: false, tailSecret: false, downloadSecret: false, downloadEsc: false });
});
