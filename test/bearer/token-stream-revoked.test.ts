import test from 'ava';
import { Redis } from 'ioredis';
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

const keepalives = (text: string) => text.split('event: ping\n').length - 1;

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

// Keepalive checks used to overlap: each tick started its own check while GitHub was still answering the
// last one, all of them joined that one GitHub call, and each counted its refusal against the address's
// refused-token limit (and one that read the ended session closed the stream without its reason). Seen in
// CI under load, where the re-check outlasted several 20 ms ticks; here GitHub is made to hold its answer.
test.serial('a re-check GitHub is slow to answer is not joined by later keepalives: one refusal counted, and the stream says why it ended', async (t) => {
  stack.github.addUser({ id: 9501, login: 'slowcheck' });
  const token = stack.github.issueToken('slowcheck');
  const headers = { authorization: `Bearer ${token}` };
  t.is((await fetch(`${stack.url}/api/session`, { headers })).status, 200);
  const redis = new Redis(stack.redis.url);
  const refusals = async () => {
    const keys = await redis.keys(`${stack.redis.prefix}:rl:invalid-token*`);
    const values = await Promise.all(keys.map((k) => redis.get(k)));
    return values.reduce((sum, v) => sum + Number(v ?? 0), 0);
  };
  const stream = await openSseStream(`${stack.url}/api/events`, headers);
  try {
    await stream.waitFor((text) => keepalives(text) >= 2, 30_000);
    const before = await refusals();
    const hold = stack.github.holdProfiles();
    stack.github.revokeToken(token);
    clock.advance(61_000);
    while (hold.waiting() < 1) await new Promise((r) => setTimeout(r, 10));
    // Many keepalive intervals pass while GitHub holds its answer (fewer on a loaded machine; one is enough).
    await new Promise((r) => setTimeout(r, 300));
    hold.release();
    const text = await stream.waitFor((s) => s.includes('event: session'), 30_000);
    t.regex(text, /event: session\ndata: \{"type":"session_ended","reason":"token_revoked"\}/);
    // The refusal is counted after the session's end went out (which ended the stream): wait for it, then
    // give any joiners' counts (the old behaviour) time to land before reading the total.
    while (await refusals() === before) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    t.is(await refusals() - before, 1, 'GitHub refused the token once: counted once');
  } finally {
    stream.close();
    redis.disconnect();
  }
});
