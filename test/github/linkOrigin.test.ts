import test from 'ava';
import { createGitHubClient, GitHubError } from '../../server/github/client.js';

// A Link rel="next" that is not an absolute URL was appended to the API base as it stood, so against
// https://api.github.test a link of ".evil.example/…" became https://api.github.test.evil.example/…
// and the token went there. Every target must be on the API's own origin and path (http.ts urlOf).
// fetch is stubbed in this file's own process: no DNS, and every URL asked for is seen.
const asked: string[] = [];
let link = '';
const realFetch = globalThis.fetch;
test.before(() => {
  globalThis.fetch = (input: string | URL | Request) => {
    asked.push(input instanceof Request ? input.url : String(input));
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (asked.length === 1) headers.link = `<${link}>; rel="next"`;
    return Promise.resolve(new Response(JSON.stringify([{ name: `b${asked.length}`, commit: { sha: 'a'.repeat(40) } }]), { status: 200, headers }));
  };
});
test.after.always(() => { globalThis.fetch = realFetch; });

for (const next of ['.evil.example/repos/alice/app/branches?page=2', '0/repos/alice/app/branches?page=2', 'https://api.github.test.evil.example/x']) {
  test.serial(`a Link of "${next}" is refused: nothing is sent off the API`, async (t) => {
    asked.length = 0;
    link = next;
    const gh = createGitHubClient({ apiUrl: 'https://api.github.test', token: 'gho_secret123', retries: false });
    const err = await gh.listBranches('alice', 'app').then(() => null, (e: unknown) => e);
    t.true(err instanceof GitHubError && err.kind === 'bad_response', String(err));
    t.deepEqual(asked.map((u) => new URL(u).origin), ['https://api.github.test']);
  });
}

test.serial('a Link on the API itself is followed', async (t) => {
  asked.length = 0;
  link = 'https://api.github.test/repositories/1/branches?per_page=100&page=2';
  const gh = createGitHubClient({ apiUrl: 'https://api.github.test', token: 'gho_secret123', retries: false });
  t.deepEqual(await gh.listBranches('alice', 'app'), ['b1', 'b2']);
  t.deepEqual(asked, ['https://api.github.test/repos/alice/app/branches?per_page=100', link]);
});

test.serial('an empty page whose Link names itself ends the list: no endless loop', async (t) => {
  const self = 'https://api.github.test/repos/alice/app/branches?per_page=100';
  let calls = 0;
  const stubbed = globalThis.fetch;
  globalThis.fetch = () => {
    calls += 1;
    return Promise.resolve(new Response('[]', { status: 200, headers: { 'content-type': 'application/json', link: `<${self}>; rel="next"` } }));
  };
  t.teardown(() => { globalThis.fetch = stubbed; });
  const gh = createGitHubClient({ apiUrl: 'https://api.github.test', token: 'gho_secret123', retries: false });
  t.deepEqual(await gh.listBranches('alice', 'app'), []);
  t.is(calls, 1);
});
