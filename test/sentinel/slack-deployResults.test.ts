import test, { type ExecutionContext } from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderApi, signedInWithKey, waitFinished } from '../helpers/pipeline.js';

//  the deploy result a user's Slack webhook receives (server/sentinel/deployResults.ts).
// A redeploy's deployment takes the service's name, branch and repository from Render (requests.ts
// requestServiceDeploy), and anyone in the workspace may change them on Render's side (a teammate, a
// careless script, whoever holds a key of it). Whatever they hold, the message must say what happened to
// this deployment and nothing else: one line, no markup of theirs, the outcome and the link always there,
// no credential. Each test drives the real flow: a deploy, the change on Render, the redeploy through the
// app, the worker's end, and the stack's local Slack receiver (every hooks.slack.com webhook lands there).

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

const webhook = (team: string) => `https://hooks.slack.com/services/${team}/B000/XXXXXXXXXXXXXXXX`;

/**
 * The `n`th message (1-based) `login`'s webhook got (bounded wait), parsed. By the webhook, not by the
 * deployment's id: a message cut short may have lost the id.
 */
async function messageTo(login: string, n: number): Promise<{ text: string; mrkdwn?: unknown }> {
  const prefix = `POST /services/T${login.toUpperCase()}/B000/XXXXXXXXXXXXXXXX `;
  for (let i = 0; i < 300; i++) {
    const body = stack.slack.bodies.filter((b) => b.startsWith(prefix))[n - 1];
    if (body) return JSON.parse(body.slice(prefix.length)) as { text: string; mrkdwn?: unknown };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no message ${n} for ${login}: ${stack.slack.bodies.join('\n')}`);
}

/**
 * `login` with deploy results on, `<login>/app` deployed live, its service then changed on Render with
 * `patch` (as a teammate would), and redeployed through the app: the redeploy's record and its message.
 */
async function redeployAfterRenderChange(t: ExecutionContext, login: string, patch: Record<string, unknown>, before?: (serviceId: string) => void) {
  const { agent, apiKey } = await signedInWithKey(stack, login);
  const put = await agent.request('PUT', '/api/sentinel', { json: { enabled: true, intervalSeconds: 3600, slackWebhookUrl: webhook(`T${login.toUpperCase()}`), slackDeployResults: true } });
  t.is(put.status, 200, put.text);
  addNodeRepo(stack, login, 'app');
  const first = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: `${login}-app` })).json.id);
  t.is(first.status, 'live');
  t.true((await messageTo(login, 1)).text.includes(first.id as string));
  await renderApi(stack, apiKey, 'PATCH', `/services/${first.serviceId}`, patch);
  before?.(first.serviceId as string);
  const asked = await agent.post(`/api/render/services/${first.serviceId}/redeploy`);
  t.is(asked.status, 202, asked.text);
  const done = await waitFinished(agent, asked.json.id as string);
  return { done, agent, message: await messageTo(login, 2) };
}

/** Whether a directional embedding, override or isolate (UAX #9, X1–X8) is still open at `index` of `text` (as test/sentinel/bidiNames.test.ts). */
function bidiOpenAt(text: string, index: number): boolean {
  const stack: Array<'embedding' | 'isolate'> = [];
  for (let i = 0; i < index; i += 1) {
    const c = text.charCodeAt(i);
    if (c >= 0x202a && c <= 0x202e && c !== 0x202c) stack.push('embedding');
    else if (c >= 0x2066 && c <= 0x2068) stack.push('isolate');
    else if (c === 0x202c && stack.at(-1) === 'embedding') stack.pop();
    else if (c === 0x2069 && stack.includes('isolate')) stack.length = stack.lastIndexOf('isolate');
  }
  return stack.length > 0;
}

const LINE_BREAKS = /[\p{Cc}\u2028\u2029]/u;

test('a service renamed on Render with a line break: the deploy result stays one line, no fake line of the teammate\'s', async (t) => {
  // What the channel saw: "[Deploy] slackline-app" on one line, then a line of the renamer's own words
  // (":white_check_mark: Deploy succeeded · all services healthy"), then "is live · …".
  const name = 'slackline-app\n:white_check_mark: Deploy succeeded · all services healthy\n';
  const { done, message } = await redeployAfterRenderChange(t, 'slackline', { name });
  t.is(done.status, 'live');
  t.false(LINE_BREAKS.test(message.text), `one line: ${JSON.stringify(message.text)}`);
  t.true(message.text.includes('Deploy succeeded · all services healthy'), 'the name is still shown (as text)');
});

test('a service renamed with Slack formatting: the message is sent with mrkdwn off, so *bold*, _italic_, `code` and ~strike~ of a name show as typed', async (t) => {
  // Slack has no escape for * _ ~ ` (only &, < and > have one): a name "`" … "`" turned the words of ours
  // between into code, a "~" pair struck the outcome through. The message uses no formatting of its own,
  // so it is sent as plain text (`mrkdwn: false`, a field of Slack's message payload).
  const name = '*URGENT* ~slackfmt-app~ `';
  const { message } = await redeployAfterRenderChange(t, 'slackfmt', { name, branch: '`main' });
  t.true(message.text.includes('*URGENT* ~slackfmt-app~'), message.text);
  t.is(message.mrkdwn, false, `Slack reads the name's * _ ~ \` as formatting: ${JSON.stringify(message)}`);
});

