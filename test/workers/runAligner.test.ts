import test from 'ava';
import { createRunAligner } from '../../workers/runAligner.js';

// workers/runAligner.ts: a lone run starts at once; runs following each other within the window start
// together when the window the first of them opened ends; no run waits longer than one window.

const WINDOW_MS = 60;

/** Arrival times are given (not read), so the test decides what "follows" means; the waits are real. */
function aligner() {
  let at = 0;
  const align = createRunAligner(WINDOW_MS, () => at);
  return { arrive(ms: number) { at = ms; return align(); } };
}

test('a lone run, and one arriving a window or more after the last, starts at once', (t) => {
  const a = aligner();
  t.is(a.arrive(1_000), null);
  t.is(a.arrive(1_000 + WINDOW_MS), null);
  t.is(a.arrive(5_000), null);
});

test('runs following each other closely start together, after at most one window', async (t) => {
  const a = aligner();
  t.is(a.arrive(0), null); // the first of a stream goes at once
  const started = performance.now();
  const second = a.arrive(20);
  const third = a.arrive(40);
  const fourth = a.arrive(200); // still in the open window: it joins, whatever the gap since the last
  t.truthy(second);
  t.is(third, second);
  t.is(fourth, second);
  let resolved = 0;
  for (const p of [second, third, fourth]) void p!.then(() => { resolved += 1; });
  await second;
  await Promise.resolve();
  t.is(resolved, 3);
  const waited = performance.now() - started;
  t.true(waited >= WINDOW_MS - 5, `waited ${waited} ms`);
});

test('after a window ends, the next close arrival opens a new one; a late one goes at once', async (t) => {
  const a = aligner();
  t.is(a.arrive(0), null);
  const first = a.arrive(10);
  await first;
  const next = a.arrive(50); // 40 ms after the last arrival: follows it, so it waits for a new window
  t.truthy(next);
  t.not(next, first);
  await next;
  t.is(a.arrive(50 + WINDOW_MS), null);
});

test('a window of 0 never holds a run', (t) => {
  const align = createRunAligner(0);
  t.is(align(), null);
  t.is(align(), null);
});
