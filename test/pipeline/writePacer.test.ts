import test from 'ava';
import { createWritePacer } from '../../workers/tasks/writePacer.js';

// The commit-status pacer (workers/tasks/writePacer.ts), the one authority for status writes: one
// user's writes one at a time, each a spacing after the previous one ENDED; a job is told how long to
// wait and keeps its place in the user's line when it asks again.
test('a user\'s next write goes a spacing after the last one ended, not after it started', (t) => {
  let now = 10_000;
  const pacer = createWritePacer({ intervalMs: 1_000, now: () => now });
  t.is(pacer.book(1, 'a'), 0, 'the first write goes now');
  t.is(pacer.book(1, 'b'), 1_000, 'a write is in flight: at least a spacing');
  now += 1_000;
  t.true(pacer.book(1, 'b') > 0, 'a\'s write has not ended yet: b waits on, however long it took');
  now += 300;
  pacer.wrote(1); // a's write took 1.3 s
  t.is(pacer.book(1, 'b'), 1_000, 'a spacing from the end of a\'s write');
  now += 999;
  t.is(pacer.book(1, 'b'), 1);
  now += 1;
  t.is(pacer.book(1, 'b'), 0);
  pacer.wrote(1);
  now += 1_000;
  t.is(pacer.book(1, 'c'), 0, 'a quiet user waits for nothing');
});

test('jobs keep their place in the user\'s line; a woken job early or late re-books it; other users are not held up', (t) => {
  let now = 0;
  const pacer = createWritePacer({ intervalMs: 1_000, now: () => now });
  t.is(pacer.book(1, 'a'), 0);
  t.is(pacer.book(1, 'b'), 1_000);
  t.is(pacer.book(1, 'c'), 2_000, 'behind b');
  t.is(pacer.book(1, 'd'), 3_000, 'behind c');
  t.is(pacer.book(2, 'x'), 0, 'another user waits for nobody');
  now += 50;
  pacer.wrote(1);
  now += 1_000;
  t.true(pacer.book(1, 'c') > 0, 'c woke before b went: it waits, it does not overtake');
  t.is(pacer.book(1, 'b'), 0, 'b is at the head and its time has come');
  t.is(pacer.book(1, 'c'), 1_000, 'c is next, behind b\'s write in flight');
  pacer.wrote(1);
  now += 1_000;
  t.is(pacer.book(1, 'd'), 1_000, 'd still behind c');
  t.is(pacer.book(1, 'c'), 0);
});

test('a queued job that never asks again holds its user\'s line two spacings past its time, no longer', (t) => {
  let now = 0;
  const pacer = createWritePacer({ intervalMs: 1_000, now: () => now });
  t.is(pacer.book(1, 'a'), 0);
  pacer.wrote(1);
  t.is(pacer.book(1, 'gone'), 1_000, 'its job is removed after this');
  t.is(pacer.book(1, 'b'), 2_000);
  now = 2_999;
  t.is(pacer.book(1, 'b'), 1_000, 'gone\'s place holds until two spacings past its time');
  now = 3_000;
  t.is(pacer.book(1, 'b'), 0, 'the job that vanished is dropped from the line');
});

test('a job whose worker died while it waited its turn holds the jobs behind it about two spacings, not 30 s', (t) => {
  let now = 0;
  const pacer = createWritePacer({ intervalMs: 1_000, now: () => now });
  t.is(pacer.book(1, 'a'), 0);
  pacer.wrote(1);
  t.is(pacer.book(1, 'crashed'), 1_000, 'its worker dies during the wait: it never asks again');
  t.is(pacer.book(1, 'b'), 2_000);
  t.is(pacer.book(1, 'c'), 3_000);
  // b and c ask when told to: each waits once more behind the dead place, then the line moves on.
  now = 2_000;
  t.is(pacer.book(1, 'b'), 1_000);
  now = 3_000;
  t.is(pacer.book(1, 'c'), 1_000, 'c is behind b, which is at the head now');
  t.is(pacer.book(1, 'b'), 0, 'b writes 3 s in, where it would have at 2 s: one spacing lost to the dead job');
  pacer.wrote(1);
  now = 4_000;
  t.is(pacer.book(1, 'c'), 0);
});

test('a job that leaves the line (done, or gave up before its turn) holds nobody up', (t) => {
  let now = 0;
  const pacer = createWritePacer({ intervalMs: 1_000, now: () => now });
  t.is(pacer.book(1, 'a'), 0);
  pacer.wrote(1);
  t.is(pacer.book(1, 'quitter'), 1_000);
  t.is(pacer.book(1, 'b'), 2_000);
  pacer.leave(1, 'quitter');
  t.is(pacer.book(1, 'b'), 1_000, 'b is at the head now');
  now += 1_000;
  t.is(pacer.book(1, 'b'), 0);
});
