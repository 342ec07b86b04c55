import test from 'ava';
import { createLogger } from '../../server/logger.js';
import { manualClock } from '../../server/clock.js';
import { telemetryKeys } from '../../server/telemetry/keys.js';
import { createRecorder } from '../../server/telemetry/recorder.js';
import { createGuardStore } from '../../server/telemetry/guards.js';
import { createDetector } from '../../server/telemetry/detector.js';
import { DEFAULT_TELEMETRY, resolveDetector } from '../../server/telemetry/options.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';

// A stored baseline with `all: null`, or a string where an EWMA state belongs (a hand edit, a damaged write), passed
// parseBaseline's shape check and threw in judge(): the detector's whole run failed with it, every minute, so no
// user was judged; `npm run admin telemetry <user>` failed on it too. Each state is read on its own now.

let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

test('damaged stored baselines: the detector still judges every user, and learns them again', async (t) => {
  const logger = createLogger({ level: 'silent' });
  const keys = telemetryKeys('damaged');
  const clock = manualClock(Date.UTC(2026, 10, 20, 12, 0, 5));
  const recorder = createRecorder({ redis: redis.client, keys, settings: DEFAULT_TELEMETRY, logger, flushMs: 3_600_000 });
  const damaged = [
    '{"v":1,"all":null,"hours":{}}',
    '{"v":1,"all":{"requests":"lots"},"hours":{"12":null}}',
    '{"v":1,"all":{},"hours":{"12":{"requests":[1,2]},"13":"x"}}',
    '{"v":1,"all":{"requests":[5,1,40]},"hours":null,"acceptedUntil":"soon"}',
  ];
  for (let u = 1; u <= damaged.length + 1; u++) {
    recorder.record({ userId: u, login: `user${u}`, method: 'GET', route: '/api/session', status: 200, ms: 5, at: clock.now(), target: null, deploy: false });
    if (u <= damaged.length) await redis.client.set(keys.baseline(u), damaged[u - 1]!);
  }
  await recorder.close();
  const detector = createDetector({ redis: redis.client, keys, store: createGuardStore(redis.client, keys), settings: DEFAULT_TELEMETRY, stats: resolveDetector({ settleMs: 0 }), clock, logger });
  clock.advance(60_000);
  const run = await detector.run();
  t.is(run.evaluated, damaged.length + 1);
  t.deepEqual(run.actions, []);
  for (let u = 1; u <= damaged.length; u++) {
    const stored = JSON.parse((await redis.client.get(keys.baseline(u)))!);
    t.deepEqual(stored.all.requests?.length, 3, `user ${u}'s baseline learnt again`);
  }
});
