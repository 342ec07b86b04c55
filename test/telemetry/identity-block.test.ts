import test from 'ava';
import { listBlocks, unblock, userTelemetry, type AdminDeps } from '../../server/telemetry/admin.js';
import { adminDepsOfWeb, signInExisting, startAnomalyStack, burst, type AnomalyStack } from './support.js';
import type { Agent } from '../helpers/agent.js';

// Identity over time, blocks (adversarial probe): the anomaly detector blocks Alice (id 1001, "alice"); she renames
// to "alice2" on GitHub and Mallory registers "alice" (id 2002). The block follows Alice's id, not the login; the
// operator's CLI (`npm run admin -- blocks | unblock | telemetry`) names and acts on the right person.

const ALICE = 1001;
const MALLORY = 2002;
let s: AnomalyStack;
test.before(async () => { s = await startAnomalyStack(); });
test.after.always(async () => { await s?.close(); });

const adminDeps = (): AdminDeps => adminDepsOfWeb(s.stack, () => s.clock.now());
const signInAs = (agent: Agent, login: string) => signInExisting(s.stack, agent, login);

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
