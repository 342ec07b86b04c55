import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGitHubSimulator } from '../../sandbox/github/index.js';
import { createGitHubClient, FileTooLargeError, GitHubError, MAX_FILE_BYTES } from '../../server/github/client.js';
import { MAX_RESPONSE_BYTES } from '../../server/github/http.js';

async function world(t: { teardown(fn: () => unknown): void }) {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  sim.addUser({ id: 7, login: 'alice', name: 'Alice' });
  sim.addUser({ login: 'mallory' });
  sim.addRepo({
    owner: 'alice', name: 'app', private: true,
    branches: {
      main: { 'package.json': '{"scripts":{"start":"node ."}}', 'src/x.js': '', 'big.txt': 'x'.repeat(300 * 1024), 'ünï.txt': 'héllo' },
      dev: { 'README.md': 'dev' },
    },
  });
  const token = sim.issueToken('alice');
  const gh = createGitHubClient({ apiUrl: sim.apiUrl, token, retries: false });
  return { sim, token, gh };
}

async function kindOf(p: Promise<unknown>): Promise<GitHubError> {
  const err = await p.then(() => { throw new Error('expected a GitHubError'); }, (e: unknown) => e);
  if (!(err instanceof GitHubError)) throw err;
  return err;
}

test('getViewer maps /user', async (t) => {
  const { gh } = await world(t);
  t.deepEqual(await gh.getViewer(), { id: 7, login: 'alice', name: 'Alice', avatarUrl: 'https://avatars.githubusercontent.com/u/7?v=4' });
});

// listAllRepos (every page at once) was removed with octokit: nothing in the product used it (the picker
// pages with listRepos); following Link rel="next" is covered by listBranches below.
test('listRepos returns one page with hasMore, three pages of 100 cover 251 repos, each summarised', async (t) => {
  const { sim, gh } = await world(t);
  for (let i = 0; i < 250; i++) sim.addRepo({ owner: 'alice', name: `repo-${i}` });
  const p1 = await gh.listRepos({ perPage: 100 });
  t.is(p1.repos.length, 100);
  t.true(p1.hasMore);
  const p2 = await gh.listRepos({ perPage: 100, page: 2 });
  const p3 = await gh.listRepos({ perPage: 100, page: 3 });
  t.is(p3.repos.length, 51);
  t.false(p3.hasMore);
  const all = [...p1.repos, ...p2.repos, ...p3.repos];
  t.is(new Set(all.map((r) => r.fullName)).size, 251);
  const app = all.find((r) => r.fullName === 'alice/app')!;
  t.deepEqual(app, {
    fullName: 'alice/app', owner: 'alice', name: 'app', private: true, defaultBranch: 'main',
    htmlUrl: 'https://github.com/alice/app', cloneUrl: 'https://github.com/alice/app.git', pushedAt: app.pushedAt,
  });
});

test('listBranches paginates; getBranchHead returns the sha; missing branch is not_found', async (t) => {
  const { sim, gh } = await world(t);
  const files: Record<string, Record<string, string>> = {};
  for (let i = 0; i < 230; i++) files[`b${i}`] = { 'a.txt': String(i) };
  sim.addRepo({ owner: 'alice', name: 'many', defaultBranch: 'b0', branches: files });
  const before = sim.calls.length;
  t.is((await gh.listBranches('alice', 'many')).length, 230);
  t.is(sim.calls.slice(before).filter((c) => c.path === '/api/v3/repos/alice/many/branches').length, 3, 'Link rel="next" followed: three pages of 100');
  t.deepEqual(await gh.listBranches('alice', 'app'), ['dev', 'main']);
  const head = await gh.getBranchHead('alice', 'app', 'main');
  t.is(head.name, 'main');
  t.regex(head.sha, /^[0-9a-f]{40}$/);
  const err = await kindOf(gh.getBranchHead('alice', 'app', 'nope'));
  t.is(err.kind, 'not_found');
  t.is(err.status, 404);
});

