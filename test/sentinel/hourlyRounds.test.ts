import test from 'ava';
import { BudgetExhausted } from '../../server/render/budget.js';
import { presentSettings } from '../../server/sentinel/present.js';
import { SELF_CALL_KEEP_MS } from '../../server/sentinel/store.js';
import { MAX_WATCH_INTERVAL_MS } from '../../server/sentinel/schedule.js';
import { roundsOnClock } from './rounds.js';

// The Security page accepts rounds up to an hour apart (server/routes/sentinel.ts MAX_INTERVAL_SEC = 3600).
// Rounds an hour apart must still read everything that happened between them: the watcher's windows were
// shorter (a window read empty kept no position, so the next round looked back 15 minutes; logs more than
// 30 minutes behind were skipped; a new service looked back 15 minutes; the self-call ledger forgot our own
// reads after an hour). The simulator and the rounds share one clock here, moved by hand.

const MIN = 60_000;
const HOUR = 60 * MIN;
const iso = (ms: number) => new Date(ms).toISOString();
const OOM = { reason: { oomKilled: { memoryLimit: '512Mi' } } };

test('a quiet service\'s windows keep their end: a crash 40 minutes before the next round, an hour later, is reported', async (t) => {
  const w = await roundsOnClock(t, 'quietwindows');
  const svc = await w.create('quiet');
  w.advance(10 * MIN);
  await w.round(); // nothing in its logs or (since its creation) events
  // The round's time less a minute: entries Render writes a little late are read by the next round.
  const first = iso(w.clock() - MIN);
  t.like(await w.rounds.cursor(`logs:${svc.id}`), { ts: first }, 'logs read to the round\'s time, though empty');
  t.like(await w.rounds.cursor(`events:${svc.id}`), { ts: first }, 'events too');

  w.advance(20 * MIN);
  w.render.appendLog(svc.id, 'panic: runtime error: invalid memory address or nil pointer dereference');
  w.render.addServiceEvent(svc.id, 'server_failed', OOM);
  w.advance(40 * MIN);
  await w.round(); // one interval (an hour) after the first
  t.deepEqual(w.found.map((f) => f.rule).sort(), ['app_log_panic', 'server_oom']);
  t.is((await w.status()).skipped, undefined, 'nothing was skipped, and the page does not say so');
});

test('logs an hour behind (rounds an hour apart) are read, not skipped: a crash 50 minutes before the next round is reported', async (t) => {
  const w = await roundsOnClock(t, 'laglogs');
  const svc = await w.create('chatty');
  w.render.appendLog(svc.id, 'listening on port 10000');
  w.advance(1000);
  await w.round(); // reads the line: the service's position is the line's time
  w.advance(10 * MIN);
  w.render.appendLog(svc.id, 'panic: runtime error: index out of range [3] with length 3');
  w.advance(50 * MIN);
  await w.round();
  t.deepEqual(w.found.map((f) => f.rule), ['app_log_panic']);
  t.is((await w.status()).skipped, undefined, 'nothing skipped');
});

test('logs further behind than a round may read are skipped, and the page says which and when', async (t) => {
  const w = await roundsOnClock(t, 'skiplogs');
  const svc = await w.create('chatty');
  w.advance(MIN);
  const start = w.clock();
  await w.round();
  // More lines than a round reads (5 pages of 100), a crash among the last of them.
  w.advance(5 * MIN);
  for (let i = 0; i < 600; i++) w.render.appendLog(svc.id, i === 550 ? 'panic: lost among the lines skipped' : `GET /health 200 ${i}`);
  w.advance(55 * MIN);
  await w.round(); // the first 500 lines
  t.deepEqual(w.found, []);
  t.is((await w.status()).skipped, undefined);

  // The next round an hour later: the service is 115 minutes behind, more than the hour since the last
  // round and its margin. The older lines are skipped (the crash with them), and noted.
  w.advance(40 * MIN);
  w.render.appendLog(svc.id, 'panic: after the stretch skipped');
  w.advance(20 * MIN);
  await w.round();
  t.deepEqual(w.found.map((f) => f.lastLine), ['panic: after the stretch skipped']);
  const { skipped } = await w.status();
  t.is(skipped?.length, 1);
  t.like(skipped?.[0], { what: 'app_logs', ownerId: w.ownerId, services: ['chatty'], to: iso(w.clock() - 70 * MIN), at: iso(w.clock()) });
  t.true(Date.parse(skipped![0]!.from) >= start + 5 * MIN && Date.parse(skipped![0]!.from) < start + 6 * MIN, skipped![0]!.from);
  const settings = { enabled: true, sessionRef: 'ref', intervalMs: HOUR, slackSealed: null, slackHint: null, enabledAt: 0 };
  const notices = presentSettings(settings, await w.status(), { currentRef: 'ref', defaultIntervalMs: MIN, ownerNames: new Map() }).notices;
  t.deepEqual(notices, [`App logs of \u2068chatty\u2069 from ${iso(start + 5 * MIN).slice(0, 16).replace('T', ' ')} UTC to ${iso(w.clock() - 70 * MIN).slice(0, 16).replace('T', ' ')} UTC were not read: more came than a round reads, or rounds were further apart than the interval.`]);

  // Kept for a day, then gone from the status (and the page).
  w.advance(23 * HOUR);
  await w.round();
  t.is((await w.status()).skipped?.length, 1);
  w.advance(2 * HOUR);
  await w.round();
  t.is((await w.status()).skipped, undefined);
});

