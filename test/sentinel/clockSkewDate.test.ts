import test from 'ava';
import { BudgetExhausted } from '../../server/render/budget.js';
import { createRenderClient, RenderApiError } from '../../server/render/client.js';
import { MAX_CLOCK_OFFSET_MS } from '../../server/render/renderClock.js';
import { roundsOnClock } from './rounds.js';

// One wrong Date (a caching proxy's, a broken clock upstream) was believed without bound: a services list
// dated a day ahead moved the round's log horizon to the next day (a crash between rounds never reported,
// an invented skipped stretch ending tomorrow on the page), one dated two days behind carried the
// positions back two days. A Date further than MAX_CLOCK_OFFSET_MS from ours is passed over now; one
// within it moves the log horizon no further than ours. The simulator's 'date' fault sends the wrong Date.

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const OOM = { reason: { oomKilled: { memoryLimit: '512Mi' } } };
const LIST = { method: 'GET', route: '/services' } as const;
const rules = (found: Array<{ rule: string }>) => found.map((f) => f.rule).sort();

test('a services list dated a day ahead: the crash logged since the last round is reported, nothing is skipped, nothing saved in the future', async (t) => {
  const w = await roundsOnClock(t, 'datefuture');
  const svc = await w.create('api');
  w.advance(10 * MIN);
  await w.round();
  w.advance(5 * MIN);
  w.render.appendLog(svc.id, 'Segmentation fault (core dumped)');
  w.advance(5 * MIN);
  const fault = w.render.setFault({ ...LIST, kind: 'date', ms: DAY });
  await w.round();
  w.render.clearFault(fault);
  t.deepEqual(rules(w.found), ['app_log_segfault']);
  const status = await w.status();
  t.is(status?.skipped, undefined, 'no stretch skipped');
  t.is(status?.renderAheadMs, undefined, 'Render\'s clock not taken for a day ahead');
  const newFrom = await w.rounds.cursor<string>(`newFrom:${w.ownerId}`);
  t.true(newFrom !== null && Date.parse(newFrom) <= w.clock(), String(newFrom));
  // And the rounds after it read on as before.
  w.advance(3 * MIN);
  w.render.appendLog(svc.id, 'panic: runtime error: index out of range');
  w.render.addServiceEvent(svc.id, 'server_failed', OOM);
  w.render.addAuditEvent(w.ownerId, 'StartShellEvent', { service: svc.id });
  w.advance(5 * MIN);
  await w.round();
  t.deepEqual(rules(w.found), ['app_log_panic', 'app_log_segfault', 'server_oom', 'start_shell']);
});

test('a services list dated two days behind: positions stay, and the next round neither reads the two days nor notes a stretch skipped', async (t) => {
  const w = await roundsOnClock(t, 'datepast');
  const svc = await w.create('api');
  w.advance(10 * MIN);
  await w.round();
  w.advance(10 * MIN);
  await w.round();
  const fields = [`events:${svc.id}`, `logs:${svc.id}`];
  const before = await Promise.all(fields.map((f) => w.rounds.cursor<{ ts: string }>(f)));
  w.advance(2 * MIN);
  const fault = w.render.setFault({ ...LIST, kind: 'date', ms: -2 * DAY });
  await w.round();
  w.render.clearFault(fault);
  const after = await Promise.all(fields.map((f) => w.rounds.cursor<{ ts: string }>(f)));
  for (const [i, field] of fields.entries()) {
    t.true(Date.parse(after[i]!.ts) >= Date.parse(before[i]!.ts) - MIN, `${field}: ${before[i]!.ts} → ${after[i]!.ts}`);
  }
  w.advance(MIN);
  w.render.appendLog(svc.id, 'panic: runtime error: index out of range');
  w.advance(10 * MIN);
  await w.round();
  t.deepEqual(rules(w.found), ['app_log_panic']);
  t.is((await w.status())?.skipped, undefined, 'no stretch skipped');
});

test('a services list dated 14 minutes ahead (within the bound): the log horizon is not moved past lines not yet read', async (t) => {
  const w = await roundsOnClock(t, 'datenear');
  const svc = await w.create('api');
  w.advance(10 * MIN);
  await w.round();
  w.advance(MIN);
  w.render.appendLog(svc.id, 'Segmentation fault (core dumped)');
  w.advance(20 * MIN);
  const fault = w.render.setFault({ ...LIST, kind: 'date', ms: MAX_CLOCK_OFFSET_MS - MIN });
  await w.round();
  w.render.clearFault(fault);
  t.deepEqual(rules(w.found), ['app_log_segfault']);
  t.is((await w.status())?.skipped, undefined, 'no stretch skipped');
});