test('compareCommits: a branch\'s earlier commit is behind its head (ahead), another branch\'s has diverged, an unknown one is not_found', async (t) => {
  const { sim, gh } = await world(t);
  const first = sim.branchHead('alice', 'app', 'main')!;
  const second = sim.push('alice', 'app', 'main', { 'index.js': '2' });
  const third = sim.push('alice', 'app', 'main', { 'index.js': '3' });
  t.deepEqual(await gh.compareCommits('alice', 'app', first, third), { status: 'ahead' });
  t.deepEqual(await gh.compareCommits('alice', 'app', second, third), { status: 'ahead' });
  t.deepEqual(await gh.compareCommits('alice', 'app', third, third), { status: 'identical' });
  t.deepEqual(await gh.compareCommits('alice', 'app', third, first), { status: 'behind' });
  t.deepEqual(await gh.compareCommits('alice', 'app', sim.branchHead('alice', 'app', 'dev')!, third), { status: 'diverged' });
  t.is((await kindOf(gh.compareCommits('alice', 'app', 'ab'.repeat(20), third))).kind, 'not_found');
  t.is((await kindOf(gh.compareCommits('alice', 'app', 'main', third))).kind, 'not_found', 'full SHAs only');
});

test('contents: root names, file text, null for missing files and directories, size cap', async (t) => {
  const { gh } = await world(t);
  t.deepEqual(await gh.listRootFiles('alice', 'app', 'main'), [{ name: 'big.txt', dir: false }, { name: 'package.json', dir: false }, { name: 'src', dir: true }, { name: 'ünï.txt', dir: false }]);
  t.deepEqual(await gh.listRootFiles('alice', 'app', 'dev'), [{ name: 'README.md', dir: false }]);
  t.is(await gh.readFile('alice', 'app', 'package.json', 'main'), '{"scripts":{"start":"node ."}}');
  t.is(await gh.readFile('alice', 'app', 'ünï.txt', 'main'), 'héllo');
  t.is(await gh.readFile('alice', 'app', 'package.json', 'dev'), null);
  t.is(await gh.readFile('alice', 'app', 'src', 'main'), null);
  // Over the cap: the file's size, not a malformed answer (which a deploy would retry as an outage).
  const big = await kindOf(gh.readFile('alice', 'app', 'big.txt', 'main'));
  t.true(big instanceof FileTooLargeError);
  t.is(big.kind, 'too_large');
  t.is(big.message, 'big.txt is larger than 256 KiB');
  t.is((await kindOf(gh.readFile('alice', 'app', '../../user', 'main'))).kind, 'not_found');
});

test('listDirectory: a directory\'s entries as the root\'s are listed; null for a file or a missing path', async (t) => {
  const { gh } = await world(t);
  t.deepEqual(await gh.listDirectory('alice', 'app', 'src', 'main'), [{ name: 'x.js', dir: false }]);
  t.is(await gh.listDirectory('alice', 'app', 'package.json', 'main'), null);
  t.is(await gh.listDirectory('alice', 'app', 'nope', 'main'), null);
  t.is((await kindOf(gh.listDirectory('alice', 'app', 'src/../..', 'main'))).kind, 'not_found');
});

test('file text as editors save it: a UTF-8 byte order mark is dropped, UTF-16 with one (PowerShell\'s `>`) is decoded', async (t) => {
  const { sim, gh } = await world(t);
  sim.addRepo({ owner: 'alice', name: 'win', branches: { main: { 'package.json': '\uFEFF{"scripts":{"start":"node ."}}' } } });
  t.is(await gh.readFile('alice', 'win', 'package.json', 'main'), '{"scripts":{"start":"node ."}}');
  // What GitHub answers for a file it holds as UTF-16 bytes (the simulator stores text, so the answer is given whole).
  const answer = (bytes: Buffer) => ({ type: 'file', name: 'requirements.txt', path: 'requirements.txt', size: bytes.length, encoding: 'base64', content: bytes.toString('base64') });
  const text = 'django==5.1\r\ngunicorn==23.0\r\n';
  const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
  const be = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
  for (const bytes of [le, be]) {
    sim.injectFault({ path: '/repos/alice/win/contents/requirements.txt', status: 200, body: answer(bytes) });
    t.is(await gh.readFile('alice', 'win', 'requirements.txt', 'main'), text);
  }
  // Without a mark it is UTF-8, as before (invalid sequences become U+FFFD, never an error).
  sim.injectFault({ path: '/repos/alice/win/contents/requirements.txt', status: 200, body: answer(Buffer.from([0x64, 0xff, 0x6a])) });
  t.is(await gh.readFile('alice', 'win', 'requirements.txt', 'main'), 'd\uFFFDj');
});

