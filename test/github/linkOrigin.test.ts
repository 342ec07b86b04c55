import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGitHubClient, GitHubError } from '../../server/github/client.js';

// A Link rel="next" that is not an absolute URL was appended to the API base as it stood, so against
// https://api.github.test a link of ".evil.example/…" became https://api.github.test.evil.example/…
// and the token went there. Every target must be on the API's own origin and path (http.ts urlOf).
// Real servers on loopback (the client speaks node:http, not fetch): the API and another origin, each
// noting every request it gets; a link appended to the base instead of refused fails to connect
// (unavailable, not bad_response) or reaches one of them.
interface Seen { host: string; url: string }
const asked: Seen[] = [];
let link = '';
let page: unknown[] | null = null;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
const api = createServer((req, res) => {
  asked.push({ host: req.headers.host ?? '', url: req.url ?? '' });
  const body = page ?? [{ name: `b${asked.length}`, commit: { sha: 'a'.repeat(40) } }];
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (asked.length === 1 || page) headers.link = `<${link}>; rel="next"`;
  res.writeHead(200, headers).end(JSON.stringify(body));
});
const other = createServer((req, res) => { asked.push({ host: req.headers.host ?? '', url: req.url ?? '' }); res.end('[]'); });
let apiUrl = '';
let otherUrl = '';
test.before(async () => { apiUrl = await listen(api); otherUrl = await listen(other); });
test.after.always(() => { api.close(); other.close(); });

const offApi = () => ['.evil.example/repos/alice/app/branches?page=2', '0/repos/alice/app/branches?page=2', `${otherUrl}/repos/alice/app/branches?page=2`, `${apiUrl}.evil.example/x`, `${apiUrl.replace('127.0.0.1', 'localhost')}/x`];
test.serial('a Link off the API is refused: nothing is sent off the API', async (t) => {
  for (const next of offApi()) {
    asked.length = 0;
    link = next;
    const gh = createGitHubClient({ apiUrl, token: 'gho_secret123', retries: false });
    const err = await gh.listBranches('alice', 'app').then(() => null, (e: unknown) => e);
    t.true(err instanceof GitHubError && err.kind === 'bad_response', `${next}: ${String(err)}`);
    t.deepEqual(asked, [{ host: new URL(apiUrl).host, url: '/repos/alice/app/branches?per_page=100' }], next);
  }
});

test.serial('a Link on the API itself is followed', async (t) => {
  asked.length = 0;
  link = `${apiUrl}/repositories/1/branches?per_page=100&page=2`;
  const gh = createGitHubClient({ apiUrl, token: 'gho_secret123', retries: false });
  t.deepEqual(await gh.listBranches('alice', 'app'), ['b1', 'b2']);
  t.deepEqual(asked.map((s) => `http://${s.host}${s.url}`), [`${apiUrl}/repos/alice/app/branches?per_page=100`, link]);
});

test.serial('an empty page whose Link names itself ends the list: no endless loop', async (t) => {
  asked.length = 0;
  link = `${apiUrl}/repos/alice/app/branches?per_page=100`;
  page = [];
  t.teardown(() => { page = null; });
  const gh = createGitHubClient({ apiUrl, token: 'gho_secret123', retries: false });
  t.deepEqual(await gh.listBranches('alice', 'app'), []);
  t.is(asked.length, 1);
});
