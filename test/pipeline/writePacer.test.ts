import test from 'ava';
import { createWritePacer } from '../../workers/tasks/writePacer.js';

// The commit-status pacer (workers/tasks/writePacer.ts): one user's writes a second apart, each job
// told how long to wait (it waits as a delayed job) and let through once its booked time has come.
test('one user\'s writes are booked a spacing apart; other users are not held up; a job keeps its booking', (t) => {
  let now = 10_000;
  const pacer = createWritePacer({ intervalMs: 1_000, now: () => now });
  t.is(pacer.book(1, 'a'), 0, 'the first write goes now');
  t.is(pacer.book(1, 'b'), 1_000);
  t.is(pacer.book(1, 'c'), 2_000);
  t.is(pacer.book(2, 'x'), 0, 'another user waits for nobody');
  now += 400;
  t.is(pacer.book(1, 'b'), 600, 'asking again early: the same booking, not a new one');
  now += 600;
  t.is(pacer.book(1, 'b'), 0, 'its time has come');
  t.is(pacer.book(1, 'd'), 2_000, 'later jobs queue behind every booking');
  now += 1_000;
  t.is(pacer.book(1, 'c'), 0);
});