test('a service created between rounds an hour apart is read from the last round\'s start: its OOM 30 minutes before the next round is reported', async (t) => {
  const w = await roundsOnClock(t, 'newsvc');
  await w.create('old');
  await w.round();
  w.advance(5 * MIN);
  const svc = await w.create('fresh');
  w.advance(25 * MIN);
  w.render.addServiceEvent(svc.id, 'server_failed', OOM);
  w.render.appendLog(svc.id, 'panic: runtime error: slice bounds out of range');
  w.advance(30 * MIN);
  await w.round();
  t.deepEqual(w.found.map((f) => f.rule).sort(), ['app_log_panic', 'server_oom']);
});

test('the watch\'s first round looks back 15 minutes only', async (t) => {
  const w = await roundsOnClock(t, 'firstround');
  const svc = await w.create('api');
  w.render.addServiceEvent(svc.id, 'server_failed', { reason: { nonZeroExit: 1 } });
  w.advance(10 * MIN);
  w.render.addServiceEvent(svc.id, 'server_failed', OOM);
  w.advance(10 * MIN);
  await w.round();
  t.deepEqual(w.found.map((f) => f.rule), ['server_oom'], 'the exit 20 minutes before is not read');
});

test('a round the budget stopped before a new service\'s turn: the next round reads it from where the last full round began', async (t) => {
  let stopAt: string | null = null;
  const w = await roundsOnClock(t, 'newstopped', {
    beforeRequest: async (call) => {
      if (call.route === '/services/{serviceId}/events' && call.serviceId === stopAt) throw new BudgetExhausted(30_000, 'read');
    },
  });
  await w.create('old');
  await w.round();
  w.advance(5 * MIN);
  const svc = await w.create('fresh');
  w.advance(5 * MIN);
  w.render.addServiceEvent(svc.id, 'server_failed', OOM);
  w.advance(50 * MIN);
  stopAt = svc.id;
  await w.round(); // the budget runs out at the new service's events
  t.deepEqual(w.found, []);
  t.is((await w.status()).lastProblem, 'budget');
  stopAt = null;
  w.advance(HOUR);
  await w.round();
  t.deepEqual(w.found.map((f) => f.rule), ['server_oom']);
});

// Render writes some entries a little after their time: an empty read leaves its position a minute short of
// its end, so one stamped just before the round's time is still read by the next round.
test('an empty log read leaves its position a minute short of its end: a line Render wrote late, stamped just before the round, is read next round', async (t) => {
  const w = await roundsOnClock(t, 'latelines');
  const svc = await w.create('late');
  w.advance(10 * MIN);
  await w.round(); // nothing yet
  w.render.appendLog(svc.id, 'panic: runtime error: index out of range', { timestamp: iso(w.clock() - 20_000) });
  w.advance(2 * MIN);
  await w.round();
  t.deepEqual(w.found.map((f) => f.rule), ['app_log_panic']);
});

test('an audit log empty at one round keeps its end: a shell opened 30 minutes before the next round, an hour later, is reported', async (t) => {
  const w = await roundsOnClock(t, 'quietaudit');
  w.advance(20 * MIN);
  await w.round(); // the workspace's audit log has nothing
  t.like(await w.rounds.cursor(`audit:${w.ownerId}`), { ts: iso(w.clock() - MIN) });
  w.advance(30 * MIN);
  w.render.addAuditEvent(w.ownerId, 'StartShellEvent', { service: 'srv-x' });
  w.advance(30 * MIN);
  await w.round();
  t.deepEqual(w.found.map((f) => f.rule), ['start_shell']);
});

test('the round\'s own env-var read is not reported by the next round an hour later: the ledger keeps its note', async (t) => {
  const w = await roundsOnClock(t, 'selfhourly');
  const svc = await w.create('crashy', [{ key: 'DATABASE_PASSWORD', value: 'sup3r-secret' }]);
  await w.round(); // nothing yet
  w.advance(MIN);
  w.render.appendLog(svc.id, 'TypeError: Cannot read properties of undefined (reading \'id\')');
  w.advance(1000);
  await w.round(); // finds the crash and reads the env values to redact it (noted first)
  t.deepEqual(w.found.map((f) => f.rule), ['app_log_exception']);
  const ledger = w.rounds.store.keys.selfCalls(1);
  t.true(await w.redis.client.pttl(ledger) > 2 * MAX_WATCH_INTERVAL_MS, 'the ledger\'s key outlives two of the longest intervals');

  // An interval (an hour, the page's longest) later, the next round. The user's log panel read another
  // service's env values through the app as it began (a note in the same ledger, which prunes old ones).
  w.advance(HOUR);
  await w.rounds.store.auditedReadNotes(1, w.clock).before({ method: 'GET', route: '/services/{serviceId}/env-vars', serviceId: 'srv-otherservice0000000' });
  await w.round();
  t.deepEqual(w.found.map((f) => f.rule), ['app_log_exception'], 'our own env-var read not reported as a threat');
  t.true(SELF_CALL_KEEP_MS >= 2 * MAX_WATCH_INTERVAL_MS);
});
