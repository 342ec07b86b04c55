import test, { type ExecutionContext } from 'ava';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { createRenderClient, type Service } from '../../server/render/client.js';
import { BudgetExhausted } from '../../server/render/budget.js';
import { RenderApiError } from '../../server/render/errors.js';
import { startTestRedis } from '../helpers/redis.js';
import { roundsInProcess } from './rounds.js';

// A budget share too small for all of a user's reads in one round: each round read the same workspaces,
// services and log groups first and ran out at the same place, so the rest of the list was never read
// (an OOM on the 21st service, a crash in the second workspace, never reported). A round now starts where
// the last one stopped, and every part of the list gets its turn.

const OOM = { reason: { oomKilled: { memoryLimit: '512Mi' } } };

/** Workspaces of `counts[i]` services each (in the order the watch lists them), and rounds over them allowing `allow(route)` calls each. */
async function workspaces(t: ExecutionContext, label: string, counts: number[]) {
  const r = await startTestRedis();
  // Render allows 20 services created an hour: some of these workspaces need more.
  const render = await startRenderSimulator({ rateLimits: { createService: { limit: 250 } } });
  t.teardown(async () => { await render.close(); await r.stop(); });
  const apiKey = `rnd_${label}${'k'.repeat(30 - label.length)}`;
  render.addAccount({ apiKey, workspaces: counts.map((_, i) => ({ name: `${label} ws ${i}` })) });
  const plain = createRenderClient({ baseUrl: render.url, apiKey });
  const owners = await plain.listOwners();
  const services: Service[][] = [];
  for (const [w, count] of counts.entries()) {
    for (let i = 0; i < count; i++) {
      await plain.createService({
        type: 'web_service', name: `svc-${w}-${i}`, ownerId: owners[w]!.id, repo: `https://github.com/${label}/svc-${w}-${i}`, branch: 'main', autoDeploy: 'no',
        serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
      });
    }
    services.push(await plain.listServices({ ownerId: owners[w]!.id }));
  }
  // The round's budget share: `left(route)` calls more of a route (or of all, for '*'), then spent.
  let left: Record<string, number> = {};
  // Services whose events Render fails to answer (a 500, every time).
  const failing = new Set<string>();
  const rounds = await roundsInProcess(r, {
    baseUrl: render.url, apiKey,
    beforeRequest: async (call) => {
      if (call.route === '/services/{serviceId}/events' && failing.has(call.serviceId ?? '')) {
        throw new RenderApiError({ kind: 'server_error', status: 500, method: call.method, route: call.route });
      }
      const key = call.route in left ? call.route : '*';
      if (key in left && left[key]!-- <= 0) throw new BudgetExhausted(30_000, 'read');
    },
  }, owners.map((o) => o.id));
  return {
    render, plain, services, found: rounds.found, failing, rounds,
    async round(budget: Record<string, number>) {
      left = { ...budget };
      await rounds.round();
    },
  };
}

test('service events: a budget for 10 services a round reaches the 21st service\'s OOM on the third round', async (t) => {
  const w = await workspaces(t, 'turnsevents', [21]);
  const last = w.services[0]![20]!;
  w.render.addServiceEvent(last.id, 'server_failed', OOM);
  const rounds: number[] = [];
  for (let i = 1; i <= 4; i++) {
    await w.round({ '/services/{serviceId}/events': 10 });
    rounds.push(w.found.length);
  }
  t.deepEqual(w.found.map((f) => [f.rule, f.serviceId]), [['server_oom', last.id]]);
  t.deepEqual(rounds, [0, 0, 1, 1], 'found on the third round, and once');
});

test('a workspace of more than 200 services: the ones listed after the 200th are watched too', async (t) => {
  // The watch listed 200 services per workspace and stopped: an OOM of the 201st was never found,
  // round after round.
  const w = await workspaces(t, 'turnsmany', [203]);
  t.is(w.services[0]!.length, 203);
  const last = w.services[0]![202]!;
  w.render.addServiceEvent(last.id, 'server_failed', OOM);
  w.render.appendLog(last.id, 'TypeError: Cannot read properties of undefined (reading \'id\')');
  await w.round({});
  t.deepEqual(w.found.map((f) => [f.rule, f.serviceId]).sort(), [['app_log_exception', last.id], ['server_oom', last.id]]);
});

test('app logs: a budget for one query a round reads the second group of 20 on the next round', async (t) => {
  const w = await workspaces(t, 'turnslogs', [21]);
  const last = w.services[0]![20]!;
  w.render.appendLog(last.id, 'TypeError: Cannot read properties of undefined (reading \'id\')');
  await w.round({ '/logs': 1 });
  t.deepEqual(w.found, []);
  await w.round({ '/logs': 1 });
  t.deepEqual(w.found.map((f) => [f.rule, f.serviceId]), [['app_log_exception', last.id]]);
  // Then the first group again, and on: a crash there is found by the round after.
  w.render.appendLog(w.services[0]![3]!.id, 'TypeError: Cannot read properties of undefined (reading \'name\')');
  await w.round({ '/logs': 1 });
  t.deepEqual(w.found.map((f) => f.serviceId), [last.id, w.services[0]![3]!.id]);
});

