import test from 'ava';
import { randomBytes } from 'node:crypto';
import { createRedis } from '../../server/redis.js';
import { createSessionCache } from '../../server/sessions/cache.js';
import { createEndingFence, publishToSubscribers } from '../../server/sessions/fence.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { waitUntil } from '../helpers/wait.js';

// The ending side's fence (server/sessions/fence.ts) between "processes" of this test: each is a
// session cache with its tracking connection and a data connection to publish on. Who is counted,
// who acks, and what happens when someone subscribed never acks.
let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { redis?.client.disconnect(); await redis?.stop(); });

type Timeout = { expected: number | null; acked: number };

function processes(t: { teardown(fn: () => Promise<void>): void }) {
  const prefix = `${redis.prefix}${randomBytes(3).toString('hex')}`;
  const channel = `${prefix}:session-fence`;
  let n = 0;
  return {
    channel,
    async start(timeoutMs: number) {
      const data = createRedis(redis.url, 'web');
      const timeouts: Timeout[] = [];
      const acksSent: string[] = [];
      const counted: number[] = [];
      const fence = createEndingFence({
        channel, ackChannel: `${channel}-ack:${n++}`, timeoutMs, onTimeout: (d) => timeouts.push(d),
        publishFence: async (message) => { const receivers = await publishToSubscribers(data, channel, message); counted.push(receivers); return receivers; },
        publishAck: (ch, nonce) => { acksSent.push(ch); return data.publish(ch, nonce); },
      });
      const cache = createSessionCache<string>({
        connect: () => createRedis(redis.url, 'subscriber', { protocol: 2, autoResubscribe: false, autoResendUnfulfilledCommands: false, enableOfflineQueue: false }),
        recordPrefix: `${prefix}:sess:`, fence,
      });
      t.teardown(async () => { await cache.close(); data.disconnect(); });
      await waitUntil('tracking set up', async () => cache.active, 20_000, 10);
      return { cache, timeouts, acksSent, counted };
    },
  };
}

test('every subscribed process acks once; an ender alone counts itself without a round trip', async (t) => {
  const p = processes(t);
  const ender = await p.start(600_000); // an answer here is the acks', not the timeout's
  await ender.cache.dropEverywhere();
  t.deepEqual(ender.acksSent, [], 'its own fence message is counted where it arrives');
  const other = await p.start(600_000);
  await ender.cache.dropEverywhere();
  t.deepEqual(ender.timeouts, []);
  t.is(other.acksSent.length, 1, 'the other process acked on the ender\'s channel');
  await other.cache.close(); // unsubscribed: no longer among PUBLISH's receivers, so not waited for
  await ender.cache.dropEverywhere();
  t.deepEqual(ender.timeouts, []);
});

test('a receiver that never acks: the ender answers at its timeout and says how many acked', async (t) => {
  const p = processes(t);
  const ender = await p.start(200);
  const silent = createRedis(redis.url, 'subscriber', { protocol: 2 });
  t.teardown(async () => { silent.disconnect(); });
  await silent.subscribe(p.channel);
  await ender.cache.dropEverywhere();
  t.deepEqual(ender.timeouts, [{ expected: 2, acked: 1 }]);
});

test('pattern subscribers are not counted: they receive the fence but never ack', async (t) => {
  const p = processes(t);
  const ender = await p.start(600_000); // an answer here is the acks', not the timeout's
  const other = await p.start(600_000);
  const watcher = createRedis(redis.url, 'subscriber', { protocol: 2 }); // an operator's `psubscribe '*'`
  t.teardown(async () => { watcher.disconnect(); });
  const seen: string[] = [];
  watcher.on('pmessage', (_pattern: string, channel: string) => { if (channel === p.channel) seen.push(channel); });
  await watcher.psubscribe('*', `${p.channel.slice(0, -'session-fence'.length)}*`);
  await ender.cache.dropEverywhere();
  t.deepEqual(ender.counted, [2], 'the two processes, not the watcher\'s two patterns');
  t.deepEqual(ender.timeouts, []);
  t.is(other.acksSent.length, 1);
  await waitUntil('the watcher got the fence on both patterns', async () => seen.length === 2, 20_000, 10);
});