test('another user\'s private repo is not_found, and so is a malformed name', async (t) => {
  const { sim, gh } = await world(t);
  const mallory = createGitHubClient({ apiUrl: sim.apiUrl, token: sim.issueToken('mallory'), retries: false });
  t.is((await kindOf(mallory.getRepo('alice', 'app'))).kind, 'not_found');
  t.is((await kindOf(mallory.listBranches('alice', 'app'))).kind, 'not_found');
  t.is((await gh.getRepo('alice', 'app')).private, true);
  t.is((await kindOf(gh.getRepo('alice', '..'))).kind, 'not_found');
});

test('error kinds: unauthorized, forbidden, rate_limited, unavailable, bad_response; no message holds the token', async (t) => {
  const { sim, token, gh } = await world(t);
  const seen: GitHubError[] = [];
  const expectKind = async (kind: GitHubError['kind'], p: Promise<unknown>) => {
    const err = await kindOf(p);
    t.is(err.kind, kind, err.message);
    seen.push(err);
    return err;
  };

  await expectKind('unauthorized', createGitHubClient({ apiUrl: sim.apiUrl, token: 'gho_notvalid', retries: false }).getViewer());

  sim.injectFault({ path: '/user', status: 403, body: { message: 'Resource not accessible by integration' } });
  await expectKind('forbidden', gh.getViewer());

  const reset = String(Math.floor(Date.now() / 1000) + 120);
  sim.injectFault({ path: '/user', status: 403, body: { message: 'API rate limit exceeded for user ID 7.' }, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset } });
  const limited = await expectKind('rate_limited', gh.getViewer());
  t.true(limited.retryAfterSeconds! > 0 && limited.retryAfterSeconds! <= 120);

  sim.injectFault({ path: '/user', status: 429, body: { message: 'You have exceeded a secondary rate limit.' }, headers: { 'retry-after': '30' } });
  t.is((await expectKind('rate_limited', gh.getViewer())).retryAfterSeconds, 30);

  sim.injectFault({ path: '/user', status: 502, body: '<html>Bad gateway</html>' });
  await expectKind('unavailable', gh.getViewer());

  sim.injectFault({ path: '/user', status: 200, body: '<html>captive portal</html>' });
  await expectKind('bad_response', gh.getViewer());

  sim.injectFault({ path: '/user/repos', status: 200, body: [{ nonsense: true }] });
  await expectKind('bad_response', gh.listRepos());

  // A hostile upstream echoing the Authorization header back must not leak it into our message.
  sim.injectFault({ path: '/user', status: 401, body: { message: `bad token ${token}` } });
  await expectKind('unauthorized', gh.getViewer());
  // Echoed where GitHub's message is cut (200 characters): the token is scrubbed before the cut, so no
  // prefix of it survives (scrubbing the cut message found no whole token and left half of one).
  const half = Math.floor(token.length / 2);
  sim.injectFault({ path: '/user', status: 401, body: { message: `${'x'.repeat(200 - half)}${token}` } });
  const cut = await expectKind('unauthorized', gh.getViewer());
  t.false(cut.message.includes(token.slice(0, half)), cut.message);

  for (const err of seen) {
    t.false(err.message.includes(token), err.message);
    t.false(err.message.includes('gho_notvalid'), err.message);
    t.false(JSON.stringify({ ...err, message: err.message, stack: err.stack }).includes(token));
    t.false(/authorization/i.test(err.message));
  }
});

