import test from 'ava';
import { deployLogWindows } from '../../server/deployments/logWindows.js';
import type { Deploy } from '../../server/render/types.js';

// A deploy's log windows follow from its own times (docs/render-api.md, "There is no deploy filter").

const NOW = '2026-12-04T12:10:00.000000Z';
const deploy = (d: Partial<Deploy>): Deploy => ({ id: 'dep-1', createdAt: '2026-12-04T12:00:00.000000Z', updatedAt: '2026-12-04T12:05:00.000000Z', ...d });

test('a deploy canceled while queued has no window: the build lines from its creation on are the one it waited behind', (t) => {
  t.deepEqual(deployLogWindows(deploy({ status: 'canceled', finishedAt: '2026-12-04T12:05:00.000000Z' }), NOW), []);
  t.deepEqual(deployLogWindows(deploy({ status: 'queued' }), NOW), []);
});

test('a deploy out of the queue but not started (created, no startedAt) has no window yet; once started, from its start', (t) => {
  t.deepEqual(deployLogWindows(deploy({ status: 'created' }), NOW), []);
  t.deepEqual(deployLogWindows(deploy({ status: 'created', startedAt: '2026-12-04T12:01:00.000000Z' }), NOW), [
    { phase: 'build', types: ['build'], startTime: '2026-12-04T12:01:00.000000Z', endTime: NOW },
  ]);
});

test('a deploy canceled while it built keeps its build window, from its start to its end', (t) => {
  t.deepEqual(deployLogWindows(deploy({ status: 'canceled', startedAt: '2026-12-04T12:01:00.000000Z', finishedAt: '2026-12-04T12:05:00.000000Z' }), NOW), [
    { phase: 'build', types: ['build'], startTime: '2026-12-04T12:01:00.000000Z', endTime: '2026-12-04T12:05:00.000000Z' },
  ]);
});

test('a live deploy: its build window, then its runtime until now', (t) => {
  t.deepEqual(deployLogWindows(deploy({ status: 'live', startedAt: '2026-12-04T12:01:00.000000Z', finishedAt: '2026-12-04T12:03:00.000000Z' }), NOW), [
    { phase: 'build', types: ['build'], startTime: '2026-12-04T12:01:00.000000Z', endTime: '2026-12-04T12:03:00.000000Z' },
    { phase: 'runtime', types: ['app', 'request'], startTime: '2026-12-04T12:03:00.000000Z', endTime: NOW },
  ]);
});
