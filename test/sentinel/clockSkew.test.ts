import test from 'ava';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { createRenderClient } from '../../server/render/client.js';
import { startTestRedis } from '../helpers/redis.js';
import { roundsInProcess, roundsOnClock } from './rounds.js';

// Render stamps what the watch reads (audit entries, service events, app log lines) by its own clock; the
// worker's may be off it by any amount. The rounds ended each window, and saved each position, by the
// worker's: ahead of Render's by more than the minute a position is kept short of its end, what Render
// stamped between rounds lay before the saved position and was never read. Here the simulator keeps
// Render's clock (its timestamps and each answer's Date) and the rounds run on the worker's, moved by hand.

const MIN = 60_000;
const OOM = { reason: { oomKilled: { memoryLimit: '512Mi' } } };
const rules = (found: Array<{ rule: string }>) => found.map((f) => f.rule).sort();

test('worker clock 5 minutes ahead of Render: a panic between rounds', async (t) => {
  let renderMs = Date.now();
  const r = await startTestRedis();
  const render = await startRenderSimulator({ now: () => renderMs, manualDeploys: true });
  t.teardown(async () => { await render.close(); await r.stop(); });
  const apiKey = `rnd_skew${'k'.repeat(24)}`;
  render.addAccount({ apiKey, workspaces: [{ name: 'skew ws' }] });
  const plain = createRenderClient({ baseUrl: render.url, apiKey });
  const [owner] = await plain.listOwners();
  const { service } = await plain.createService({
    type: 'web_service', name: 'skew', ownerId: owner!.id, repo: 'https://github.com/skew/skew', branch: 'main', autoDeploy: 'no',
    serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
  });
  const worker = () => renderMs + 5 * MIN;
  const rounds = await roundsInProcess(r, { baseUrl: render.url, apiKey }, [owner!.id], worker);
  renderMs += 6 * MIN;
  await rounds.round(worker);
  renderMs += MIN;
  render.appendLog(service!.id, 'panic: runtime error: index out of range');
  render.addServiceEvent(service!.id, 'server_failed', { reason: { oomKilled: { memoryLimit: '512Mi' } } });
  render.addAuditEvent(owner!.id, 'StartShellEvent', { service: service!.id });
  renderMs += MIN;
  await rounds.round(worker);
  t.deepEqual(rules(rounds.found), ['app_log_panic', 'server_oom', 'start_shell'], 'reported by the round after them');
  renderMs += 10 * MIN;
  await rounds.round(worker);
  t.deepEqual(rules(rounds.found), ['app_log_panic', 'server_oom', 'start_shell'], 'and only once');
});

test('the worker\'s clock jumps 10 minutes ahead between rounds: what Render stamps after the jump is reported', async (t) => {
  const w = await roundsOnClock(t, 'skewjump');
  const svc = await w.create('jumpy');
  w.advance(10 * MIN);
  await w.round(); // the clocks agree
  w.advance(MIN);
  w.skew(10 * MIN); // the worker's clock jumps forward, once
  await w.round();
  w.advance(MIN);
  w.render.appendLog(svc.id, 'panic: runtime error: invalid memory address or nil pointer dereference');
  w.render.addServiceEvent(svc.id, 'server_failed', OOM);
  w.render.addAuditEvent(w.ownerId, 'StartShellEvent', { service: svc.id });
  w.advance(MIN);
  await w.round();
  t.deepEqual(rules(w.found), ['app_log_panic', 'server_oom', 'start_shell']);
  // Set right again (back by 10 minutes): nothing is read or reported twice, nothing new is missed.
  w.skew(0);
  w.advance(MIN);
  w.render.appendLog(svc.id, 'Segmentation fault (core dumped)');
  w.advance(MIN);
  await w.round();
  w.advance(10 * MIN);
  await w.round();
  t.deepEqual(rules(w.found), ['app_log_panic', 'app_log_segfault', 'server_oom', 'start_shell']);
});

test('worker clock 5 minutes behind Render: what Render stamps between rounds is reported by the next round, once', async (t) => {
  const w = await roundsOnClock(t, 'skewbehind');
  const svc = await w.create('late');
  w.skew(-5 * MIN);
  w.advance(10 * MIN);
  await w.round();
  w.advance(MIN);
  w.render.appendLog(svc.id, 'panic: runtime error: index out of range');
  w.render.addServiceEvent(svc.id, 'server_failed', OOM);
  w.render.addAuditEvent(w.ownerId, 'StartShellEvent', { service: svc.id });
  w.advance(MIN);
  await w.round();
  t.deepEqual(rules(w.found), ['app_log_panic', 'server_oom', 'start_shell'], 'not when the worker\'s clock gets there, 5 minutes later');
  for (let i = 0; i < 3; i++) {
    w.advance(3 * MIN);
    await w.round();
  }
  t.deepEqual(rules(w.found), ['app_log_panic', 'server_oom', 'start_shell'], 'and only once');
  t.is(w.rounds.written.length, 3, 'nothing written again');
});

for (const [label, skew] of [['ahead of', 5 * MIN], ['behind', -5 * MIN]] as const) {
  test(`worker clock 5 minutes ${label} Render's: the round's own env-var read is not reported by the next round`, async (t) => {
    const w = await roundsOnClock(t, `skewself${skew > 0 ? 'ahead' : 'behind'}`);
    const svc = await w.create('crashy', [{ key: 'DATABASE_PASSWORD', value: 'sup3r-secret' }]);
    w.skew(skew);
    w.advance(10 * MIN);
    await w.round();
    w.advance(MIN);
    w.render.appendLog(svc.id, 'TypeError: Cannot read properties of undefined (reading \'id\')');
    w.advance(MIN);
    await w.round(); // finds the crash and reads the env values to redact it (noted first)
    t.deepEqual(rules(w.found), ['app_log_exception']);
    w.advance(MIN);
    await w.round(); // reads the audit entry of that read
    w.advance(10 * MIN);
    await w.round();
    const reads = (await w.plain.listAuditLogs(w.ownerId, { limit: 100 })).items.filter((e) => e.event === 'ViewEnvVarValuesEvent');
    t.is(reads.length, 1, 'Render audited the read');
    t.deepEqual(rules(w.found), ['app_log_exception'], 'our own env-var read is not reported as a threat');
  });
}

test('positions saved past Render\'s clock (by our clock ahead of it, before they were kept on Render\'s) do not hold back what Render stamps now', async (t) => {
  const w = await roundsOnClock(t, 'skewlegacy');
  const svc = await w.create('old');
  w.advance(10 * MIN);
  await w.round();
  // What a version that ended windows by a worker's clock 5 minutes ahead left: positions 4 minutes past Render's time.
  const ahead = JSON.stringify({ ts: new Date(w.clock() + 4 * MIN).toISOString(), seen: [] });
  for (const field of [`audit:${w.ownerId}`, `events:${svc.id}`, `logs:${svc.id}`]) await w.rounds.writeCursor(field, ahead);
  w.advance(MIN);
  w.render.appendLog(svc.id, 'panic: runtime error: index out of range');
  w.render.addServiceEvent(svc.id, 'server_failed', OOM);
  w.render.addAuditEvent(w.ownerId, 'StartShellEvent', { service: svc.id });
  w.advance(MIN);
  await w.round();
  t.deepEqual(rules(w.found), ['app_log_panic', 'server_oom', 'start_shell']);
});