test('a service renamed with a right-to-left override: nothing of it runs on into the result\'s own words', async (t) => {
  // Sentinel's alerts isolate a name from Render (present.ts isolated, test/sentinel/bidiNames.test.ts);
  // the deploy result did not: "slackbidi-app\u202E" drew " is live · repo@main (sha) · link" reversed.
  const { message } = await redeployAfterRenderChange(t, 'slackbidi', { name: 'slackbidi-app\u202E' });
  const words = message.text.indexOf(' is live');
  t.true(words > 0, message.text);
  const open = bidiOpenAt(message.text, words);
  t.false(open, `no bidirectional control still open before the result's own words: ${JSON.stringify(message.text)}`);
});

test('a very long service name: the message still says how the deploy ended, and links it', async (t) => {
  // slack.ts cuts every text at 500 characters; the name comes before the outcome, so a name of ~500
  // characters cut the outcome and the link off. A teammate's "payments is live ……" over a build that failed
  // read in the channel as a deploy that went live.
  const login = 'slacklong';
  const name = `${login}-app is live${' ·'.repeat(260)}`;
  const { done, message } = await redeployAfterRenderChange(t, login, { name }, () => {
    stack.render.failBuilds({ serviceName: name.trim() }, 'build_failed');
  });
  t.is(done.status, 'build_failed');
  t.true(message.text.includes('failed: build_failed'), `the outcome is in the message: ${message.text.slice(-120)}`);
  t.true(message.text.includes(`/#/deployments/${done.id}`), 'and the link to the deployment');
  t.true(message.text.length <= 3_000, 'within a Slack text block');
});

test('a service whose repository URL on Render carries credentials: the deploy result never shows them', async (t) => {
  // A redeploy's repository is the service's as Render holds it, kept whole when it is not a GitHub URL
  // (requests.ts: `githubRepoOf(service.repo) ?? service.repo`). A repository URL with a token in it (a
  // GitLab deploy token, `https://user:password@host/…`) went into the channel as it was; slack.ts's last
  // mask knows GitHub, Render and Slack token prefixes only.
  const secret = 'glpat-Zq8xVv3kR9mN2pL7sT4w';
  const { done, agent, message } = await redeployAfterRenderChange(t, 'slackcreds', { repo: `https://oauth2:${secret}@gitlab.example.com/team/app` });
  t.false(message.text.includes(secret), `no credential in the message: ${message.text}`);
  t.false(message.text.includes('oauth2:'), message.text);
  // Nor the record, its page, the service card or its settings page (server/render/serviceNames.ts withoutUserInfo).
  t.false(JSON.stringify(done).includes(secret), 'the deployment record keeps the token');
  t.is(done.request.githubRepo, 'https://gitlab.example.com/team/app');
  const cards = await agent.get('/api/render/services');
  t.is(cards.status, 200, cards.text);
  t.false(cards.text.includes(secret), 'the service card shows the token');
  const settings = await agent.get(`/api/render/services/${done.serviceId}/settings`);
  t.is(settings.status, 200, settings.text);
  t.false(settings.text.includes(secret), 'the settings page shows the token');
  t.is(settings.json.settings.repo, 'https://gitlab.example.com/team/app');
});
