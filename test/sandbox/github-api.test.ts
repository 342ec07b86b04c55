import test from 'ava';
import { startGitHubSimulator, type GitHubSimulator } from '../../sandbox/github/index.js';

async function get(sim: GitHubSimulator, path: string, token?: string) {
  const res = await fetch(sim.apiUrl + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, headers: res.headers, body: await res.json() as any };
}

function links(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of (header ?? '').matchAll(/<([^>]+)>;\s*rel="([a-z]+)"/g)) out[m[2]!] = m[1]!;
  return out;
}

async function world(t: { teardown(fn: () => unknown): void }) {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  sim.addUser({ login: 'alice' });
  sim.addUser({ login: 'mallory' });
  sim.addRepo({
    owner: 'alice', name: 'secret-app', private: true, defaultBranch: 'main',
    branches: {
      main: { 'package.json': '{"name":"x"}', 'src/index.js': 'console.log(1)\n', 'src/lib/util.js': '' },
      'feature/login': { 'package.json': '{"name":"y"}' },
    },
  });
  sim.addRepo({ owner: 'alice', name: 'open-app' });
  sim.addRepo({ owner: 'bob', name: 'shared', private: true, collaborators: ['alice'] });
  return { sim, alice: sim.issueToken('alice'), mallory: sim.issueToken('mallory') };
}

test('a private repo is 404 Not Found for someone who is not owner or collaborator', async (t) => {
  const { sim, alice, mallory } = await world(t);
  const hidden = await get(sim, '/repos/alice/secret-app', mallory);
  t.is(hidden.status, 404);
  t.is(hidden.body.message, 'Not Found');
  t.is((await get(sim, '/repos/alice/secret-app')).status, 404, 'anonymous');
  t.is((await get(sim, '/repos/alice/secret-app/contents/package.json', mallory)).status, 404);
  const seen = await get(sim, '/repos/alice/secret-app', alice);
  t.like(seen.body, { full_name: 'alice/secret-app', private: true, default_branch: 'main', visibility: 'private' });
  t.is((await get(sim, '/repos/bob/shared', alice)).status, 200, 'collaborator');
  t.is((await get(sim, '/repos/alice/open-app', mallory)).status, 200, 'public');
  t.deepEqual((await get(sim, '/user/repos', mallory)).body, []);
});

test('/user/repos: affiliation and visibility filters, sort', async (t) => {
  const { sim, alice } = await world(t);
  const names = async (q: string) => (await get(sim, `/user/repos${q}`, alice)).body.map((r: any) => r.full_name);
  t.deepEqual(await names(''), ['alice/open-app', 'alice/secret-app', 'bob/shared']);
  t.deepEqual(await names('?affiliation=owner'), ['alice/open-app', 'alice/secret-app']);
  t.deepEqual(await names('?visibility=private'), ['alice/secret-app', 'bob/shared']);
  t.deepEqual(await names('?sort=created'), ['bob/shared', 'alice/open-app', 'alice/secret-app']);
  t.is((await get(sim, '/user/repos?type=owner&visibility=all', alice)).status, 422);
});

test('/user/repos pagination: per_page, page and a GitHub-style Link header', async (t) => {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  sim.addUser({ login: 'alice' });
  for (let i = 0; i < 75; i++) sim.addRepo({ owner: 'alice', name: `r${String(i).padStart(3, '0')}` });
  const token = sim.issueToken('alice');
  const first = await get(sim, '/user/repos', token);
  t.is(first.body.length, 30, 'default per_page');
  const l1 = links(first.headers.get('link'));
  t.deepEqual(Object.keys(l1).sort(), ['last', 'next']);
  t.is(new URL(l1.next!).searchParams.get('page'), '2');
  t.is(new URL(l1.last!).searchParams.get('page'), '3');
  t.true(l1.next!.startsWith(sim.apiUrl + '/user/repos'));

  const middle = await get(sim, '/user/repos?per_page=25&page=2', token);
  t.is(middle.body[0].name, 'r025');
  const l2 = links(middle.headers.get('link'));
  t.deepEqual(Object.keys(l2).sort(), ['first', 'last', 'next', 'prev']);
  t.is(new URL(l2.next!).searchParams.get('per_page'), '25', 'keeps other params');

  const last = await get(sim, '/user/repos?per_page=25&page=3', token);
  t.deepEqual(Object.keys(links(last.headers.get('link'))).sort(), ['first', 'prev']);
  t.is((await get(sim, '/user/repos?per_page=500', token)).body.length, 75, 'per_page is capped at 100');
});

