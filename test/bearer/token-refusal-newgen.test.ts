import test from 'ava';
import Koa from 'koa';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { manualClock } from '../../server/clock.js';
import { createTokenSessions } from '../../server/bearer/tokenSessions.js';
import { AppError } from '../../server/errors.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { Agent } from '../helpers/agent.js';

// A request whose GitHub check said "valid" just before the token was revoked, and which reaches its
// session (tokenSessions.ts sessionFor) only after another request's refusal deleted the token's entry
// and ended its session. It must not start a new generation: the entry it would write names no user,
// so the next refusal could not end that session (it lived on, with whatever the request did in it).
// The late request runs in this test's process on the web's own deps (real Redis, real GitHub
// simulator), its first session read held until the refusal is answered; the refusal is the web's.

const clock = manualClock();
let stack: Stack;
test.before(async () => { stack = await startStack({ clock, env: { BEARER_RECHECK_SECONDS: '120' } }); });
test.after.always(async () => { await stack?.close(); });

function requestContext(): Koa.Context {
  const req = new IncomingMessage(new Socket());
  req.method = 'GET';
  req.url = '/api/session';
  req.headers = {};
  return new Koa().createContext(req, new ServerResponse(req));
}

test('a check that vouched before a refusal another request answered does not start a session after it', async (t) => {
  stack.github.addUser({ id: 96_000, login: 'lategen', name: 'late gen' });
  const token = stack.github.issueToken('lategen');
  t.is((await new Agent(stack.url, { authorization: `Bearer ${token}` }).get('/api/session')).status, 200);
  clock.advance(121_000); // the entry is due a check with GitHub

  const deps = stack.web.deps;
  let reached!: () => void;
  const atSession = new Promise<void>((ok) => { reached = ok; });
  let release!: () => void;
  const gate = new Promise<void>((ok) => { release = ok; });
  let held = false;
  const late = createTokenSessions({
    ...deps,
    sessions: {
      ...deps.sessions,
      async load(...args: Parameters<typeof deps.sessions.load>) {
        if (!held) { held = true; reached(); await gate; }
        return deps.sessions.load(...args);
      },
    },
  });
  const lateRequest = late.resolve(requestContext(), token).then(() => 'resolved', (err: unknown) => err);
  await atSession; // GitHub said "valid" and the entry says so

  // The token is revoked; a request whose check is due (a whole window on, as one that read the entry
  // before the "valid" was written) gets GitHub's refusal.
  stack.github.revokeToken(token);
  clock.advance(121_000);
  const refused = await new Agent(stack.url, { authorization: `Bearer ${token}` }).get('/api/session');
  t.is(refused.status, 401, refused.text);

  release();
  const outcome = await lateRequest;
  t.true(outcome instanceof AppError && outcome.status === 401, `the late request: ${String(outcome)}`);
  const { client, prefix } = stack.redis;
  const refs = await client.smembers(`${prefix}:user:96000:sessions`);
  const live = (await Promise.all(refs.map((ref) => client.exists(`${prefix}:sess:${ref}`)))).filter((e) => e === 1);
  t.deepEqual(live, [], 'no session of the refused token lives');
  t.deepEqual(await client.keys(`${prefix}:bearer:*`), [], 'no entry is left behind');
});
