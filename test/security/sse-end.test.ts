import test from 'ava';
import { manualClock } from '../../server/clock.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { addNodeRepo, signedInWithKey } from '../helpers/pipeline.js';
import type { Agent } from '../helpers/agent.js';

// Attack (issue 11 part 6): the live-updates stream outlived sign-out by up to 15 s (the keepalive
// re-check) and kept delivering events. It must end at once when its session ends or loses its key
// (sign-out, clear-credentials, key change, a changed client, expiry), and only that session's streams end.
// The wait bound below (5 s) is a third of the keepalive, so passing proves the end was pushed.

const clock = manualClock(Date.parse('2026-11-23T09:00:00Z'));
let stack: Stack;
test.before(async () => { stack = await startStack({ clock, env: { SESSION_ABSOLUTE_HOURS: '1' } }); });
test.after.always(async () => { await stack?.close(); });

const PUSHED_WITHIN_MS = 5_000;

/** A minimal EventSource over real HTTP: the raw text, and when the server ended the stream. */
interface Stream { status: number; text(): string; ended: Promise<number>; isOpen(): boolean; close(): void }

async function openStream(agent: Agent): Promise<Stream> {
  const abort = new AbortController();
  const res = await fetch(`${stack.url}/api/events`, { headers: { cookie: agent.cookieHeader() }, signal: abort.signal });
  let buf = '';
  let open = true;
  const ended = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) buf += decoder.decode(chunk, { stream: true });
    } catch { /* aborted by the test */ }
    open = false;
    return Date.now();
  })();
  await until(() => buf.includes('retry:'), 'the stream to start');
  return { status: res.status, text: () => buf, ended, isOpen: () => open, close: () => abort.abort() };
}

