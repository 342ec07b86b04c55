import test, { type ExecutionContext } from 'ava';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { createRenderClient } from '../../server/render/client.js';
import { BudgetExhausted } from '../../server/render/budget.js';
import { startTestRedis } from '../helpers/redis.js';
import { roundsInProcess } from './rounds.js';

// App logs are read 20 services a query (one region). Which 20 changes as services are created and
// deleted: a service moved into a group that was read further than it had been must not skip the lines
// in between, as it did while the read position was kept per group rather than per service.

test('a service moved into a group of services read further than it was: its lines in between are still read', async (t) => {
  const r = await startTestRedis();
  // Render allows 20 services created an hour: this workspace needs 21.
  const render = await startRenderSimulator({ rateLimits: { createService: { limit: 50 } } });
  t.teardown(async () => { await render.close(); await r.stop(); });
  const apiKey = `rnd_logcursors${'k'.repeat(20)}`;
  render.addAccount({ apiKey, workspaces: [{ name: 'logcursors ws' }] });
  const plain = createRenderClient({ baseUrl: render.url, apiKey });
  const [owner] = await plain.listOwners();
  for (let i = 0; i < 21; i++) {
    await plain.createService({
      type: 'web_service', name: `svc-${i}`, ownerId: owner!.id, repo: `https://github.com/logcursors/svc-${i}`, branch: 'main', autoDeploy: 'no',
      serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
    });
  }
  // The order the watch lists them in: the first 20 are read together, the 21st alone.
  const listed = await plain.listServices({ ownerId: owner!.id, limit: 200 });
  const [firstGroup, last] = [listed.slice(0, 20), listed[20]!];

  // One round's budget share allows `logCalls` logs queries; events and the rest are not limited here.
  let logCalls = Infinity;
  const { found, round } = await roundsInProcess(r, {
    baseUrl: render.url, apiKey,
    beforeRequest: async (call) => {
      if (call.route === '/logs' && logCalls-- <= 0) throw new BudgetExhausted(30_000, 'read');
    },
  }, [owner!.id]);

  // The 21st service crashes; then a line in the first group. The round's share is spent after the first
  // group's query: the first group is read past both lines, the 21st service not at all.
  render.appendLog(last.id, 'TypeError: Cannot read properties of undefined (reading \'id\')');
  await new Promise((resolve) => setTimeout(resolve, 5));
  render.appendLog(firstGroup[0]!.id, 'listening on port 10000');
  logCalls = 1;
  await round();
  t.deepEqual(found, []);

  // A service of the first group is deleted: the 21st is now read with the first group.
  await plain.deleteService(firstGroup[1]!.id);
  logCalls = Infinity;
  await round();
  t.deepEqual(found.map((f) => [f.rule, f.serviceId]), [['app_log_exception', last.id]]);
});

/** A workspace on the simulator with these web services (ids in order), and its key's plain client (and what it is made of). */
async function workspaceWith(t: ExecutionContext, label: string, names: string[]) {
  const r = await startTestRedis();
  // Deploys stay where they start: a creation's deploy going live writes an app line ('Server listening
  // …') whenever its timers fire, and under load that landed between a test's own lines.
  const render = await startRenderSimulator({ manualDeploys: true });
  t.teardown(async () => { await render.close(); await r.stop(); });
  const apiKey = `rnd_${label}${'k'.repeat(30 - label.length)}`;
  render.addAccount({ apiKey, workspaces: [{ name: `${label} ws` }] });
  const client = createRenderClient({ baseUrl: render.url, apiKey });
  const [owner] = await client.listOwners();
  const ids: string[] = [];
  for (const name of names) {
    const { service } = await client.createService({
      type: 'web_service', name, ownerId: owner!.id, repo: `https://github.com/${label}/${name}`, branch: 'main', autoDeploy: 'no',
      serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
    });
    ids.push(service!.id);
  }
  return { r, render, client, clientOptions: { baseUrl: render.url, apiKey }, ownerId: owner!.id, ids };
}

test('lines read again (positions written by the version before, per group of 20, are not read): nothing is counted twice', async (t) => {
  const { r, render, clientOptions, ownerId, ids: [serviceId] } = await workspaceWith(t, 'logreread', ['loop']);
  for (let i = 0; i < 3; i++) render.appendLog(serviceId!, `TypeError: Cannot read properties of undefined (reading 'x${i}')`);
  const rounds = await roundsInProcess(r, clientOptions, [ownerId]);
  await rounds.round();
  t.deepEqual(rounds.found.map((f) => [f.rule, f.count]), [['app_log_exception', 3]]);

  // As after an upgrade: no position of the service's own, the old group's (not read any more) instead.
  t.truthy(await rounds.cursor(`logs:${serviceId!}`));
  await rounds.renameCursor(`logs:${serviceId!}`, `logs:${ownerId}:oregon:0`);
  await rounds.round();
  // Its lines all counted before: the group's finding is not counted up, nor written (and announced) again as it was.
  t.deepEqual(rounds.written.map((f) => `${f.id} ×${f.count}`), [`${rounds.found[0]!.id} ×3`], 'the lines read again are not counted again');
  t.is(rounds.found.length, 1);
});

test('each service\'s position keeps the ids of its own lines only, not those of the others read with it', async (t) => {
  const { r, render, clientOptions, ownerId, ids } = await workspaceWith(t, 'logownids', ['quiet', 'chatty']);
  render.appendLog(ids[0]!, 'listening on port 10000');
  render.appendLog(ids[1]!, 'GET / 200');
  const rounds = await roundsInProcess(r, clientOptions, [ownerId]);
  await rounds.round();
  // Both are read to the chatty one's line (the newest instant of their query); only its own cursor names it.
  const [quiet, chatty] = [await rounds.cursor<{ ts: string; seen: string[] }>(`logs:${ids[0]}`), await rounds.cursor<{ ts: string; seen: string[] }>(`logs:${ids[1]}`)];
  t.is(quiet!.ts, chatty!.ts);
  t.deepEqual(quiet!.seen, []);
  t.is(chatty!.seen.length, 1);
});
