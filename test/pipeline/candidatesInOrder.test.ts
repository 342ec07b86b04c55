import test from 'ava';
import type { Deploy } from '../../server/render/types.js';
import { candidatesInOrder } from '../../workers/tasks/ownDeploy.js';

// The order a look for the deploy of an ask tries its candidates (workers/tasks/ownDeploy.ts). After a 202, a
// deploy made while the service was idle (the one listed before it had finished first) goes last: it was
// someone's, made just before our ask, that ours waited behind. Last, not out: the list cannot prove it (a
// queued deploy canceled or skipped just before ours was made, an end stamped a millisecond early), and a
// look that dropped ours would never find it, leaving the deployment to fail while its deploy goes live.
const T = Date.parse('2026-12-06T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const deploy = (id: string, createdMs: number, finishedMs: number | null): Deploy =>
  ({ id, status: finishedMs === null ? 'build_in_progress' : 'live', trigger: 'api', createdAt: iso(createdMs), finishedAt: finishedMs === null ? null : iso(finishedMs) }) as Deploy;
const ids = (ds: Deploy[]) => ds.map((d) => d.id);
const all = () => true;

test('after a 202, the deploy made while the service was idle goes after ours', (t) => {
  const previous = deploy('dep-previous', T - 60_000, T - 30_000);
  const theirs = deploy('dep-theirs', T - 20, T + 180); // made on the idle service, ran until after ours was made
  const ours = deploy('dep-ours', T + 5, null); // made while theirs ran: queued
  const listed = [ours, theirs, previous];
  const found = [ours, theirs];
  t.deepEqual(ids(candidatesInOrder(found, listed, all, true)), ['dep-ours', 'dep-theirs']);
  t.deepEqual(ids(candidatesInOrder(found, listed, all, false)), ['dep-theirs', 'dep-ours'], 'without a 202: oldest first, as before');
});

test('one that only looks idle is still taken when nothing else matches', (t) => {
  // Ours was queued behind `running`, but `skipped` (queued, then canceled) is listed between them with an end stamped before ours.
  const running = deploy('dep-running', T - 60_000, null);
  const skipped = { ...deploy('dep-skipped', T - 10_000, T + 1), status: 'canceled' } as Deploy;
  const ours = deploy('dep-ours', T + 5, null);
  t.deepEqual(ids(candidatesInOrder([ours], [ours, skipped, running], all, true)), ['dep-ours']);
});

test('not idle when it cannot be told: no older deploy listed, one not finished, or an end in the same millisecond', (t) => {
  const a = deploy('dep-a', T, null);
  const b = deploy('dep-b', T + 10, null);
  t.deepEqual(ids(candidatesInOrder([b, a], [b, a], all, true)), ['dep-a', 'dep-b'], 'a is last listed, b made while a ran');
  const tie = deploy('dep-tie', T - 5_000, T + 10);
  const c = deploy('dep-c', T + 10, null);
  const d = deploy('dep-d', T + 20, null);
  t.deepEqual(ids(candidatesInOrder([d, c], [d, c, tie], all, true)), ['dep-c', 'dep-d']);
});

test('only eligible deploys are tried', (t) => {
  const previous = deploy('dep-previous', T - 60_000, T - 30_000);
  const theirs = deploy('dep-theirs', T - 20, T + 180);
  const ours = deploy('dep-ours', T + 5, null);
  t.deepEqual(ids(candidatesInOrder([ours, theirs], [ours, theirs, previous], (d) => d.id !== 'dep-ours', true)), ['dep-theirs']);
});
