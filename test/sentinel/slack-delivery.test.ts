import test from 'ava';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startPipelineStack, QUICK_PHASES, type PipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey, waitFinished } from '../helpers/pipeline.js';

//  how a deploy result reaches the user's Slack (server/sentinel/deployResults.ts,
// sent from the end of the worker's run, workers/tasks/deployTask.ts endFollowUps) when Slack does not
// simply answer 200: a 429 with Retry-After (Slack's incoming webhooks take about one message a second,
// https://api.slack.com/docs/rate-limits), or a webhook that never answers. A receiver of our own stands in
// for hooks.slack.com, scripted per webhook path.

interface Scripted { status: number; headers?: Record<string, string>; hang?: boolean }

/** A local Slack stand-in whose answers per path are scripted (then 200); every request noted with its time. */
async function scriptedSlack() {
  const script = new Map<string, Scripted[]>();
  const seen: Array<{ path: string; text: string; at: number; status: number | 'hung' }> = [];
  const hung: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += String(c); });
    req.on('end', () => {
      const next = script.get(req.url ?? '')?.shift() ?? { status: 200 };
      let text = body;
      try { text = String((JSON.parse(body) as { text?: unknown }).text); } catch { /* kept raw */ }
      seen.push({ path: req.url ?? '', text, at: Date.now(), status: next.hang ? 'hung' : next.status });
      if (next.hang) { hung.push(res); return; }
      res.writeHead(next.status, next.headers).end(next.status === 200 ? 'ok' : 'rate_limited');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin: `http://${host}`, host, seen,
    answer(path: string, ...answers: Scripted[]) { script.set(path, answers); },
    close: () => new Promise<void>((r) => { for (const res of hung) res.destroy(); server.close(() => r()); server.closeAllConnections(); }),
  };
}

let slack: Awaited<ReturnType<typeof scriptedSlack>>;
let p: PipelineStack;
test.before(async () => {
  slack = await scriptedSlack();
  p = await startPipelineStack({ renderOptions: { phaseMs: QUICK_PHASES }, appOptions: { sentinel: { slackOrigin: slack.origin, guard: { allowHosts: [slack.host] } } } });
});
test.after.always(async () => { await p?.close(); await slack?.close(); });

const pathOf = (login: string) => `/services/T${login.toUpperCase()}/B000/XXXXXXXXXXXXXXXX`;

/** `login` with deploy results on (hourly rounds), and `<login>/app` deployed: the finished deployment. */
async function deployWithResults(login: string) {
  const { agent } = await signedInWithKey(p.stack, login);
  const put = await agent.request('PUT', '/api/sentinel', { json: { enabled: true, intervalSeconds: 3600, slackWebhookUrl: `https://hooks.slack.com${pathOf(login)}`, slackDeployResults: true } });
  if (put.status !== 200) throw new Error(`sentinel: ${put.status} ${put.text}`);
  addNodeRepo(p.stack, login, 'app');
  const started = Date.now();
  const done = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: `${login}-app` })).json.id);
  return { done, started, finishedSeen: Date.now() };
}

const jobDone = (id: string) => p.worker.logs.some((l) => l.includes('"deploy job done"') && l.includes(id));

test('Slack answers the deploy result 429 with Retry-After: 1 once: the result is sent again after the wait, not lost', async (t) => {
  // A burst of deploys ending together (CI redeploying several services) meets Slack's per-webhook rate
  // limit. The result was claimed once per deployment before it was sent (deployResults.ts, `:slack` NX),
  // so a 429 lost it for good: the channel never heard of that deploy. A 429 means Slack posted nothing,
  // so sending again after its Retry-After cannot make a second message.
  const login = 'slack429';
  slack.answer(pathOf(login), { status: 429, headers: { 'retry-after': '1' } });
  const { done } = await deployWithResults(login);
  t.is(done.status, 'live');
  for (let i = 0; i < 200 && !slack.seen.some((s) => s.path === pathOf(login) && s.status === 200); i++) await new Promise((r) => setTimeout(r, 50));
  const mine = slack.seen.filter((s) => s.path === pathOf(login));
  t.deepEqual(mine.map((s) => s.status), [429, 200], `sent again once after the 429: ${JSON.stringify(mine)}`);
  t.true(mine.every((s) => s.text.includes(done.id as string)));
  if (mine.length === 2) t.true(mine[1]!.at - mine[0]!.at >= 900, 'not before Slack\'s Retry-After');
});

test('a webhook that never answers: the deployment ends at once, its job within the webhook\'s 5 s deadline, and nothing is sent twice', async (t) => {
  const login = 'slackhang';
  slack.answer(pathOf(login), { status: 200, hang: true });
  const { done, finishedSeen } = await deployWithResults(login);
  t.is(done.status, 'live', 'the deployment itself is not held up by Slack');
  for (let i = 0; i < 300 && !jobDone(done.id as string); i++) await new Promise((r) => setTimeout(r, 50));
  t.true(jobDone(done.id as string), 'the job ends');
  t.true(Date.now() - finishedSeen < 8_000, `within the webhook's deadline: ${Date.now() - finishedSeen} ms`);
  await new Promise((r) => setTimeout(r, 1_000));
  t.is(slack.seen.filter((s) => s.path === pathOf(login)).length, 1, 'one attempt: a message Slack may have posted is not sent again');
});
