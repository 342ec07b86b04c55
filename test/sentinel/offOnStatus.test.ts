import test from 'ava';
import { BUDGET_FOR_TESTS } from './limits.js';
import { enable, startSentinelStack, tenant, waitFor, type SentinelStack } from './support.js';

// The watch's status (the last round's problem, the stretches it skipped) outlives the watch turned off, so
// after Sentinel was turned on again the Security page showed the last round of the watch before ("Render did
// not answer during the last round") as this one's, until the new watch's first round ended. Here no round
// of the new watch ends (the worker is stopped: a worker restarting, or a long interval's first round late).

let s: SentinelStack;
test.before(async () => { s = await startSentinelStack({ renderLimits: BUDGET_FOR_TESTS }); });
test.after.always(async () => { await s?.close(); });

test('turned off and on again: the last round of the watch before says nothing on the Sentinel settings', async (t) => {
  const kim = await tenant(s.stack, 'kim-offon');
  s.stack.render.setFault({ route: '/owners/{ownerId}/audit-logs', kind: 'status', status: 500, apiKey: kim.apiKey });
  await enable(kim.agent);
  const failed = await waitFor('a round Render did not answer', async () => {
    const v = (await kim.agent.get('/api/sentinel')).json;
    return v.notices.some((n: string) => n.startsWith('Render did not answer')) ? v : null;
  });
  t.truthy(failed.lastRunAt);
  await s.worker.close();
  s.stack.render.clearFaults();

  const off = await kim.agent.request('PUT', '/api/sentinel', { json: { enabled: false } });
  t.is(off.status, 200, off.text);
  t.deepEqual(off.json.notices, []);
  const on = await enable(kim.agent);
  t.true(on.enabled);
  const view = (await kim.agent.get('/api/sentinel')).json;
  t.true(view.enabled);
  t.deepEqual(view.notices, [], 'no notice of the watch before');
  t.is(view.lastRunAt, null, 'no round of this watch yet');
});
