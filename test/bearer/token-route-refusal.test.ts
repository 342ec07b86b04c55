import test from 'ava';
import Koa from 'koa';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { createTokenSessions, tokenEntryKey } from '../../server/bearer/tokenSessions.js';
import { keyedHash } from '../../server/crypto/keyring.js';
import { AppError } from '../../server/errors.js';
import type { GitHubClient } from '../../server/github/client.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { Agent } from '../helpers/agent.js';

// GitHub refusing a bearer token on a route's own call (a revoked token meets GitHub's 401 while the
// token's entry still vouches for it, within BEARER_RECHECK_SECONDS): answered 401 github_token_invalid,
// and from then on the token is refused as if its own check had met that refusal (server/sessions/
// githubRefusal.ts → server/bearer/tokenSessions.ts `refused`): its entry gone, its session ended. Before,
// the next request with the token was served on its session (its stored Render key included) until the
// window ran out. Only the token GitHub refused: the user's other token and browser session go on. The
// races run a second token-session instance in this test's process on the web's own deps (real Redis,
// the real GitHub simulator), held at a known step while the web answers the refusal.

let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

let nextUserId = 97_000;
function newUser(login: string): { id: number; token: string } {
  const id = nextUserId++;
  stack.github.addUser({ id, login, name: `${login} name` });
  stack.github.addRepo({ owner: login, name: 'app', branches: { main: { 'package.json': '{"name":"app","scripts":{"start":"node i.js"}}', 'i.js': '' } } });
  return { id, token: stack.github.issueToken(login) };
}
const bearer = (token: string) => new Agent(stack.url, { authorization: `Bearer ${token}` });

/** The user's sessions whose record exists (refs in its index). */
async function liveSessions(userId: number): Promise<string[]> {
  const { client, prefix } = stack.redis;
  const refs = await client.smembers(`${prefix}:user:${userId}:sessions`);
  const exists = await Promise.all(refs.map((ref) => client.exists(`${prefix}:sess:${ref}`)));
  return refs.filter((_, i) => exists[i] === 1);
}
/** The token's entry in Redis (empty when there is none). */
const entryOf = (token: string) => stack.redis.client.hgetall(tokenEntryKey(stack.redis.prefix, keyedHash(`github-token:${token}`, stack.web.deps.keyring.current)));
/** GitHub's token checks (GET /user) so far. */
const tokenChecks = () => stack.github.calls.filter((c) => c.path.endsWith('/user')).length;

/** A bare request context, for a token-session instance called outside the web's middleware. */
function bareContext(): Koa.Context {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = '/api/session';
  req.headers = {};
  return new Koa().createContext(req, new ServerResponse(req));
}
function held(): { reached: Promise<void>; arrive(): void; gate: Promise<void>; release(): void } {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((ok) => { arrive = ok; });
  const gate = new Promise<void>((ok) => { release = ok; });
  return { reached, arrive, gate, release };
}