test('branches: list with Link, one branch, 404 Branch not found, names with slashes', async (t) => {
  const { sim, alice } = await world(t);
  const list = await get(sim, '/repos/alice/secret-app/branches?per_page=1', alice);
  t.deepEqual(list.body.map((b: any) => b.name), ['feature/login']);
  t.regex(list.body[0].commit.sha, /^[0-9a-f]{40}$/);
  t.truthy(links(list.headers.get('link')).next);
  const main = await get(sim, '/repos/alice/secret-app/branches/main', alice);
  t.is(main.body.name, 'main');
  t.regex(main.body.commit.sha, /^[0-9a-f]{40}$/);
  t.is((await get(sim, `/repos/alice/secret-app/branches/${encodeURIComponent('feature/login')}`, alice)).body.name, 'feature/login');
  const missing = await get(sim, '/repos/alice/secret-app/branches/nope', alice);
  t.is(missing.status, 404);
  t.is(missing.body.message, 'Branch not found');
  const commit = await get(sim, '/repos/alice/secret-app/commits/main', alice);
  t.is(commit.body.sha, main.body.commit.sha);
  t.is((await get(sim, `/repos/alice/secret-app/commits/${main.body.commit.sha}`, alice)).body.sha, main.body.commit.sha);
  t.is((await get(sim, '/repos/alice/secret-app/commits/nope', alice)).status, 422);
});

test('contents: a file in base64, the root and a directory as arrays, 404 when missing, ref selects the branch', async (t) => {
  const { sim, alice } = await world(t);
  const file = await get(sim, '/repos/alice/secret-app/contents/src/index.js', alice);
  t.like(file.body, { type: 'file', name: 'index.js', path: 'src/index.js', encoding: 'base64', size: 15 });
  t.regex(file.body.sha, /^[0-9a-f]{40}$/);
  t.is(Buffer.from(file.body.content, 'base64').toString(), 'console.log(1)\n');

  const root = await get(sim, '/repos/alice/secret-app/contents', alice);
  t.deepEqual(root.body.map((e: any) => [e.name, e.type]), [['package.json', 'file'], ['src', 'dir']]);
  const dir = await get(sim, '/repos/alice/secret-app/contents/src', alice);
  t.deepEqual(dir.body.map((e: any) => [e.path, e.type]), [['src/index.js', 'file'], ['src/lib', 'dir']]);

  t.is((await get(sim, '/repos/alice/secret-app/contents/nope.txt', alice)).status, 404);
  const other = await get(sim, `/repos/alice/secret-app/contents/package.json?ref=${encodeURIComponent('feature/login')}`, alice);
  t.is(Buffer.from(other.body.content, 'base64').toString(), '{"name":"y"}');
  t.is((await get(sim, '/repos/alice/secret-app/contents/package.json?ref=nope', alice)).status, 404);
});

test('every API call is logged with the login and without the token', async (t) => {
  const { sim, alice } = await world(t);
  await get(sim, '/user', alice);
  await get(sim, '/repos/alice/none', alice);
  const last = sim.calls.slice(-2);
  t.deepEqual(last, [
    { method: 'GET', path: '/api/v3/user', status: 200, login: 'alice' },
    { method: 'GET', path: '/api/v3/repos/alice/none', status: 404, login: 'alice' },
  ]);
  t.false(JSON.stringify(sim.calls).includes(alice));
});

test('injected faults answer the next matching request, then stop', async (t) => {
  const { sim, alice } = await world(t);
  sim.injectFault({ path: '/user', status: 503, body: '<html>unicorn</html>' });
  t.is((await fetch(`${sim.apiUrl}/user`, { headers: { authorization: `Bearer ${alice}` } })).status, 503);
  t.is((await get(sim, '/user', alice)).status, 200);
});

test('conditional requests: a GET carries an ETag; If-None-Match with it is a 304 without a body that costs no rate limit', async (t) => {
  const { sim, alice } = await world(t);
  const auth = { authorization: `Bearer ${alice}` };
  const first = await fetch(`${sim.apiUrl}/repos/alice/secret-app/contents/package.json?ref=main`, { headers: auth });
  const etag = first.headers.get('etag');
  t.is(first.status, 200);
  t.regex(etag ?? '', /^W\/"[0-9a-f]{40}"$/);
  const remaining = Number(first.headers.get('x-ratelimit-remaining'));

  const again = await fetch(`${sim.apiUrl}/repos/alice/secret-app/contents/package.json?ref=main`, { headers: { ...auth, 'if-none-match': etag! } });
  t.is(again.status, 304);
  t.is(await again.text(), '');
  t.is(again.headers.get('etag'), etag);
  t.is(Number(again.headers.get('x-ratelimit-remaining')), remaining, 'a 304 is not counted');

  // Another representation (another ref) has another tag; a stale tag gets the full answer.
  const other = await fetch(`${sim.apiUrl}/repos/alice/secret-app/contents/package.json?ref=feature%2Flogin`, { headers: { ...auth, 'if-none-match': etag! } });
  t.is(other.status, 200);
  t.not(other.headers.get('etag'), etag);
  t.is(Number(other.headers.get('x-ratelimit-remaining')), remaining - 1);
  // Errors carry no tag and are never 304.
  const missing = await fetch(`${sim.apiUrl}/repos/alice/secret-app/contents/nope?ref=main`, { headers: { ...auth, 'if-none-match': '*' } });
  t.is(missing.status, 404);
  t.is(missing.headers.get('etag'), null);
});
