import test from 'ava';
import { createLogger } from '../../server/logger.js';
import { createSlackAlerter } from '../../server/alerts/slack.js';
import { createSecurityEvents } from '../../server/security/events.js';
import { listBlocks, unblock, userTelemetry, type AdminDeps } from '../../server/telemetry/admin.js';
import { startAnomalyStack, burst, type AnomalyStack } from './support.js';
import type { Agent } from '../helpers/agent.js';

// Identity over time, blocks (adversarial probe): the anomaly detector blocks Alice (id 1001, "alice"); she renames
// to "alice2" on GitHub and Mallory registers "alice" (id 2002). The block follows Alice's id, not the login; the
// operator's CLI (`npm run admin -- blocks | unblock | telemetry`) names and acts on the right person.

const ALICE = 1001;
const MALLORY = 2002;
let s: AnomalyStack;
test.before(async () => { s = await startAnomalyStack(); });
test.after.always(async () => { await s?.close(); });

/** The browser sign-in of a login the simulator already knows (stack.signIn would add a new user under a login it has not seen). */
async function signInAs(agent: Agent, login: string): Promise<void> {
  const start = await agent.get('/api/auth/github/login');
  if (start.status !== 302 || !start.location) throw new Error(`login start: ${start.status}`);
  const authorize = await fetch(`${start.location}&login=${encodeURIComponent(login)}`, { redirect: 'manual' });
  const callback = authorize.headers.get('location');
  if (!callback) throw new Error(`authorize: ${authorize.status}`);
  const done = await agent.get(callback.replace(s.stack.url, ''));
  if (done.status !== 302 || done.location !== '/') throw new Error(`callback: ${done.status} ${done.location}`);
  const session = await agent.get('/api/session');
  agent.csrfToken = session.json?.csrfToken;
}

function adminDeps(): AdminDeps {
  const deps = s.stack.web.deps;
  const logger = createLogger({ level: 'silent' });
  const events = createSecurityEvents({ audit: deps.audit, alerter: createSlackAlerter({ webhookUrl: null, logger }), redis: deps.redis, prefix: s.stack.config.redisPrefix, logger, cooldownSec: 0 });
  return { redis: deps.redis, keys: deps.telemetry.keys, store: deps.telemetry.store, settings: s.stack.config.telemetry, events, audit: deps.audit, prefix: s.stack.config.redisPrefix, now: () => s.clock.now() };
}

test.serial('a block follows Alice\'s id across her rename; Mallory, holding "alice" now, is not blocked; the CLI lifts Alice\'s block', async (t) => {
  t.timeout(120_000);
  const before = s.stack.agent();
  await s.stack.signIn(before, 'alice', { id: ALICE });
  for (let m = 0; m < 6; m++) {
    s.synthetic(ALICE, 'alice', 8 + (m % 3) - 1);
    await s.nextMinute();
  }
  // A script of hers hammers the API: throttled, then blocked (three anomalous minutes in a row).
  await burst(before, 60);
  await s.nextMinute();
  await burst(before, 60);
  await s.nextMinute();
  await burst(before, 60);
  const run = await s.nextMinute();
  t.like(run.actions.find((a) => a.userId === ALICE), { action: 'blocked' });
  t.is((await before.get('/api/render/my-deployments')).json.error.code, 'account_temporarily_blocked');

  s.stack.github.renameUser('alice', 'alice2');
  s.stack.github.addUser({ id: MALLORY, login: 'alice', name: 'Mallory' });
  const mallory = s.stack.agent();
  await signInAs(mallory, 'alice');
  const hers = await mallory.get('/api/session');
  t.is(hers.status, 200, 'Mallory inherits no block from the login');
  t.is(hers.json.user.id, MALLORY);
  t.is((await mallory.get('/api/render/my-deployments')).status, 200);

  const now = s.stack.agent();
  await signInAs(now, 'alice2');
  t.is((await now.get('/api/render/my-deployments')).json?.error?.code, 'account_temporarily_blocked', 'the block follows Alice\'s id to her new login');
  await s.stack.web.deps.telemetry.recorder.flush();

  const d = adminDeps();
  const listed = await listBlocks(d);
  t.true(listed.some((l) => new RegExp(`blocked\\s+alice\\s+id ${ALICE}\\b`).test(l)), listed.join('\n'));
  t.regex((await userTelemetry(d, 'alice'))[0]!, new RegExp(`GitHub id ${MALLORY}\\b`), 'telemetry alice: the login\'s holder now');
  t.regex((await userTelemetry(d, 'alice2'))[0]!, new RegExp(`^alice2 \\(GitHub id ${ALICE}\\)`));
  // Alice's session from before the rename is refused too (blocked), and says nothing new about who "alice" is.
  t.is((await before.get('/api/render/my-deployments')).json?.error?.code, 'account_temporarily_blocked');
  await s.stack.web.deps.telemetry.recorder.flush();
  t.regex((await userTelemetry(d, 'alice'))[0]!, new RegExp(`GitHub id ${MALLORY}\\b`));

  const said = await unblock(d, 'alice');
  t.regex(said, new RegExp(`Lifted the block of alice2 \\(id ${ALICE}, listed as alice\\)`));
  t.regex(said, new RegExp(`alice now belongs to id ${MALLORY}`));
  t.is(await d.store.get(ALICE), null);
  t.is(await d.redis.exists(d.keys.grace(MALLORY)), 0, 'Mallory gets no grace period');
  await s.stack.web.deps.telemetry.guards.sync();
  t.is((await now.get('/api/render/my-deployments')).status, 200, 'Alice is unblocked');
});
