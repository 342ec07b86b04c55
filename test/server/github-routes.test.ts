import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';

// The repo and branch picker, through the real web process and the GitHub simulator.

let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

const REPO_FIELDS = ['defaultBranch', 'fullName', 'name', 'owner', 'private', 'pushedAt'];

async function signedIn(login: string) {
  const agent = stack.agent();
  await stack.signIn(agent, login);
  return agent;
}

test('repos: pages through the caller\'s repos, newest push first, whitelisted fields', async (t) => {
  const login = 'pager';
  for (let i = 1; i <= 7; i++) stack.github.addRepo({ owner: login, name: `app-${i}`, private: i === 3 });
  stack.github.addRepo({ owner: 'someone-else', name: 'not-mine' });
  const agent = await signedIn(login);

  const p1 = await agent.get('/api/github/repos?per_page=3');
  t.is(p1.status, 200, p1.text);
  t.deepEqual(p1.json.repos.map((r: { name: string }) => r.name), ['app-7', 'app-6', 'app-5']);
  t.true(p1.json.hasMore);
  t.is(p1.json.page, 1);
  t.is(p1.json.perPage, 3);
  for (const r of p1.json.repos) t.deepEqual(Object.keys(r).sort(), REPO_FIELDS);
  t.like(p1.json.repos[0], { fullName: `${login}/app-7`, owner: login, private: false, defaultBranch: 'main' });

  const p3 = await agent.get('/api/github/repos?per_page=3&page=3');
  t.deepEqual(p3.json.repos.map((r: { name: string }) => r.name), ['app-1']);
  t.false(p3.json.hasMore);
  const p2 = await agent.get('/api/github/repos?per_page=3&page=2');
  t.true(p2.json.repos.find((r: { name: string }) => r.name === 'app-3').private);

  const all = await agent.get('/api/github/repos?per_page=100');
  t.is(all.json.repos.length, 7, 'someone else\'s repo is not listed');
});

test('repos: q filters by name substring server-side, case-insensitively, with its own paging', async (t) => {
  const login = 'filterer';
  for (const name of ['alpha-api', 'beta', 'Alpha-Web', 'gamma', 'alphabet']) stack.github.addRepo({ owner: login, name });
  const agent = await signedIn(login);
  const res = await agent.get('/api/github/repos?q=ALPHA');
  t.is(res.status, 200, res.text);
  t.deepEqual(res.json.repos.map((r: { name: string }) => r.name), ['alphabet', 'Alpha-Web', 'alpha-api']);
  t.false(res.json.hasMore);
  t.false(res.json.truncated);

  const paged = await agent.get('/api/github/repos?q=alpha&per_page=2&page=2');
  t.deepEqual(paged.json.repos.map((r: { name: string }) => r.name), ['alpha-api']);
  const first = await agent.get('/api/github/repos?q=alpha&per_page=2');
  t.true(first.json.hasMore);

  t.deepEqual((await agent.get('/api/github/repos?q=nothing-like-this')).json.repos, []);
  t.is((await agent.get('/api/github/repos?q=%20%20')).json.repos.length, 5, 'a blank q is no filter');
});

test('repos: the filter looks at a bounded number of pages and says when it stopped early', async (t) => {
  const login = 'hoarder';
  stack.github.addRepo({ owner: login, name: 'ancient-needle' }); // oldest push: on page 6 of 100
  for (let i = 0; i < 500; i++) stack.github.addRepo({ owner: login, name: `repo-${i}` });
  stack.github.addRepo({ owner: login, name: 'fresh-needle' });
  const agent = await signedIn(login);
  const res = await agent.get('/api/github/repos?q=needle');
  t.is(res.status, 200, res.text);
  t.deepEqual(res.json.repos.map((r: { name: string }) => r.name), ['fresh-needle']);
  t.true(res.json.truncated);
  const listCalls = stack.github.calls.filter((c) => c.path === '/api/v3/user/repos' && c.login === login);
  t.is(listCalls.length, 5);
});

test('repos: bad paging parameters are a 400, not a GitHub call', async (t) => {
  const agent = await signedIn('badquery');
  for (const q of ['per_page=0', 'per_page=101', 'page=0', 'page=abc', 'extra=1', `q=${'x'.repeat(101)}`]) {
    const res = await agent.get(`/api/github/repos?${q}`);
    t.is(res.status, 400, q);
    t.is(res.json.error.code, 'validation_failed');
  }
});

test('branches: every branch and the default one', async (t) => {
  const login = 'brancher';
  stack.github.addRepo({
    owner: login, name: 'multi', defaultBranch: 'trunk',
    branches: { trunk: { 'README.md': 'x' }, dev: { 'a.txt': '1' }, 'feature/login': { 'b.txt': '2' } },
  });
  const agent = await signedIn(login);
  const res = await agent.get(`/api/github/repos/${login}/multi/branches`);
  t.is(res.status, 200, res.text);
  t.is(res.json.defaultBranch, 'trunk');
  t.deepEqual([...res.json.branches].sort(), ['dev', 'feature/login', 'trunk']);
});

test('branches: a collaborator sees a private repo; a stranger gets 404 like a missing repo', async (t) => {
  stack.github.addRepo({ owner: 'secretive', name: 'vault', private: true, collaborators: ['helper'] });
  const helper = await signedIn('helper');
  t.is((await helper.get('/api/github/repos/secretive/vault/branches')).status, 200);

  const stranger = await signedIn('stranger');
  const hidden = await stranger.get('/api/github/repos/secretive/vault/branches');
  t.is(hidden.status, 404);
  t.is(hidden.json.error.code, 'not_found');
  const missing = await stranger.get('/api/github/repos/secretive/no-such-repo/branches');
  t.is(missing.status, 404);
  t.deepEqual(missing.json, hidden.json, 'someone else\'s private repo looks exactly like a missing one');
  t.is((await stranger.get('/api/github/repos/-bad-/x/branches')).status, 404);
  t.is((await stranger.get('/api/github/repos/ok/..%2F..%2Fuser/branches')).status, 404);
});

test('a revoked GitHub token is 401 github_token_invalid; no session is 401 unauthenticated', async (t) => {
  const login = 'revokee';
  stack.github.addRepo({ owner: login, name: 'app' });
  const agent = await signedIn(login);
  t.is((await agent.get('/api/github/repos')).status, 200);
  for (const token of stack.github.tokensFor(login)) stack.github.revokeToken(token);
  const repos = await agent.get('/api/github/repos');
  t.is(repos.status, 401);
  t.is(repos.json.error.code, 'github_token_invalid');
  // The refusal ended the session (server/sessions/githubRefusal.ts): the next request is not signed in.
  const branches = await agent.get(`/api/github/repos/${login}/app/branches`);
  t.is(branches.status, 401);
  t.is(branches.json.error.code, 'unauthenticated');
  t.false(JSON.stringify(agent.transcript).includes('gho_'), 'no token in any response');

  const anon = stack.agent();
  const res = await anon.get('/api/github/repos');
  t.is(res.status, 401);
  t.is(res.json.error.code, 'unauthenticated');
  t.is((await anon.get(`/api/github/repos/${login}/app/branches`)).status, 401);
});