test('our clock set back an hour (Render\'s Dates then past the bound): positions are not carried back with it', async (t) => {
  const w = await roundsOnClock(t, 'dateback');
  const svc = await w.create('api');
  w.advance(10 * MIN);
  await w.round();
  w.advance(10 * MIN);
  await w.round();
  const fields = [`audit:${w.ownerId}`, `events:${svc.id}`, `logs:${svc.id}`];
  const before = await Promise.all(fields.map((f) => w.rounds.cursor<{ ts: string }>(f)));
  w.skew(-60 * MIN);
  w.advance(MIN);
  await w.round();
  const after = await Promise.all(fields.map((f) => w.rounds.cursor<{ ts: string }>(f)));
  for (const [i, field] of fields.entries()) {
    t.true(Date.parse(after[i]!.ts) >= Date.parse(before[i]!.ts) - MAX_CLOCK_OFFSET_MS - MIN, `${field}: ${before[i]!.ts} → ${after[i]!.ts}`);
  }
});

test('a web reveal answered with a Date a day ahead: its note stays on Render\'s clock, and the read is not reported', async (t) => {
  const w = await roundsOnClock(t, 'dateweb');
  const svc = await w.create('api', [{ key: 'DATABASE_PASSWORD', value: 'sup3r-secret' }]);
  w.advance(10 * MIN);
  await w.round();
  // The web's client for the user: its notes on its own clock object (as the web's deps.clock).
  const notes = w.rounds.store.auditedReadNotes(1, { now: w.clock });
  const web = createRenderClient({ baseUrl: w.render.url, apiKey: w.apiKey, beforeRequest: notes.before, afterResponse: notes.after });
  await web.listServices({ ownerId: w.ownerId });
  const fault = w.render.setFault({ method: 'GET', route: '/services/{serviceId}/env-vars', kind: 'date', ms: DAY });
  await web.listEnvVars(svc.id);
  w.render.clearFault(fault);
  w.advance(MIN);
  await w.round();
  w.advance(10 * MIN);
  await w.round();
  const reads = (await w.plain.listAuditLogs(w.ownerId, { limit: 100 })).items.filter((e) => e.event === 'ViewEnvVarValuesEvent');
  t.is(reads.length, 1, 'Render audited the read');
  t.deepEqual(rules(w.found), [], 'the user\'s own reveal is not reported as a threat');
});

test('the audit log failing (500) and the list refused (401) in one workspace: the round ends as the key rejected', async (t) => {
  const w = await roundsOnClock(t, 'auditlist401');
  await w.create('api');
  w.advance(10 * MIN);
  await w.round();
  w.render.setFault({ route: '/owners/{ownerId}/audit-logs', kind: 'status', status: 500 });
  w.render.setFault({ ...LIST, kind: 'status', status: 401 });
  w.advance(MIN);
  const err = await t.throwsAsync(w.round(), { instanceOf: RenderApiError });
  t.is(err?.kind, 'unauthorized');
});

test('the audit log failing (500) and the budget spent on the list: the round stops for the budget, not as a failure', async (t) => {
  let spent = false;
  const w = await roundsOnClock(t, 'auditlistbudget', {
    beforeRequest(call) {
      if (spent && call.route === '/services') throw new BudgetExhausted(60_000, 'read');
      return Promise.resolve();
    },
  });
  await w.create('api');
  w.advance(10 * MIN);
  await w.round();
  w.render.setFault({ route: '/owners/{ownerId}/audit-logs', kind: 'status', status: 500 });
  spent = true;
  w.advance(MIN);
  await w.round();
  t.is((await w.status())?.lastProblem, 'budget');
});

