import test from 'ava';
import { presentSettings } from '../../server/sentinel/present.js';
import type { SentinelSettings, SentinelStatus } from '../../server/sentinel/types.js';

// The Security page's notices say what the last round found. The status outlives the watch (kept for the
// findings' time): after Sentinel was turned off, "The last round paused…" showed above "Sentinel is off".
// Names from Render in them are isolated (U+2068 … U+2069: bidiNames.test.ts).
const ctx = { currentRef: 'ref-a', defaultIntervalMs: 60_000, ownerNames: new Map([['own-1', 'Team']]) };
const status: SentinelStatus = { lastRunAt: '2025-01-01T00:00:00.000Z', auditUnavailable: ['own-1'], lastProblem: 'budget' };
const on: SentinelSettings = { enabled: true, sessionRef: 'ref-a', intervalMs: 60_000, slackSealed: null, slackHint: null, slackDeployResults: false, enabledAt: 0 };

test('round notices only while the watch is on', (t) => {
  t.deepEqual(presentSettings(on, status, ctx).notices, [
    'Your Render plan has no audit log API for \u2068Team\u2069; app-log watch continues.',
    'The last round paused to leave Render API capacity for deploys; it continues next round.',
  ]);
  t.deepEqual(presentSettings(null, status, ctx).notices, [], 'off (no settings kept)');
  t.deepEqual(presentSettings({ ...on, enabled: false }, { ...status, lastProblem: 'render_key_rejected' }, ctx).notices, []);
  t.like(presentSettings(null, status, ctx), { enabled: false, lastRunAt: status.lastRunAt, intervalSeconds: 60 });
});

test('stretches a round gave up reading are named while the watch is on, newest first', (t) => {
  const skipped: SentinelStatus['skipped'] = [
    { what: 'events', ownerId: 'own-1', services: ['api'], from: '2025-01-01T00:00:00.000Z', to: '2025-01-01T02:30:59.999Z', at: '2025-01-02T03:00:00.000Z' },
    { what: 'app_logs', ownerId: 'own-1', services: ['a', 'b', 'c', 'd', 'e'], from: '2025-01-02T01:05:07.123456Z', to: '2025-01-02T01:50:00.000Z', at: '2025-01-02T03:00:00.000Z' },
  ];
  const quiet: SentinelStatus = { lastRunAt: '2025-01-02T03:00:00.000Z', auditUnavailable: [], lastProblem: null, skipped };
  t.deepEqual(presentSettings(on, quiet, ctx).notices, [
    'App logs of \u2068a\u2069, \u2068b\u2069, \u2068c\u2069 and 2 more from 2025-01-02 01:05 UTC to 2025-01-02 01:50 UTC were not read: more came than a round reads, or rounds were further apart than the interval.',
    'Service events of \u2068api\u2069 from 2025-01-01 00:00 UTC to 2025-01-01 02:30 UTC were not read: older than a day when their turn came.',
  ]);
  t.deepEqual(presentSettings({ ...on, enabled: false }, quiet, ctx).notices, []);
});

// The status outlives a watch turned off: after Sentinel was turned on again, the last round of the watch
// before showed as this one's until its first round ended (offOnStatus.test.ts drives it over HTTP).
test('a status of the watch before the current one (turned off, then on) gives no notice', (t) => {
  const now: SentinelSettings = { ...on, enabledAt: Date.parse('2025-01-02T00:00:00.000Z') };
  const failed: SentinelStatus = { ...status, lastProblem: 'render_unavailable' };
  t.like(presentSettings(now, { ...failed, watchEnabledAt: on.enabledAt }, ctx), { notices: [], auditLogUnavailable: [], lastRunAt: null });
  t.is(presentSettings(now, { ...failed, watchEnabledAt: now.enabledAt }, ctx).notices.length, 2, 'written by this watch\'s rounds');
  // Written before rounds stamped their watch: by the time of its last round.
  t.deepEqual(presentSettings(now, failed, ctx).notices, [], 'a last round before this watch was turned on');
  t.is(presentSettings(now, { ...failed, lastRunAt: '2025-01-02T00:01:00.000Z' }, ctx).notices.length, 2);
});