test('answers are read up to 4 MiB: past it, streamed or declared, a too_large error without retries; the next call works', async (t) => {
  const { sim, token } = await world(t);
  const gh = createGitHubClient({ apiUrl: sim.apiUrl, token, retries: true });
  // A file at the read limit (random bytes: base64 of incompressible content, GitHub's 60-character lines) fits.
  const limitFile = randomBytes(MAX_FILE_BYTES / 2).toString('hex');
  sim.addRepo({ owner: 'alice', name: 'edge', branches: { main: { 'at-limit.txt': limitFile } } });
  t.is(await gh.readFile('alice', 'edge', 'at-limit.txt', 'main'), limitFile);

  const path = '/repos/alice/app/contents/package.json';
  const calls = () => sim.calls.filter((c) => c.path === `/api/v3${path}`).length;
  sim.injectFault({ path, status: 200, bodyBytes: MAX_RESPONSE_BYTES + 1 }); // chunked: the size shows as it arrives
  const streamed = await kindOf(gh.readFile('alice', 'app', 'package.json', 'main'));
  t.is(streamed.kind, 'too_large');
  t.is(streamed.message, 'GitHub read file: the answer was larger than 4 MiB, the most this app reads');
  t.is(calls(), 1, 'not retried: the same question gets the same answer');
  sim.injectFault({ path: '/user', status: 200, body: 'x'.repeat(MAX_RESPONSE_BYTES + 1) }); // with its Content-Length
  const declared = await kindOf(gh.getViewer());
  t.is(declared.kind, 'too_large');
  for (const err of [streamed, declared]) t.false(JSON.stringify({ ...err, message: err.message, stack: err.stack }).includes(token));

  // Exactly at the cap it is read (and then judged: a bare string is no file).
  sim.injectFault({ path, status: 200, bodyBytes: MAX_RESPONSE_BYTES });
  t.is((await kindOf(gh.readFile('alice', 'app', 'package.json', 'main'))).kind, 'bad_response');
  t.is(await gh.readFile('alice', 'app', 'package.json', 'main'), '{"scripts":{"start":"node ."}}');
});

test('a server that never answers or refuses connections is unavailable', async (t) => {
  const hang = createServer(() => { /* never responds */ });
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
  t.teardown(() => { hang.closeAllConnections(); hang.close(); });
  const url = `http://127.0.0.1:${(hang.address() as AddressInfo).port}`;
  const slow = createGitHubClient({ apiUrl: url, token: 'gho_secret123', retries: false, timeoutMs: 200 });
  const err = await kindOf(slow.getViewer());
  t.is(err.kind, 'unavailable');
  t.false(err.message.includes('gho_secret123'));

  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const refused = createGitHubClient({ apiUrl: `http://127.0.0.1:${deadPort}`, token: 'gho_secret123', retries: false });
  t.is((await kindOf(refused.listRepos())).kind, 'unavailable');
});

test('with retries on, a passing 502 is retried and the call succeeds', async (t) => {
  const { sim } = await world(t);
  const gh = createGitHubClient({ apiUrl: sim.apiUrl, token: sim.issueToken('alice'), retries: true });
  sim.injectFault({ path: '/user', status: 502, body: { message: 'Server Error' } });
  t.is((await gh.getViewer()).login, 'alice');
  t.deepEqual(sim.calls.filter((c) => c.path === '/api/v3/user').map((c) => c.status), [502, 200]);
});