// Review of the bound: with our clock further ahead of Render's than the bound, every Date was passed over and
// windows were read, and positions saved, by ours: past Render's time, so what Render stamped before them was
// never read, round after round. A Date not believed still caps how far an answer counts as read.
test('our clock 20 minutes ahead of Render\'s (past the bound): what Render stamps between rounds is still reported, once', async (t) => {
  const w = await roundsOnClock(t, 'dateoursahead');
  const svc = await w.create('api');
  w.skew(20 * MIN);
  w.advance(10 * MIN);
  await w.round();
  w.advance(MIN);
  // A service made after that round: its first window starts where the round began, on Render's clock.
  const late = await w.create('late');
  w.render.addServiceEvent(late.id, 'server_failed', OOM);
  w.render.appendLog(svc.id, 'panic: runtime error: index out of range');
  w.render.addServiceEvent(svc.id, 'server_failed', OOM);
  w.render.addAuditEvent(w.ownerId, 'StartShellEvent', { service: svc.id });
  w.advance(MIN);
  await w.round();
  w.advance(10 * MIN);
  await w.round();
  // Our own env reads are the one thing left on our clock here: their notes are timed by believed Dates only,
  // so past the bound they are reported (docs/render-api.md, "Render's clock in Sentinel's windows").
  t.deepEqual(rules(w.found).filter((rule) => rule !== 'view_env_var_values'), ['app_log_panic', 'server_oom', 'server_oom', 'start_shell']);
  t.is((await w.status())?.skipped, undefined, 'no stretch skipped');
});

// A position a day past Render's time (saved by a version before, or by a clock since set right) was held by the
// floor (at most the bound and a minute back a round): each round read only the minute before its end, and what
// came between rounds was lost for as many rounds as the floor took to come down. Against a window ending on
// Render's clock (its Dates believed), such a position was wrong: it goes back to where the window was read from.
test('positions a day past Render\'s time, with Render\'s Dates believed: what Render stamps between rounds is reported by the next round', async (t) => {
  const w = await roundsOnClock(t, 'dateaheadlegacy');
  const svc = await w.create('api');
  w.advance(10 * MIN);
  await w.round();
  const ahead = JSON.stringify({ ts: new Date(w.clock() + DAY).toISOString(), seen: [] });
  for (const field of [`audit:${w.ownerId}`, `events:${svc.id}`, `logs:${svc.id}`]) await w.rounds.writeCursor(field, ahead);
  w.advance(MIN);
  await w.round();
  w.advance(5 * MIN);
  w.render.appendLog(svc.id, 'panic: runtime error: index out of range');
  w.render.addServiceEvent(svc.id, 'server_failed', OOM);
  w.render.addAuditEvent(w.ownerId, 'StartShellEvent', { service: svc.id });
  w.advance(5 * MIN);
  await w.round();
  t.deepEqual(rules(w.found), ['app_log_panic', 'server_oom', 'start_shell']);
});

// Third review: with our clock past the bound ahead of Render's, a service without a position started reading
// where our clock said the first look-back began: 15 minutes before our time, i.e. after what Render had stamped.
test('our clock 20 minutes ahead of Render\'s (past the bound): a first round reads a service\'s last 15 minutes on Render\'s clock', async (t) => {
  const w = await roundsOnClock(t, 'datefirstahead');
  const svc = await w.create('api');
  w.skew(20 * MIN);
  w.advance(5 * MIN);
  w.render.addServiceEvent(svc.id, 'server_failed', OOM);
  w.render.appendLog(svc.id, 'panic: runtime error: index out of range');
  w.render.addAuditEvent(w.ownerId, 'StartShellEvent', { service: svc.id });
  w.advance(2 * MIN);
  await w.round();
  t.deepEqual(rules(w.found), ['app_log_panic', 'server_oom', 'start_shell']);
});

// Review: that second read failing threw the first answer away, and with it the workspace's round and the audit
// log's position; the next round paid for both reads again. It keeps the first answer now.
test('our clock 20 minutes ahead: the first look-back asked again failing (500) keeps the first answer; the round goes on', async (t) => {
  const w = await roundsOnClock(t, 'datefirstfails');
  const svc = await w.create('api');
  w.skew(20 * MIN);
  w.advance(5 * MIN);
  w.render.addServiceEvent(svc.id, 'server_failed', OOM);
  w.advance(2 * MIN);
  w.render.setFault({ route: '/owners/{ownerId}/audit-logs', kind: 'status', status: 500, every: 2, count: 1 });
  await w.round();
  t.deepEqual(rules(w.found), ['server_oom']);
  t.truthy(await w.rounds.cursor(`audit:${w.ownerId}`), 'the audit log has a position from the first answer');
});
