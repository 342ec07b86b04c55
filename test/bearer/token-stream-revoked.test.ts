import test from 'ava';
import { manualClock } from '../../server/clock.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { openSseStream } from '../helpers/sse.js';

// A bearer request is checked with GitHub again once BEARER_RECHECK_SECONDS have passed since GitHub last
// vouched for the token; a live update stream is one request that lasts for hours. A stream opened with
// a token that is then revoked at GitHub used to go on carrying the user's updates until its session
// expired, since nothing presented the token again. Its keepalive re-checks the token like a request would:
// past the window GitHub is asked, and a refusal ends the token session and the stream with it.
const clock = manualClock();
let stack: Stack;
test.before(async () => {
  stack = await startStack({ clock, env: { BEARER_RECHECK_SECONDS: '60' }, appOptions: { events: { keepAliveMs: 20 } } });
});
test.after.always(async () => { await stack?.close(); });

const keepalives = (text: string) => text.split(': keepalive').length - 1;

test.serial('a stream opened with a token revoked at GitHub ends at its first keepalive past the re-check window', async (t) => {
  stack.github.addUser({ id: 9500, login: 'streamer' });
  const token = stack.github.issueToken('streamer');
  const headers = { authorization: `Bearer ${token}` };
  t.is((await fetch(`${stack.url}/api/session`, { headers })).status, 200);
  const stream = await openSseStream(`${stack.url}/api/events`, headers);
  try {
    t.is(stream.status, 200);
    await stream.waitFor((text) => keepalives(text) >= 2, 30_000);
    const userChecks = () => stack.github.calls.filter((c) => c.path === '/api/v3/user').length;
    const checksBefore = userChecks();
    // Within the window GitHub's word stands: keepalives go on without asking it.
    await stream.waitFor((text) => keepalives(text) >= 4, 30_000);
    t.is(userChecks(), checksBefore, 'no GitHub call within the window');

    stack.github.revokeToken(token);
    clock.advance(61_000);
    const seen = keepalives(stream.text());
    // Either the stream says its session ended, or it keeps going (the old behaviour): decided by events, not by time.
    const text = await stream.waitFor((s) => s.includes('event: session') || keepalives(s) >= seen + 5, 30_000);
    t.regex(text, /event: session\ndata: \{"type":"session_ended","reason":"token_revoked"\}/);
  } finally {
    stream.close();
  }
  const after = await fetch(`${stack.url}/api/session`, { headers });
  t.is(after.status, 401);
});
