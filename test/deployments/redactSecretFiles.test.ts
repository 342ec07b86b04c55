import test from 'ava';
import { inspect } from 'node:util';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_LOG_TAIL } from '../helpers/pipelineStack.js';
import { deployedLiveByHand, signedInWithKey, putSecretFile } from '../helpers/pipeline.js';
import { openSseAs, sseLogLines } from '../helpers/sse.js';
import { sanitizeLine } from '../../server/sentinel/logHeuristics.js';

// Secret files' values as the program that loaded the file has them (redact.ts `forms`: "for a line that
// assigns a value … the value alone, as the program that loaded the file prints it"), through the real web
// and the Render simulator: the JSON page, logs.txt and the live tail.
//
// - A Google service account's JSON (the usual secret file: GOOGLE_APPLICATION_CREDENTIALS=/etc/secrets/sa.json)
//   holds its private key as a JSON string with `\n` escapes. Loaded (JSON.parse), the key has real newlines;
//   printed (`console.log(creds.private_key)`, or `console.log(creds)`, which util.inspect writes one key line a
//   log line), Render makes each PEM line a log entry. The file's forms held the escaped string whole, never
//   the key's own lines: every line of the private key was served in clear.
// - dotenv expands `\n` in a double-quoted value (`PRIVATE_KEY="-----BEGIN…\nMIIE…\n-----END…"`): the same.
// - An inline comment (`KEY=value # note`, `KEY="value" # note`): dotenv, python-dotenv and YAML drop it, so
//   the app prints `value`; the form kept was `value # note`, so the value itself was served in clear, and
//   quoted in a Sentinel finding.

const PEM_LINES = [
  '-----BEGIN PRIVATE KEY-----',
  'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj',
  'MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu',
  'NMZKuI2Pq4oHmwd+F7eQ9aBcXyZ3kLmN0pQrStUvWxYz1234567890abcdefGhIj',
  '-----END PRIVATE KEY-----',
];
const PEM = `${PEM_LINES.join('\n')}\n`;
const BODY = PEM_LINES.slice(1, -1);

let stack: Stack;
usePipelineStack(test, {
  renderOptions: { manualDeploys: true },
  logTail: QUICK_LOG_TAIL,
}, (p) => { ({ stack } = p); });

/** The app prints `printed` (each a log line, as Render has them); the page, the download and the tail as served. */
async function served(name: string, file: { name: string; content: string }, printed: string[]) {
  const { agent, apiKey } = await signedInWithKey(stack, name);
  const { id, ...r } = await deployedLiveByHand(stack, agent, name);
  await putSecretFile(stack, apiKey, r.serviceId, file.name, file.content);
  const tab = await openSseAs(agent, `/api/events?logs=${id}`);
  try {
    await tab.waitFor((text) => text.includes('retry:'));
    for (const line of printed) stack.render.appendLog(r.serviceId, line, { type: 'app' });
    stack.render.appendLog(r.serviceId, `END-${name}`, { type: 'app' });
    await tab.waitFor((text) => sseLogLines(text).some((l) => l.message === `END-${name}`), 15_000);
    const page = await agent.get(`/api/render/deployments/${id}/logs`);
    const txt = await agent.get(`/api/render/deployments/${id}/logs.txt`);
    if (page.status !== 200 || txt.status !== 200) throw new Error(`${page.status} ${txt.status}`);
    return { page: page.text, download: txt.text, tail: tab.text() };
  } finally {
    tab.close();
  }
}

test('a service account JSON secret file: its private key, printed by the app that loaded it, is redacted — page, download and tail', async (t) => {
  const sa = {
    type: 'service_account', project_id: 'probe-project', private_key_id: '3f1c0a9e8d7b6a5f4e3d2c1b0a9f8e7d6c5b4a39',
    private_key: PEM, client_email: 'deployer@probe-project.iam.gserviceaccount.com', client_id: '104729384756102938475',
  };
  const file = JSON.stringify(sa, null, 2);
  const loaded = JSON.parse(file) as typeof sa;
  const printed = [
    ...loaded.private_key.split('\n').filter(Boolean), // console.log(creds.private_key)
    ...inspect(loaded).split('\n'), // console.log(creds)
  ];
  const out = await served('gsa', { name: 'sa.json', content: file }, printed);
  for (const [where, text] of Object.entries(out)) {
    for (const body of BODY) t.false(text.includes(body), `${where} shows a private key line: ${body.slice(0, 16)}…`);
  }
});

test('a service account JSON secret file written on one line (jq -c, Terraform jsonencode): its private key lines are redacted', async (t) => {
  const sa = { type: 'service_account', project_id: 'probe-project', private_key: PEM, client_email: 'deployer@probe-project.iam.gserviceaccount.com' };
  const out = await served('gsamin', { name: 'sa.json', content: JSON.stringify(sa) }, PEM_LINES);
  for (const [where, text] of Object.entries(out)) {
    for (const body of BODY) t.false(text.includes(body), `${where} shows a private key line: ${body.slice(0, 16)}…`);
  }
});

test('a .env secret file with a double-quoted multi-line value (dotenv expands \\n): each line the app prints is redacted', async (t) => {
  const content = `PRIVATE_KEY="${PEM_LINES.join('\\n')}"\nNODE_ENV=production\n`;
  const out = await served('dotpem', { name: '.env', content }, PEM_LINES);
  for (const [where, text] of Object.entries(out)) {
    for (const body of BODY) t.false(text.includes(body), `${where} shows a private key line: ${body.slice(0, 16)}…`);
  }
});

const STRIPE = 'sk_test_51HcommentedSecretValue7e2b';
const DBPW = 'tr0ub4dor-and-3-more-words';
const YAML_TOKEN = 'yaml-inline-comment-token-0042';
const ENV_WITH_COMMENTS = `STRIPE_KEY=${STRIPE} # live key, rotate monthly\nDB_PASSWORD="${DBPW}"  # see vault\n`;

test('a .env secret file with inline comments: the values dotenv loads (comment dropped) are redacted — page, download and tail', async (t) => {
  const yaml = `database:\n  token: ${YAML_TOKEN}  # prod\n`;
  const out = await served('dotcomment', { name: '.env', content: ENV_WITH_COMMENTS }, [
    `charging with ${STRIPE}`, `db login failed for password ${DBPW}`,
  ]);
  for (const [where, text] of Object.entries(out)) {
    t.false(text.includes(STRIPE), `${where} shows STRIPE_KEY`);
    t.false(text.includes(DBPW), `${where} shows DB_PASSWORD`);
  }
  const yamlOut = await served('yamlcomment', { name: 'config.yml', content: yaml }, [`connecting with token ${YAML_TOKEN}`]);
  for (const [where, text] of Object.entries(yamlOut)) t.false(text.includes(YAML_TOKEN), `${where} shows the YAML token`);
});

test('a Sentinel finding quoting the line redacts a .env value written with an inline comment', (t) => {
  const out = sanitizeLine(`FATAL: password authentication failed (password ${DBPW})`, [ENV_WITH_COMMENTS]);
  t.false(out.includes(DBPW), out);
});