// An empty repository (no commit) answers its git reads 409 "Git Repository is empty." (docs/github-api.md):
// the same answer every time, so retrying it (1 s, 4 s, 9 s) only made such a deploy 14 s slower to fail.
test('with retries on, a 409 (an empty repository) is not retried', async (t) => {
  const { sim } = await world(t);
  // The waits are counted, not timed (a loaded machine made one local call take longer than the bound).
  const waits: number[] = [];
  const gh = createGitHubClient({ apiUrl: sim.apiUrl, token: sim.issueToken('alice'), retries: true, sleep: async (ms) => { waits.push(ms); } });
  sim.injectFault({ path: '/repos/alice/app/branches', status: 409, body: { message: 'Git Repository is empty.' } });
  const listed = await kindOf(gh.listBranches('alice', 'app'));
  t.is(listed.kind, 'not_found');
  t.is(listed.status, 409);
  t.is(sim.calls.filter((c) => c.path.startsWith('/api/v3/repos/alice/app/branches')).length, 1, 'asked once');
  t.deepEqual(waits, [], 'no retry delay');
  // The same client does wait before retrying a 502: the waits above are the ones a retry takes.
  sim.injectFault({ path: '/repos/alice/app', status: 502, body: { message: 'Bad gateway' } });
  await gh.getRepo('alice', 'app');
  t.deepEqual(waits, [1_000]);
});

test('per-deploy reads are conditional: the second read of the same thing is a 304 from GitHub, answered from the cache', async (t) => {
  const { sim, token } = await world(t);
  const gh = createGitHubClient({ apiUrl: sim.apiUrl, token, retries: false });
  const statuses = (path: string) => sim.calls.filter((c) => c.path === `/api/v3${path}`).map((c) => c.status);
  const repo = await gh.getRepo('alice', 'app');
  t.deepEqual(await gh.getRepo('alice', 'app'), repo);
  t.deepEqual(statuses('/repos/alice/app'), [200, 304]);
  t.is(await gh.readFile('alice', 'app', 'package.json', 'main'), '{"scripts":{"start":"node ."}}');
  t.is(await gh.readFile('alice', 'app', 'package.json', 'main'), '{"scripts":{"start":"node ."}}');
  t.deepEqual(statuses('/repos/alice/app/contents/package.json'), [200, 304]);
  t.deepEqual(await gh.tokenScopes(), await gh.tokenScopes(), 'scopes come from the cached answer on a 304');
  t.deepEqual(statuses('/user'), [200, 304]);
  // Another token never gets this token's cached answer: its request carries no tag.
  const other = createGitHubClient({ apiUrl: sim.apiUrl, token: sim.issueToken('alice'), retries: false });
  await other.getRepo('alice', 'app');
  t.deepEqual(statuses('/repos/alice/app'), [200, 304, 200]);
});

/**
 * A GitHub that answers no write until two are in its hands: a write held behind another (by a pacer)
 * never gets there, and its call times out. Returns its URL and how many writes reached it.
 */
