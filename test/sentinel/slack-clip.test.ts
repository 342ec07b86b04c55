import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, renderApi, signedInWithKey, waitFinished } from '../helpers/pipeline.js';

// deployResults.ts clipped each name to 100 code points, but slack.ts cuts the whole text at 500 UTF-16
// units: three names of emoji (2 units each: service, repository, branch) pushed the deployment's link
// past 500, and it was cut off. Names are clipped by units now (present.ts clipped, server/text.ts cutUnits).

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

test('astral-character names: the deploy result still links the deployment', async (t) => {
  const login = 'probeemoji';
  const { agent, apiKey } = await signedInWithKey(stack, login);
  const webhook = `https://hooks.slack.com/services/T${login.toUpperCase()}/B000/XXXXXXXXXXXXXXXX`;
  const put = await agent.request('PUT', '/api/sentinel', { json: { enabled: true, intervalSeconds: 3600, slackWebhookUrl: webhook, slackDeployResults: true } });
  t.is(put.status, 200, put.text);
  addNodeRepo(stack, login, 'app');
  const first = await waitFinished(agent, (await agent.post('/api/render/deploy', { github_repo: `${login}/app`, project_name: `${login}-app` })).json.id);
  t.is(first.status, 'live');
  const emoji = '\u{1F680}'.repeat(120); // 120 code points, 240 UTF-16 units
  await renderApi(stack, apiKey, 'PATCH', `/services/${first.serviceId}`, { name: emoji, branch: emoji, repo: `https://gitlab.example.com/${emoji}` });
  const asked = await agent.post(`/api/render/services/${first.serviceId}/redeploy`);
  t.is(asked.status, 202, asked.text);
  const done = await waitFinished(agent, asked.json.id as string);
  const prefix = `POST /services/T${login.toUpperCase()}/B000/XXXXXXXXXXXXXXXX `;
  let body: string | undefined;
  for (let i = 0; i < 300 && !body; i++) {
    body = stack.slack.bodies.filter((b) => b.startsWith(prefix))[1];
    if (!body) await new Promise((r) => setTimeout(r, 50));
  }
  t.truthy(body, 'a second message arrived');
  const raw = body!.slice(prefix.length);
  const text = (JSON.parse(raw) as { text: string }).text;
  t.true(text.includes(`/#/deployments/${done.id}`), 'the link to the deployment is in the message');
});
