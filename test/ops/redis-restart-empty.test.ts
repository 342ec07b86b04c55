import test from 'ava';
import { startSentinelStack, enable, waitFor, type SentinelStack } from '../sentinel/support.js';
import { addNodeRepo, signedInWithKey, waitFinished } from '../helpers/pipeline.js';
import { openSseAs } from '../helpers/sse.js';

// Redis restarts and comes back empty (Render Key Value without persistence, a maintenance
// restart) while one web and one worker process stay up and reconnect. Everyone is signed out; after
// signing in again, key setup, a deploy, live updates, the audit trail, the Sentinel watch and a
// sign-out all work without restarting a process.
const run = process.env.REDIS_URL ? test.serial.skip : test.serial; // restarting redis-server needs a private one

let s: SentinelStack;
test.before(async () => { if (!process.env.REDIS_URL) s = await startSentinelStack(); });
test.after.always(async () => { await s?.close(); });

const auditReads = (accountId: string) => s.stack.render.calls.filter((c) => c.accountId === accountId && c.route === '/owners/{ownerId}/audit-logs').length;

async function deployLive(agent: Awaited<ReturnType<typeof signedInWithKey>>['agent'], login: string, name: string) {
  addNodeRepo(s.stack, login, name);
  const asked = await agent.post('/api/render/deploy', { github_repo: `${login}/${name}`, project_name: name });
  if (asked.status !== 202) throw new Error(`deploy: ${asked.status} ${asked.text}`);
  return { id: asked.json.id as string, done: await waitFinished(agent, asked.json.id, 20_000) };
}

run('Redis back empty: signed out, then sign-in, key, deploy, SSE, audit, Sentinel and sign-out work again without a process restart', async (t) => {
  t.timeout(90_000);
  const before = await signedInWithKey(s.stack, 'restart-ann');
  await enable(before.agent);
  await waitFor('a first Sentinel round', async () => auditReads(before.accountId) > 0);
  t.is((await deployLive(before.agent, 'restart-ann', 'app-before')).done.status, 'live');
  const oldStream = await openSseAs(before.agent, '/api/events');
  await oldStream.waitFor((text) => text.includes('event: subscribed'));
  t.true((await before.agent.get('/api/audit')).json.chainValid);

  await s.stack.redis.restart({ downMs: 300 });

  // The old stream ends (its updates may have been lost, and its session is gone).
  await t.throwsAsync(oldStream.waitFor(() => false, 20_000), { message: /^stream ended/ }, 'the old stream ended');
  t.true(await waitFor('web ready', async () => (await fetch(`${s.stack.url}/readyz`)).status === 200, 20_000));
  t.is((await before.agent.get('/api/session')).status, 401, 'signed out: the session went with the data');

  const after = { agent: s.stack.agent(), accountId: before.accountId };
  await s.stack.signIn(after.agent, 'restart-ann');
  const setup = await after.agent.post('/api/render/setup', { api_key: before.apiKey });
  t.is(setup.status, 200, `key setup after the restart: ${setup.text}`);
  const stream = await openSseAs(after.agent, '/api/events');
  t.is(stream.status, 200);
  await stream.waitFor((text) => text.includes('event: subscribed'));
  const deployed = await deployLive(after.agent, 'restart-ann', 'app-after');
  t.is(deployed.done.status, 'live', 'a deploy after the restart goes live (the worker takes jobs again)');
  await stream.waitFor((text) => text.includes(deployed.id) && text.includes('"live"'), 10_000);

  const audit = await after.agent.get('/api/audit');
  t.is(audit.status, 200, audit.text);
  t.true(audit.json.chainValid, `the audit trail verifies: ${JSON.stringify(audit.json.integrity)}`);
  t.true((audit.json.entries as Array<{ action: string }>).length > 0, 'new entries were appended');

  await enable(after.agent);
  const reads = auditReads(after.accountId);
  await waitFor('a Sentinel round after the restart', async () => auditReads(after.accountId) > reads, 20_000);

  const out = await after.agent.post('/api/auth/logout', {});
  t.true(out.status < 300, out.text);
  t.is((await after.agent.get('/api/session')).status, 401);
  stream.close();
  // Error lines only from the outage itself (the connection refused while Redis was down), none from a crash.
  const errors = [...s.stack.logs, ...s.worker.logs].filter((l) => /"level":60/.test(l));
  t.deepEqual(errors, [], 'no fatal line');
});
