import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo, signedInWithKey, until } from '../helpers/pipeline.js';
import { Agent } from '../helpers/agent.js';
import { tokenEntryKey } from '../../server/bearer/tokenSessions.js';
import { keyedHash } from '../../server/crypto/keyring.js';

// GitHub refusing a session's token on a call the worker makes (a deploy step, a commit status): the
// deployment ended credentials_revoked ("GitHub rejected your authorization. Sign in again."), but the
// session went on. A bearer token's entry kept vouching for the token and its session (Render key
// included) served the next requests until BEARER_RECHECK_SECONDS ran out; a browser session stayed
// signed in. Now the session ends as when a route meets the refusal (server/sessions/githubRefusal.ts).

let stack: Stack;
usePipelineStack(test, {}, (p) => ({ stack } = p));

let nextUserId = 98_000;
function newUser(login: string, scope?: string): { id: number; token: string } {
  const id = nextUserId++;
  stack.github.addUser({ id, login, name: `${login} name` });
  addNodeRepo(stack, login, 'app');
  return { id, token: stack.github.issueToken(login, scope) };
}
const bearer = (token: string, renderKey?: string) => new Agent(stack.url, { authorization: `Bearer ${token}`, ...(renderKey ? { 'x-render-api-key': renderKey } : {}) });
const entryOf = (token: string) => stack.redis.client.hgetall(tokenEntryKey(stack.redis.prefix, keyedHash(`github-token:${token}`, stack.web.deps.keyring.current)));
/** The deployment's record once it ended (read from the store: its session may be over by then). */
const endOf = (id: string) => until('the deployment ended', async () => {
  const rec = await stack.web.deps.deployments.get(id);
  return rec?.finishedAt ? rec : null;
});
const tokenChecks = () => stack.github.calls.filter((c) => c.path.endsWith('/user')).length;

test.serial('a bearer token GitHub refused on a deploy step is refused on the next request, its session ended', async (t) => {
  const { token } = newUser('worker-refused');
  const apiKey = `rnd_workerrefused${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'wr ws' }] });
  const agent = bearer(token);
  t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
  t.is((await agent.get('/api/render/services')).status, 200);

  // Revoked after the entry vouched for it: the deploy request is served on the entry's word, the worker meets the 401.
  stack.github.revokeToken(token);
  const checksBefore = tokenChecks();
  const queued = await agent.post('/api/render/deploy', { github_repo: 'worker-refused/app', project_name: 'worker-refused-app' });
  t.is(queued.status, 202, queued.text);
  const done = await endOf(queued.json.id);
  t.is(done.status, 'credentials_revoked');
  t.is(done.failure?.code, 'github_token_invalid');

  // The run ends the token's session right after it writes the deployment's end (deployTask.ts): waited for, bounded.
  const entry = await until('the entry dropped', async () => { const e = await entryOf(token); return Object.keys(e).length === 0 ? e : null; }, 10_000).catch(() => entryOf(token));
  t.deepEqual(entry, {}, 'the entry no longer vouches for the token');
  const after = await agent.get('/api/render/services');
  t.is(after.status, 401, `after the worker met the refusal: ${after.status} ${after.text.slice(0, 200)}`);
  t.is(after.json.error.code, 'github_token_invalid');
  t.is(tokenChecks(), checksBefore + 1, 'checked with GitHub again, not served on the old entry');
});

test.serial('a browser session whose token GitHub refused on a deploy step is signed out', async (t) => {
  const { agent } = await signedInWithKey(stack, 'worker-refused-browser');
  addNodeRepo(stack, 'worker-refused-browser', 'app');
  const other = stack.agent();
  await stack.signIn(other, 'worker-refused-browser');
  t.is((await other.get('/api/session')).status, 200);
  // Only the deploying session's token: the same user's other sign-in holds a token of its own.
  const [deploying] = stack.github.tokensFor('worker-refused-browser');
  stack.github.revokeToken(deploying!);
  const queued = await agent.post('/api/render/deploy', { github_repo: 'worker-refused-browser/app', project_name: 'worker-refused-browser-app' });
  t.is(queued.status, 202, queued.text);
  const ended = await endOf(queued.json.id);
  t.is(ended.status, 'credentials_revoked');
  t.is(ended.failure?.code, 'github_token_invalid');
  const session = await until('the session ended', async () => {
    const res = await agent.get('/api/session');
    return res.status === 401 ? res : null;
  }, 10_000).catch(() => null);
  t.truthy(session, 'the session whose token GitHub refused is over');
  t.is((await other.get('/api/session')).status, 200, 'the user\'s other sign-in goes on');
});

test.serial('a bearer token GitHub refused on a commit status is refused on the next request', async (t) => {
  const { token } = newUser('status-refused', 'read:user,repo');
  const apiKey = `rnd_statusrefused${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'sr ws' }] });
  const agent = bearer(token);
  t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
  // The status POST is held until the token is revoked: the deploy's GitHub reads passed, its status meets the 401.
  const held = stack.github.holdRequest('/repos/status-refused/app/statuses/');
  const queued = await agent.post('/api/render/deploy', { github_repo: 'status-refused/app', project_name: 'status-refused-app' });
  t.is(queued.status, 202, queued.text);
  await held.arrived;
  stack.github.revokeToken(token);
  held.release();
  await until('the entry is gone', async () => (Object.keys(await entryOf(token)).length === 0 ? true : null), 10_000).catch(() => null);
  t.deepEqual(await entryOf(token), {}, 'the entry no longer vouches for the token');
  const after = await agent.get('/api/render/services');
  t.is(after.status, 401, `after the status met the refusal: ${after.status} ${after.text.slice(0, 200)}`);
});
