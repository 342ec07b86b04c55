import test from 'ava';
import { startStack } from '../test/helpers/stack.js';
test('token exchange unreachable', async (t) => {
  const stack = await startStack({ env: { GITHUB_OAUTH_URL: 'http://127.0.0.1:9' } });
  try {
    const agent = stack.agent();
    const start = await agent.get('/api/auth/github/login');
    const state = new URL(start.location!).searchParams.get('state')!;
    const done = await agent.get(`/api/auth/github/callback?code=abc&state=${state}`);
    t.log(done.status, done.location, done.text?.slice(0, 300));
    t.pass();
  } finally { await stack.close(); }
});
