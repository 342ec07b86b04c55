import test from 'ava';
import { randomBytes } from 'node:crypto';
import { createKeyring } from '../../server/crypto/keyring.js';
import { createSessionStore } from '../../server/sessions/store.js';
import { systemClock } from '../../server/clock.js';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { storedSession } from '../helpers/sessions.js';

// Step 2 of a rotation: an A+B process and a B+A process move one session back and forth as one
// browser's requests land on either. A worker (or the web's key checks, Sentinel, SSE deadline timer)
// reads the session by the ref a deploy or watch recorded (loadByRef). A move by the other kind of
// process between loadByRef's look-ups must not make the live session read as gone: it did, and the worker
// stopped the user's deploys as credentials_revoked (test/security/rotationOverlapDeploys.test.ts).
const KEY_A = randomBytes(32).toString('hex');
const KEY_B = randomBytes(32).toString('hex');
let redis: TestRedis;
test.before(async () => { redis = await startTestRedis(); });
test.after.always(async () => { await redis?.stop(); });

function stores(prefix: string, hook: { before: ((cmd: string, key: string) => Promise<void> | void) | null }) {
  // A Redis client whose commands can be preceded, once, by a write of the other process.
  const wrapped = new Proxy(redis.client, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (typeof v !== 'function' || !['hmget', 'get'].includes(String(prop))) return typeof v === 'function' ? v.bind(target) : v;
      return async (...args: unknown[]) => {
        const h = hook.before;
        if (h) await h(String(prop), String(args[0]));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const common = { clock: systemClock, prefix, idleMs: 600_000, absoluteMs: 3_600_000 };
  const a = createKeyring(Buffer.from(KEY_A, 'hex'), Buffer.from(KEY_B, 'hex'));
  const b = createKeyring(Buffer.from(KEY_B, 'hex'), Buffer.from(KEY_A, 'hex'));
  return {
    oldP: createSessionStore({ ...common, redis: redis.client, keyring: a }),
    newP: createSessionStore({ ...common, redis: redis.client, keyring: b }),
    readerOnNew: createSessionStore({ ...common, redis: wrapped, keyring: b }),
    readerOnOld: createSessionStore({ ...common, redis: wrapped, keyring: a }),
  };
}

test.serial('loadByRef: the session moved back to the asked name between the miss and the pointer look-up reads as gone', async (t) => {
  const hook: { before: ((cmd: string, key: string) => Promise<void> | void) | null } = { before: null };
  const { oldP, newP, readerOnNew } = stores(`${redis.prefix}r1`, hook);
  const sid = await storedSession(oldP, 98_001);
  const refA = oldP.refOf(sid);
  t.truthy(await newP.load(sid), 'a request on the new process moved it to B\'s name');
  // The deploy recorded refA. The reader misses at refA; before it asks where refA went, a request on the old process moves it back.
  hook.before = async (cmd, key) => {
    if (cmd === 'get' && key.includes(':sess-moved:')) { hook.before = null; t.truthy(await oldP.load(sid), 'moved back to A\'s name'); }
  };
  const seen = await readerOnNew.loadByRef(refA);
  t.true((hook.before as unknown) === null, 'the move went in between');
  t.truthy(await oldP.get(sid), 'the session is alive');
  t.is(seen?.user?.id, 98_001, 'a live session must not read as gone');
});

test.serial('loadByRef: the session moved back between the pointer look-up and the read at its target reads as gone', async (t) => {
  const hook: { before: ((cmd: string, key: string) => Promise<void> | void) | null } = { before: null };
  const { oldP, newP, readerOnOld } = stores(`${redis.prefix}r2`, hook);
  const sid = await storedSession(oldP, 98_002);
  const refA = oldP.refOf(sid);
  const refB = newP.refOf(sid);
  t.truthy(await newP.load(sid), 'moved to B\'s name');
  let misses = 0;
  hook.before = async (cmd, key) => {
    // First read of refA misses (the session is at refB); the pointer says refB; before refB is read, moved back.
    if (cmd === 'hmget' && key.endsWith(`:sess:${refB}`)) { hook.before = null; t.truthy(await oldP.load(sid), 'moved back to A\'s name'); }
    if (cmd === 'hmget' && key.endsWith(`:sess:${refA}`)) misses++;
  };
  const seen = await readerOnOld.loadByRef(refA);
  t.true((hook.before as unknown) === null, 'the move went in between');
  t.true(misses >= 1);
  t.truthy(await newP.get(sid), 'the session is alive');
  t.is(seen?.user?.id, 98_002, 'a live session must not read as gone');
});