test('workspaces: a round stopped short in its first workspace starts the next with the second', async (t) => {
  const w = await workspaces(t, 'turnsowners', [3, 1]);
  const other = w.services[1]![0]!;
  w.render.addServiceEvent(other.id, 'server_failed', OOM);
  // The first workspace alone needs more than 4 calls (its audit log, list, 3 services' events, logs).
  await w.round({ '*': 4 });
  t.deepEqual(w.found, []);
  await w.round({ '*': 4 });
  t.deepEqual(w.found.map((f) => [f.rule, f.serviceId]), [['server_oom', other.id]]);
});

test('a service whose events Render fails to answer every round does not keep the others waiting', async (t) => {
  const w = await workspaces(t, 'turnsfailing', [21]);
  const [first, last] = [w.services[0]![0]!, w.services[0]![20]!];
  w.failing.add(first.id);
  w.render.addServiceEvent(last.id, 'server_failed', OOM);
  // Round 1 fails at the first service (its 500); round 2 starts after it and stops where its budget runs
  // out (services 1–10), round 3 there (11–20, then the first again: failing).
  const failed: unknown[] = [];
  for (let i = 0; i < 3; i++) await w.round({ '/services/{serviceId}/events': 10 }).catch((err: unknown) => failed.push(err));
  t.is(failed.length, 2);
  t.true(failed.every((err) => err instanceof RenderApiError && err.status === 500));
  t.deepEqual(w.found.map((f) => [f.rule, f.serviceId]), [['server_oom', last.id]]);
});

test('the service a round stopped at deleted meanwhile: the next round starts at its place, not at the head', async (t) => {
  const w = await workspaces(t, 'turnsdeleted', [25]);
  const list = w.services[0]!;
  // Round 1 reads services 0–9 and stops at 10; service 10 is then deleted.
  await w.round({ '/services/{serviceId}/events': 10 });
  await w.plain.deleteService(list[10]!.id);
  w.render.addServiceEvent(list[20]!.id, 'server_failed', OOM);
  // Round 2 starts at service 11 (10's place): 11–20, the OOM on 20 found. From the head, it read 0–9 again.
  await w.round({ '/services/{serviceId}/events': 10 });
  t.deepEqual(w.found.map((f) => [f.rule, f.serviceId]), [['server_oom', list[20]!.id]]);
});

test('a resume place that is not one (not JSON, another shape) starts at the head; an index past the list at its last service', async (t) => {
  const w = await workspaces(t, 'turnsgarbage', [3]);
  const list = w.services[0]!;
  const ownerId = list[0]!.ownerId;
  const events = '/services/{serviceId}/events';
  // One events read a round: the service read shows where the round started.
  const startsAt = async (place: string) => {
    await w.rounds.writeCursor(`resume:events:${ownerId}`, place);
    const mark = w.render.calls.length;
    await w.round({ [events]: 1 });
    const read = w.render.calls.slice(mark).filter((c) => c.route === events);
    return list.findIndex((s) => read[0]?.path.includes(s.id));
  };
  t.is(await startsAt('{not json'), 0, 'not JSON');
  t.is(await startsAt('[1,2]'), 0, 'an array');
  t.is(await startsAt('"srv-x"'), 0, 'a string');
  t.is(await startsAt(JSON.stringify({ id: 'srv-gone', at: -3 })), 0, 'a negative index');
  // A place past the end (the list shrank since): its last service, as a deleted service keeps its place.
  t.is(await startsAt(JSON.stringify({ id: 'srv-gone', at: 1e9 })), 2, 'an index past the list');

  // With every place damaged and budget for all, a round reads the whole list and clears them.
  w.render.addServiceEvent(list[2]!.id, 'server_failed', OOM);
  w.render.appendLog(list[0]!.id, 'TypeError: Cannot read properties of undefined (reading \'id\')');
  await w.rounds.writeCursor('resume:owners', '{not json');
  await w.rounds.writeCursor(`resume:events:${ownerId}`, JSON.stringify({ id: 42, at: 'x' }));
  await w.rounds.writeCursor(`resume:logs:${ownerId}`, '[1,2]');
  await w.round({});
  t.deepEqual(w.found.map((f) => [f.rule, f.serviceId]).sort(), [['app_log_exception', list[0]!.id], ['server_oom', list[2]!.id]].sort());
  for (const field of ['resume:owners', `resume:events:${ownerId}`, `resume:logs:${ownerId}`]) t.is(await w.rounds.cursor(field), null, field);
});