test.serial('a token GitHub refused on a route\'s own call is refused on the next request, its session ended', async (t) => {
  const { id, token } = newUser('route-refused');
  const apiKey = `rnd_routerefused${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'rr ws' }] });
  const agent = bearer(token);
  t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
  t.is((await agent.get('/api/render/services')).status, 200);
  t.is((await liveSessions(id)).length, 1);

  stack.github.revokeToken(token);
  const checksBefore = tokenChecks();
  const refused = await agent.get(`/api/github/repos/route-refused/app/detect`);
  t.is(refused.status, 401, refused.text);
  t.is(refused.json.error.code, 'github_token_invalid');
  t.is(tokenChecks(), checksBefore, 'the route met the refusal: the token\'s entry was fresh, no check of its own');
  t.deepEqual(await entryOf(token), {}, 'the entry no longer vouches for the token');
  t.deepEqual(await liveSessions(id), [], 'its session (and the Render key in it) ended');

  // The next request is checked with GitHub again, and refused: not served on the old entry's word.
  const after = await agent.get('/api/render/services');
  t.is(after.status, 401, `after the refusal was answered: ${after.status} ${after.text.slice(0, 200)}`);
  t.is(after.json.error.code, 'github_token_invalid');
  t.is(tokenChecks(), checksBefore + 1);
  t.deepEqual(await liveSessions(id), []);
});

test.serial('only the token GitHub refused: the same user\'s other token and browser session go on', async (t) => {
  const login = 'route-refused-one';
  const { id, token: revoked } = newUser(login);
  const other = stack.github.issueToken(login);
  const browser = stack.agent();
  await stack.signIn(browser, login, { id });
  t.is((await bearer(revoked).get('/api/session')).status, 200);
  t.is((await bearer(other).get('/api/session')).status, 200);
  const sessionsBefore = await liveSessions(id);
  t.is(sessionsBefore.length, 3, 'a cookie session and one per token');

  stack.github.revokeToken(revoked);
  const refused = await bearer(revoked).get(`/api/github/repos/${login}/app/branches`);
  t.is(refused.status, 401, refused.text);
  t.is(refused.json.error.code, 'github_token_invalid');

  t.is((await liveSessions(id)).length, 2, 'only the refused token\'s session ended');
  t.is((await bearer(revoked).get('/api/session')).status, 401);
  const otherSession = await bearer(other).get('/api/session');
  t.is(otherSession.status, 200, otherSession.text);
  t.is(otherSession.json.user.login, login);
  t.true(Object.keys(await entryOf(other)).includes('uid'), 'the other token\'s entry still vouches for it');
  const browserSession = await browser.get('/api/session');
  t.is(browserSession.status, 200, browserSession.text);
  t.is(browserSession.json.user.login, login);
  t.is((await bearer(other).get(`/api/github/repos/${login}/app/branches`)).status, 200, 'the other token still reads GitHub');
});

test.serial('a check whose "valid" GitHub gave before the revocation, arriving after a route met the refusal, does not bring the entry back', async (t) => {
  const { id, token } = newUser('route-refused-late-check');
  t.is((await bearer(token).get('/api/session')).status, 200); // the entry is fresh for the web

  // Another request, whose clock says the entry is due a check (one window on): GitHub answers "valid" now,
  // and the answer is held before this instance writes it.
  const deps = stack.web.deps;
  const hold = held();
  let first = true;
  const late = createTokenSessions({
    ...deps,
    clock: { now: () => deps.clock.now() + deps.config.bearerRecheckMs + 1_000 },
    upstream: {
      ...deps.upstream,
      github: (tok: string) => {
        const client = deps.upstream.github(tok);
        return {
          async getViewer() {
            const viewer = await client.getViewer();
            if (first) { first = false; hold.arrive(); await hold.gate; }
            return viewer;
          },
        } as unknown as GitHubClient;
      },
    },
  });
  const lateRequest = late.resolve(bareContext(), token).then(() => 'resolved', (err: unknown) => err);
  await hold.reached;

  stack.github.revokeToken(token);
  const refused = await bearer(token).get('/api/github/repos/route-refused-late-check/app/detect');
  t.is(refused.status, 401, refused.text);
  t.is(refused.json.error.code, 'github_token_invalid');

  hold.release();
  const outcome = await lateRequest;
  t.true(outcome instanceof AppError && outcome.code === 'github_token_invalid', `the late check: ${String(outcome)}`);
  t.deepEqual(await entryOf(token), {}, 'no entry vouches for the token');
  t.deepEqual(await liveSessions(id), [], 'no session of the refused token lives');
  t.is((await bearer(token).get('/api/session')).status, 401);
});

test.serial('a request that read the entry before a route met the refusal, and reaches its session after, starts no new generation', async (t) => {
  const { id, token } = newUser('route-refused-newgen');
  t.is((await bearer(token).get('/api/session')).status, 200);

  // Read the (fresh) entry, then held at its first session read.
  const deps = stack.web.deps;
  const hold = held();
  let first = true;
  const late = createTokenSessions({
    ...deps,
    sessions: {
      ...deps.sessions,
      async load(...args: Parameters<typeof deps.sessions.load>) {
        if (first) { first = false; hold.arrive(); await hold.gate; }
        return deps.sessions.load(...args);
      },
    },
  });
  const lateRequest = late.resolve(bareContext(), token).then(() => 'resolved', (err: unknown) => err);
  await hold.reached;

  stack.github.revokeToken(token);
  const refused = await bearer(token).get('/api/github/repos/route-refused-newgen/app/detect');
  t.is(refused.status, 401, refused.text);

  hold.release();
  const outcome = await lateRequest;
  t.true(outcome instanceof AppError && outcome.code === 'github_token_invalid', `the late request: ${String(outcome)}`);
  t.deepEqual(await liveSessions(id), [], 'no session of the refused token lives, in any generation');
  t.deepEqual(await entryOf(token), {}, 'no entry is left behind');
});

test.serial('an MCP tool whose route meets GitHub\'s refusal ends the token as the REST route does: the next /mcp request is refused', async (t) => {
  const { id, token } = newUser('mcp-refused');
  const mcp = new Agent(stack.url, { authorization: `Bearer ${token}`, accept: 'application/json, text/event-stream' });
  const call = (rpcId: number, name: string, args: Record<string, unknown>) => mcp.post('/mcp', { jsonrpc: '2.0', id: rpcId, method: 'tools/call', params: { name, arguments: args } });
  const listed = await call(1, 'list_deployments', {});
  t.is(listed.status, 200, listed.text);
  t.is((await liveSessions(id)).length, 1);

  stack.github.revokeToken(token);
  const checksBefore = tokenChecks();
  const detected = await call(2, 'detect_stack', { github_repo: 'mcp-refused/app' });
  t.is(detected.status, 200, detected.text);
  t.true(detected.json.result.isError, detected.text);
  t.regex(JSON.stringify(detected.json.result), /github_token_invalid/);
  t.is(tokenChecks(), checksBefore, 'the tool\'s route met the refusal: no check of the token\'s own');
  t.deepEqual(await entryOf(token), {}, 'the entry no longer vouches for the token');
  t.deepEqual(await liveSessions(id), [], 'its session ended');

  const next = await call(3, 'list_deployments', {});
  t.is(next.status, 401, `${next.status} ${next.text.slice(0, 200)}`);
  t.is(tokenChecks(), checksBefore + 1, 'checked with GitHub again, and refused');
});
