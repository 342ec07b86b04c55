import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import type { Agent } from '../helpers/agent.js';

// One session ends once, and its end is recorded once: requests that all loaded the session before
// any of them ended it (sign-out clicked twice or in two tabs; a stolen cookie replayed in parallel)
// each went through the whole end, audit entry (or security event) included.
let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

type Entry = { action: string; detail: Record<string, unknown> };
const BROWSER = { 'user-agent': 'Browser/1.0 (the real one)' };

async function trailOf(login: string): Promise<Entry[]> {
  const again = stack.agent(BROWSER);
  await stack.signIn(again, login);
  return (await again.get('/api/audit?limit=100')).json.entries as Entry[];
}
const actions = (entries: Entry[]) => JSON.stringify(entries.map((e) => e.detail.securityEvent ?? e.action));

test.serial('three sign-outs of one session in flight at once: one sign_out in the audit trail', async (t) => {
  const user = stack.agent(BROWSER);
  await stack.signIn(user, 'double-leaver');
  const answers = await Promise.all([1, 2, 3].map(() => user.post('/api/auth/logout')));
  t.true(answers.every((a) => a.status === 200 || a.status === 401), answers.map((a) => a.status).join(' '));
  t.is((await user.get('/api/session')).status, 401);
  const entries = await trailOf('double-leaver');
  t.is(entries.filter((e) => e.action === 'sign_out').length, 1, actions(entries));
});

test.serial('a stolen cookie replayed three times at once: one client_changed security event', async (t) => {
  const user = stack.agent(BROWSER);
  await stack.signIn(user, 'replayed-victim');
  const thief: Agent = stack.agent({ 'user-agent': 'curl/8.0' });
  for (const [k, v] of user.jar) thief.jar.set(k, v);
  const answers = await Promise.all([1, 2, 3].map(() => thief.get('/api/render/status')));
  t.deepEqual(answers.map((a) => a.status), [401, 401, 401]);
  const entries = await trailOf('replayed-victim');
  t.is(entries.filter((e) => e.detail.securityEvent === 'client_changed').length, 1, actions(entries));
  t.false(entries.some((e) => e.action === 'sign_out'), actions(entries));
});