async function gitHubHoldingTwoWrites(t: ExecutionContext): Promise<{ apiUrl: string; received: () => number }> {
  const held: Array<() => void> = [];
  const api = createServer((req, res) => {
    req.resume();
    held.push(() => res.writeHead(201, { 'content-type': 'application/json' }).end('{}'));
    if (held.length === 2) for (const answer of held) answer();
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  t.teardown(() => api.close());
  return { apiUrl: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, received: () => held.length };
}
const pendingStatus = { state: 'pending' as const, targetUrl: 'https://example.com/x', description: 'd', context: 'c' };

test('with retries on, writes are paced per token: two statuses on one token a second apart', async (t) => {
  const { sim } = await world(t);
  const sha = (await createGitHubClient({ apiUrl: sim.apiUrl, token: sim.issueToken('alice', 'repo'), retries: false }).getBranchHead('alice', 'app', 'main')).sha;
  const one = createGitHubClient({ apiUrl: sim.apiUrl, token: sim.issueToken('alice', 'repo'), retries: true });
  const started = Date.now();
  const times: Record<string, number> = {};
  const post = (name: string, gh: ReturnType<typeof createGitHubClient>) => gh.createCommitStatus('alice', 'app', sha, pendingStatus).then(() => { times[name] = Date.now() - started; });
  await Promise.all([post('first', one), post('second', one)]);
  t.true(times.second! - times.first! >= 900, JSON.stringify(times));
  t.is(sim.statusesFor('alice', 'app', sha).length, 2);
});

// Was a bound on wall time (under 900 ms), which a loaded machine missed: now a GitHub that answers
// nothing until both writes are in its hands, so a token held behind another's write never gets there.
test('with retries on, a token\'s write in flight does not hold up another token\'s', async (t) => {
  const { apiUrl, received } = await gitHubHoldingTwoWrites(t);
  await Promise.all(['gho_tokenone', 'gho_tokentwo'].map((token) => createGitHubClient({ apiUrl, token, retries: true, timeoutMs: 5_000 }).createCommitStatus('alice', 'app', 'a'.repeat(40), pendingStatus)));
  t.is(received(), 2);
});

// The commit-status worker paces its own status writes (workers/tasks/writePacer.ts) and posts with a
// client that does not pace them again: a write waited in both layers and each one waited twice.
test('with retries on and pacing left to the caller, a second write on the token goes while the first is in flight', async (t) => {
  // A client pacing its writes never sends the second before the first is answered (and would time out here).
  const { apiUrl, received } = await gitHubHoldingTwoWrites(t);
  const gh = createGitHubClient({ apiUrl, token: 'gho_secret123', retries: true, pacedWrites: false, timeoutMs: 5_000 });
  await Promise.all([1, 2].map(() => gh.createCommitStatus('alice', 'app', 'a'.repeat(40), pendingStatus)));
  t.is(received(), 2);
});

test('a Link rel="next" off the API (another origin or path) is refused: the token never follows it', async (t) => {
  const { sim, gh } = await world(t);
  const page = [{ name: 'main', commit: { sha: 'a'.repeat(40) } }];
  for (const next of ['http://evil.example/api/v3/repos/alice/app/branches?page=2', `${new URL(sim.apiUrl).origin}/elsewhere?page=2`]) {
    sim.injectFault({ path: '/repos/alice/app/branches', status: 200, body: page, headers: { link: `<${next}>; rel="next"` } });
    const err = await kindOf(gh.listBranches('alice', 'app'));
    t.is(err.kind, 'bad_response');
  }
});

// fetch follows redirects; the token must not: Node's fetch drops Authorization when a redirect leaves
// the origin (checked here so a runtime or client change that kept it fails loudly). A same-origin
// redirect (GitHub's 301 for a renamed repository) keeps it, as it should.
test('a redirect to another origin is followed without the token', async (t) => {
  const seen: Array<{ host: string; authorization: string | null }> = [];
  const other = createServer((req, res) => { seen.push({ host: 'other', authorization: req.headers.authorization ?? null }); res.end('{}'); });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  t.teardown(() => other.close());
  const api = createServer((req, res) => {
    seen.push({ host: 'api', authorization: req.headers.authorization ?? null });
    // Another port is another origin.
    res.writeHead(302, { location: `http://127.0.0.1:${(other.address() as AddressInfo).port}/user` }).end();
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  t.teardown(() => api.close());
  const gh = createGitHubClient({ apiUrl: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, token: 'gho_secret123', retries: false });
  const err = await gh.getViewer().then(() => null, (e: unknown) => e);
  // The other origin's answer is not taken as GitHub's.
  t.true(err instanceof GitHubError && err.kind === 'bad_response', String(err));
  t.deepEqual(seen, [{ host: 'api', authorization: 'token gho_secret123' }, { host: 'other', authorization: null }]);
});

test('every answer states the token\'s scopes (X-OAuth-Scopes), a 304 from the cache too: seenScopes is what GET /user would say', async (t) => {
  const { sim } = await world(t);
  const gh = createGitHubClient({ apiUrl: sim.apiUrl, token: sim.issueToken('alice', 'read:user,repo:status'), retries: false });
  t.is(gh.seenScopes(), undefined, 'nothing seen before an answer');
  await gh.getBranchHead('alice', 'app', 'main');
  t.deepEqual(gh.seenScopes(), ['read:user', 'repo:status']);
  await gh.getBranchHead('alice', 'app', 'main');
  t.deepEqual(sim.calls.filter((c) => c.path === '/api/v3/repos/alice/app/branches/main').map((c) => c.status), [200, 304]);
  t.deepEqual(gh.seenScopes(), ['read:user', 'repo:status']);
  t.deepEqual(await gh.tokenScopes(), gh.seenScopes());
});
