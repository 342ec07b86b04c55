import test from 'ava';
import { RenderApiError } from '../../server/render/client.js';
import { roundsOnClock } from './rounds.js';

// A workspace's audit log and its service list are read together, then its services' events and app logs.
// The audit log failing (Render answering 500 to it every time) ended the workspace there, so its events and
// logs went unread round after round: a broken audit-log API blinded the whole watch of that workspace. Its
// failure still ends the round (the page says Render did not answer), after the events and logs are read.
// The key rejected (401) still stops the round at once, as from any call.

const MIN = 60_000;
const OOM = { reason: { oomKilled: { memoryLimit: '512Mi' } } };
const AUDIT = '/owners/{ownerId}/audit-logs';

test('an audit log Render keeps failing to answer does not keep the workspace\'s events and logs unread', async (t) => {
  const w = await roundsOnClock(t, 'auditfails');
  const svc = await w.create('api');
  w.advance(10 * MIN);
  await w.round();
  w.render.setFault({ route: AUDIT, kind: 'status', status: 500 });
  w.advance(MIN);
  w.render.appendLog(svc.id, 'panic: runtime error: index out of range');
  w.render.addServiceEvent(svc.id, 'server_failed', OOM);
  w.render.addAuditEvent(w.ownerId, 'StartShellEvent', { service: svc.id });
  w.advance(MIN);
  const err = await t.throwsAsync(w.round(), { instanceOf: RenderApiError });
  t.is(err?.kind, 'server_error', 'the audit log\'s failure still ends the round');
  t.deepEqual(w.found.map((f) => f.rule).sort(), ['app_log_panic', 'server_oom']);

  // Render answers the audit log again: the entry its failure left unread is read then, and nothing twice.
  w.render.clearFaults();
  w.advance(MIN);
  await w.round();
  t.deepEqual(w.found.map((f) => f.rule).sort(), ['app_log_panic', 'server_oom', 'start_shell']);
});

test('the key rejected (401) on the audit log still stops the round at once: no events or logs read with it', async (t) => {
  const w = await roundsOnClock(t, 'auditrejected');
  const svc = await w.create('api');
  w.advance(10 * MIN);
  await w.round();
  w.render.setFault({ route: AUDIT, kind: 'status', status: 401 });
  w.render.addServiceEvent(svc.id, 'server_failed', OOM);
  w.advance(MIN);
  const before = w.render.calls.length;
  const err = await t.throwsAsync(w.round(), { instanceOf: RenderApiError });
  t.is(err?.kind, 'unauthorized');
  const routes = w.render.calls.slice(before).map((c) => c.route);
  t.false(routes.includes('/services/{serviceId}/events'), routes.join(' '));
  t.false(routes.includes('/logs'), routes.join(' '));
  t.deepEqual(w.found, []);
});
