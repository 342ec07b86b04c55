import test from 'ava';
import { randomBytes } from 'node:crypto';
import { maskedPath, MASKED_SEGMENT } from '../../server/text.js';
import type { Stack } from '../helpers/stack.js';
import { assertNoSecrets, useScannedStack } from '../helpers/secretScan.js';

// A client that puts its own credentials where the app reads no credential — a CI script's misquoted
// variable in a path segment where an id goes, or in X-Request-Id — is answered as before (a 404, a
// request id of our own), and the credential is kept nowhere: not on the access line (the path's
// credential-looking segments are masked, server/logger.ts accessLogger with server/text.ts maskedPath),
// not as the request id (refused, server/middleware/requestContext.ts: it was echoed in the answer header
// and written on every log line of the request). The file's last check is the shared secret scan.

let stack: Stack;
/** Credentials this file sent that the witness does not know of (bearer tokens, their bodies, keys in paths). */
const sent: string[] = [];
useScannedStack(test, {}, (s) => ({ stack } = s), () => ({ secrets: sent }));

let nextUserId = 98_000;
/** Credentials sent by one test: scanned for by that test, and by the file's last check. */
function credentials(): { list: string[]; add(...values: string[]): void } {
  const list: string[] = [];
  return { list, add: (...values) => { list.push(...values); sent.push(...values); } };
}
/** A GitHub user with a bearer token and a Render key, neither stored by a sign-in. */
function bearerUser(login: string, mine: ReturnType<typeof credentials>): { token: string; apiKey: string } {
  stack.github.addUser({ id: nextUserId++, login, name: `${login} name` });
  const token = stack.github.issueToken(login);
  const apiKey = `rnd_${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x')}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  // The bodies too: a mask that kept all but the prefix would still leak the credential.
  mine.add(token, apiKey, token.slice(4), apiKey.slice(4));
  return { token, apiKey };
}
/** Access lines (parsed) written since `from`, for paths the test sent. */
const accessLines = (from: number) => stack.logs.slice(from).join('').split('\n').filter((l) => l.includes('"msg":"request"'))
  .map((l) => JSON.parse(l) as { requestId: string; method: string; path: string; route: string | null; status: number });

test('maskedPath: credential-looking segments (as sent or percent-encoded) masked, every other path as it is', (t) => {
  const token = `gho_${'A1b2'.repeat(9)}`;
  for (const path of ['/api/session', '/api/render/services/srv-abc123/env-vars/MY_VAR', '/api/github/repos/some_org/my_repo/detect', '/api/a%22b/%E2%80%A6', '/api/x/%zz_bad']) {
    t.is(maskedPath(path), path, path);
  }
  t.is(maskedPath(`/api/render/deployments/${token}`), `/api/render/deployments/${MASKED_SEGMENT}`);
  t.is(maskedPath(`/api/render/deployments/${token}/cancel`), `/api/render/deployments/${MASKED_SEGMENT}/cancel`);
  t.is(maskedPath(`/api/x;${token}`), `/${['api', MASKED_SEGMENT].join('/')}`);
  t.is(maskedPath(`/api/render/services/RND_${'k'.repeat(32)}`), `/api/render/services/${MASKED_SEGMENT}`);
  t.is(maskedPath(`/api/github_pat_${'p'.repeat(82)}`), `/api/${MASKED_SEGMENT}`);
  t.is(maskedPath(`/api/gh%6F_${'A1b2'.repeat(9)}/x`), `/api/${MASKED_SEGMENT}/x`, 'percent-encoded once');
  t.is(maskedPath(`/api/gh%256F%255F${'A1b2'.repeat(9)}`), `/api/${MASKED_SEGMENT}`, 'encoded twice');
  // Found by a review: a malformed escape elsewhere in the segment stopped its decoding, and the token was kept;
  // an env var name holding a prefix was masked, and the line no longer said which variable changed.
  t.is(maskedPath(`/api/render/deployments/ghp%5F${'A1b2C3d4'.repeat(4)}%zz`), `/api/render/deployments/${MASKED_SEGMENT}`);
  t.is(maskedPath(`/api/render/deployments/%zz${token}`), `/api/render/deployments/${MASKED_SEGMENT}`);
  // Render keys as the key check takes them (rnd_ and 8 or more of letters, digits, _ and -), found by a review.
  for (const key of ['rnd_Ab3-xY9_kLm2NoPq', 'rnd_0123456789abcde', 'rnd_abc_def_ghi', 'rnd_12345678']) {
    t.is(maskedPath(`/api/render/deployments/${key}`), `/api/render/deployments/${MASKED_SEGMENT}`, key);
  }
  for (const name of ['GITHUB_PAT_SCOPE', 'BRND_X', 'MY_GHP_KEY', 'RND_SEED']) {
    t.is(maskedPath(`/api/render/services/srv-abc/env-vars/${name}`), `/api/render/services/srv-abc/env-vars/${name}`, name);
  }
});

test.serial('a credential in a request\'s path is answered as before and masked on the access line', async (t) => {
  const mine = credentials();
  const { token, apiKey } = bearerUser('path-credentials', mine);
  const pat = stack.github.issuePat('path-credentials');
  mine.add(pat, pat.slice('github_pat_'.length));
  t.is((await stack.agent({ authorization: `Bearer ${token}` }).post('/api/render/setup', { api_key: apiKey })).status, 200);
  const from = stack.logs.length;

  // Sent with fetch, not an Agent: an Agent's transcript keeps the URL it was asked for. What the answers
  // say (status, headers, body) is scanned.
  const answers: string[] = [];
  const send = async (path: string, headers: Record<string, string> = { authorization: `Bearer ${token}` }) => {
    const res = await fetch(`${stack.url}${path}`, { headers });
    answers.push(`${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${await res.text()}`);
    return res.status;
  };
  const encoded = `gh%6F${encodeURIComponent('_')}${token.slice(4)}`; // "gho_…" with its prefix percent-encoded
  t.is(await send(`/api/render/deployments/${token}`), 404);
  t.is(await send(`/api/render/deployments/${apiKey}`), 404);
  t.is(await send(`/api/render/deployments/${encoded}`), 404);
  t.is(await send(`/api/render/deployments/${pat}`), 404);
  t.is(await send(`/api/render/services/${apiKey}/settings`), 404);
  t.is(await send(`/api/${token}`), 404, 'no route: still logged, still masked');
  t.is(await send(`/api/render/deployments/${apiKey}`, {}), 401, 'no session');

  const lines = accessLines(from);
  const deployment = (status: number) => ['GET', `/api/render/deployments/${MASKED_SEGMENT}`, '/api/render/deployments/:id', status];
  t.deepEqual(lines.map((l) => [l.method, l.path, l.route, l.status]), [
    deployment(404), deployment(404), deployment(404), deployment(404),
    ['GET', `/api/render/services/${MASKED_SEGMENT}/settings`, '/api/render/services/:id/settings', 404],
    ['GET', `/api/${MASKED_SEGMENT}`, null, 404],
    deployment(401),
  ]);
  await assertNoSecrets(t, { stack, secrets: mine.list, transcripts: [answers] });
});

test.serial('a credential-shaped X-Request-Id is not the request id: a fresh one is answered and logged instead', async (t) => {
  const mine = credentials();
  const { token, apiKey } = bearerUser('request-id-credentials', mine);
  const agent = stack.agent({ authorization: `Bearer ${token}` });
  const ghs = `ghs_${randomBytes(27).toString('base64url').replace(/[-_]/g, 'x').slice(0, 36)}`;
  mine.add(ghs, token.toUpperCase());
  for (const inbound of [token, apiKey, ghs, `ci-${token}`, token.toUpperCase()]) {
    const from = stack.logs.length;
    const res = await agent.get('/api/render/status', { headers: { 'x-request-id': inbound } });
    t.is(res.status, 200, res.text);
    const answered = res.headers.get('x-request-id') ?? '';
    t.regex(answered, /^[0-9a-f-]{36}$/, 'a fresh request id');
    const [line] = accessLines(from);
    t.is(line?.requestId, answered, 'the access line carries the fresh id');
  }
  // A well-formed id that looks like no credential is still taken (Render's own, a CI run's).
  const res = await agent.get('/api/render/status', { headers: { 'x-request-id': 'ci-run_42.7' } });
  t.is(res.headers.get('x-request-id'), 'ci-run_42.7');
  await assertNoSecrets(t, { stack, secrets: mine.list, agents: [agent] });
});