async function until(cond: () => boolean, what: string, ms = PUSHED_WITHIN_MS): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits (bounded) for the server to end the stream; returns how long after `since` it ended. */
async function endedAfter(stream: Stream, since: number, what: string): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: the stream was still open after ${PUSHED_WITHIN_MS} ms`)), PUSHED_WITHIN_MS); });
  try {
    return (await Promise.race([stream.ended, bound])) - since;
  } finally {
    clearTimeout(timer);
  }
}

const lastEvent = (stream: Stream) => {
  const block = stream.text().split('\n\n').filter((b) => b.startsWith('event: ')).at(-1) ?? '';
  return { event: block.split('\n')[0]?.slice('event: '.length), data: JSON.parse(block.split('\ndata: ')[1] ?? 'null') as Record<string, unknown> | null };
};

async function publishDeployment(userId: number, id: string): Promise<void> {
  await stack.redis.client.publish(stack.web.deps.deployments.keys.channel(userId), JSON.stringify({ type: 'deployment', id, status: 'live', updatedAt: new Date().toISOString() }));
}

const userIdOf = async (agent: Agent) => (await agent.get('/api/session')).json.user.id as number;

test.serial('sign-out ends that session\'s stream at once; the same user\'s other session and other users keep theirs', async (t) => {
  const laptop = await signedInWithKey(stack, 'sse-alice');
  const phone = stack.agent();
  await stack.signIn(phone, 'sse-alice');
  const bob = await signedInWithKey(stack, 'sse-bob');
  const [aliceId, bobId] = [await userIdOf(laptop.agent), await userIdOf(bob.agent)];
  const [onLaptop, onPhone, ofBob] = [await openStream(laptop.agent), await openStream(phone), await openStream(bob.agent)];

  const before = Date.now();
  t.is((await laptop.agent.post('/api/auth/logout')).status, 200);
  const ms = await endedAfter(onLaptop, before, 'sign-out');
  t.log(`stream ended ${ms} ms after the sign-out request was sent`);
  t.deepEqual(lastEvent(onLaptop), { event: 'session', data: { type: 'session_ended', reason: 'signed_out' } });

  await publishDeployment(aliceId, 'dep-after-signout');
  await publishDeployment(bobId, 'dep-for-bob');
  await until(() => onPhone.text().includes('dep-after-signout'), 'the other session\'s stream to get the update');
  await until(() => ofBob.text().includes('dep-for-bob'), 'another user\'s stream to get the update');
  t.false(onLaptop.text().includes('dep-after-signout'), 'nothing reaches the signed-out stream');
  t.true(onPhone.isOpen() && ofBob.isOpen());
  for (const s of [onPhone, ofBob]) s.close();
});

// A cookie replayed from another client ends the session through the same use case as a sign-out
// (server/sessions/endSession.ts), not a path of its own: the stream closes and the deploys stop.
test.serial('a session replayed from another client ends like a sign-out: its stream closes, its deploys stop', async (t) => {
  const victim = await signedInWithKey(stack, 'sse-replayed');
  addNodeRepo(stack, 'sse-replayed', 'app');
  const dep = await victim.agent.post('/api/render/deploy', { github_repo: 'sse-replayed/app', project_name: 'app' });
  t.is(dep.status, 202);
  const stream = await openStream(victim.agent);

  const thief = stack.agent({ 'user-agent': 'curl/8.0' });
  for (const [k, v] of victim.agent.jar) thief.jar.set(k, v);
  const before = Date.now();
  t.is((await thief.get('/api/render/status')).status, 401);
  t.log(`changed client: ended after ${await endedAfter(stream, before, 'changed client')} ms`);
  t.is(lastEvent(stream).data?.reason, 'client_changed');

  const again = stack.agent();
  await stack.signIn(again, 'sse-replayed');
  t.is((await again.get(`/api/render/deployments/${dep.json.id}`)).json.status, 'credentials_revoked', 'what the session started stops with it');
});

test.serial('clear-credentials and a key change end the stream; a reconnect works; storing the same key again does not', async (t) => {
  const who = await signedInWithKey(stack, 'sse-keys');
  const userId = await userIdOf(who.agent);

  const first = await openStream(who.agent);
  let before = Date.now();
  t.is((await who.agent.post('/api/render/clear-credentials')).status, 200);
  t.log(`clear-credentials: ended after ${await endedAfter(first, before, 'clear-credentials')} ms`);
  t.is(lastEvent(first).data?.reason, 'key_cleared');

  t.is((await who.agent.post('/api/render/setup', { api_key: who.apiKey })).status, 200);
  const second = await openStream(who.agent);
  t.is(second.status, 200, 'the browser reconnects: the session itself is fine');
  t.is((await who.agent.post('/api/render/setup', { api_key: who.apiKey })).status, 200);
  await publishDeployment(userId, 'dep-same-key');
  await until(() => second.text().includes('dep-same-key'), 'the stream to stay open when nothing changed');

  const otherKey = `rnd_ssekeyssecond${'q'.repeat(16)}`;
  stack.render.addAccount({ apiKey: otherKey, workspaces: [{ name: 'other' }] });
  before = Date.now();
  t.is((await who.agent.post('/api/render/setup', { api_key: otherKey })).status, 200);
  t.log(`key change: ended after ${await endedAfter(second, before, 'key change')} ms`);
  t.is(lastEvent(second).data?.reason, 'key_changed');
});

test.serial('expiry found by a request ends the stream', async (t) => {
  const who = await signedInWithKey(stack, 'sse-idle');
  const stream = await openStream(who.agent);
  clock.advance(31 * 60_000); // idle past 30 minutes
  const before = Date.now();
  t.is((await who.agent.get('/api/session')).status, 401);
  t.log(`idle expiry: ended after ${await endedAfter(stream, before, 'idle expiry')} ms`);
  t.is(lastEvent(stream).data?.reason, 'expired');
  // The end nobody asked for is in the user's audit trail.
  const again = stack.agent();
  await stack.signIn(again, 'sse-idle');
  const entries = (await again.get('/api/audit?limit=100')).json.entries as Array<{ action: string; detail: { reason?: string } }>;
  t.true(entries.some((e) => e.action === 'sign_out' && e.detail.reason === 'expired'), JSON.stringify(entries.map((e) => e.action)));
});

test.serial('expiry with nobody asking: the stream ends at the session\'s absolute deadline', async (t) => {
  const who = await signedInWithKey(stack, 'sse-absolute');
  // Keep the session in use until just before its 1 h absolute lifetime ends.
  for (let i = 0; i < 2; i++) { clock.advance(29 * 60_000); t.is((await who.agent.get('/api/session')).status, 200); }
  clock.advance(2 * 60_000 - 600);
  const stream = await openStream(who.agent); // its absolute deadline is 600 ms (injected clock) away
  clock.advance(1_000); // time passes; no request comes
  const before = Date.now();
  t.log(`absolute expiry: ended after ${await endedAfter(stream, before, 'absolute expiry')} ms`);
  t.is(lastEvent(stream).data?.reason, 'expired');
  t.is((await who.agent.get('/api/session')).status, 401);
});
