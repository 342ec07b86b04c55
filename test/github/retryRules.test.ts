// The GitHub client's retry policy (server/github/http.ts retryDelayMs, errors.ts retryAfterSeconds) by
// GitHub's rate-limit rules, writes that are not idempotent, and Link pages that cycle (client.ts
// paginateAll); each found by a probe. A local HTTP server answers as GitHub's front would.
import test, { type ExecutionContext } from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGitHubClient, GitHubError } from '../../server/github/client.js';

async function fakeGitHub(t: ExecutionContext, answer: (req: IncomingMessage, res: ServerResponse, n: number) => void) {
  const seen: Array<{ method: string; url: string }> = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '' });
      answer(req, res, seen.length);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => { server.closeAllConnections(); server.close(); });
  return { apiUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const viewer = JSON.stringify({ id: 7, login: 'alice', name: 'Alice', avatar_url: 'https://avatars.example/7' });
const sha = 'a'.repeat(40);
const status = { state: 'success' as const, targetUrl: 'https://example.com/x', description: 'd', context: 'render-orchestrator/web' };

// GitHub (REST API best practices, "Handle rate limit errors appropriately"): "If the retry-after
// response header is present, you should not retry your request until after that many seconds has
// elapsed. If the x-ratelimit-remaining header is 0, you should not make another request until after
// the time specified by the x-ratelimit-reset header. Otherwise, wait for at least one minute before
// retrying." A secondary limit's 403 carries the PRIMARY window's x-ratelimit-reset, with calls remaining.
test('a secondary rate limit (403, calls remaining, no retry-after) is not asked again seconds later, nor sat out in the request: the caller gets its minute', async (t) => {
  const { apiUrl, seen } = await fakeGitHub(t, (_req, res, n) => {
    const nowSec = Math.floor(Date.now() / 1000);
    if (n === 1) {
      return void res.writeHead(403, {
        'content-type': 'application/json', 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4321', 'x-ratelimit-reset': String(nowSec + 3),
      }).end(JSON.stringify({ message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' }));
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(viewer);
  });
  const waits: number[] = [];
  const gh = createGitHubClient({ apiUrl, token: 'gho_alice', retries: true, sleep: async (ms) => { waits.push(ms); } });
  const err = await gh.getViewer().then(() => null, (e: unknown) => e);
  // Asked again after the hourly reset it carries (3 s here): still under the limit. Sat out in the client,
  // a web request (a bearer token's check, sign-in, a repository read) was held a minute.
  t.deepEqual(waits, [], 'no wait inside the request');
  t.is(seen.length, 1);
  t.true(err instanceof GitHubError && err.kind === 'rate_limited');
  t.is((err as GitHubError).retryAfterSeconds, 60, 'the caller is told a minute (a route\'s Retry-After, the deploy job\'s delay)');
});

test('a rate limit whose wait GitHub states (retry-after) is still sat out once in the client', async (t) => {
  const { apiUrl, seen } = await fakeGitHub(t, (_req, res, n) => {
    if (n === 1) return void res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '2' }).end('{"message":"slow down"}');
    res.writeHead(200, { 'content-type': 'application/json' }).end(viewer);
  });
  const waits: number[] = [];
  const gh = createGitHubClient({ apiUrl, token: 'gho_alice', retries: true, sleep: async (ms) => { waits.push(ms); } });
  t.is((await gh.getViewer()).login, 'alice');
  t.deepEqual(waits, [2_000]);
  t.is(seen.length, 2);
});

// The commit status POST is not idempotent: each POST that reaches GitHub creates one more status
// (GitHub keeps at most 1,000 per sha and context). A write whose fate is unknown (a 502 from GitHub's
// front, or no answer before the deadline) is sent again by the client on its own.
test('a commit status POST answered 502 is not sent again by the client', async (t) => {
  const created: number[] = [];
  const { apiUrl, seen } = await fakeGitHub(t, (req, res, n) => {
    created.push(n); // GitHub's front answered 502, but the status was written behind it
    if (n === 1) return void res.writeHead(502, { 'content-type': 'application/json' }).end('{"message":"Server Error"}');
    res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
  });
  const gh = createGitHubClient({ apiUrl, token: 'gho_alice', retries: true, pacedWrites: false, sleep: async () => {} });
  await gh.createCommitStatus('alice', 'app', sha, status).catch(() => undefined);
  t.is(seen.filter((s) => s.method === 'POST').length, 1, 'POSTs sent for one status');
});

test('a commit status POST that timed out (GitHub got it) is not sent again by the client', async (t) => {
  const { apiUrl, seen } = await fakeGitHub(t, (_req, res, n) => {
    // The first is written, then answered too late for the client's deadline.
    if (n === 1) return void setTimeout(() => { if (!res.destroyed) res.writeHead(201).end('{}'); }, 800);
    res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
  });
  const gh = createGitHubClient({ apiUrl, token: 'gho_alice', retries: true, pacedWrites: false, timeoutMs: 300, sleep: async () => {} });
  await gh.createCommitStatus('alice', 'app', sha, status).catch(() => undefined);
  t.is(seen.filter((s) => s.method === 'POST').length, 1, 'POSTs sent for one status');
});

// Two pages naming each other as rel="next": each was listed again and again, `max` calls for one listing.
test('a Link rel="next" cycling between two non-empty pages ends the list: no duplicates, a bounded number of calls', async (t) => {
  let calls = 0;
  let apiUrl = '';
  const server = createServer((req, res) => {
    calls += 1;
    const page = new URL(req.url!, 'http://x').searchParams.get('page') ?? '1';
    const next = page === '1' ? 2 : 1; // page 2 names page 1 as next
    res.writeHead(200, { 'content-type': 'application/json', link: `<${apiUrl}/repos/alice/app/branches?per_page=100&page=${next}>; rel="next"` })
      .end(JSON.stringify([{ name: `branch-${page}`, commit: { sha: 'a'.repeat(40) } }]));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => { server.closeAllConnections(); server.close(); });
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const gh = createGitHubClient({ apiUrl, token: 'gho_alice', retries: false });
  const branches = await gh.listBranches('alice', 'app');
  t.is(new Set(branches).size, branches.length, 'each branch listed once');
  t.true(calls <= 20, `${calls} calls for one listing`);
});
