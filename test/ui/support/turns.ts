import type { ExecutionContext, TestFn } from 'ava';

/**
 * ava starts every test of a file at once. A Chromium test is a browser context or two, the web and
 * worker processes' share and the simulators' — a dozen of them at once on this 2-core machine put the
 * load near 20 (two files side by side), each test then took 40–120 s, near ava's 120 s timeout, and
 * timers the tests wait on fired late. (ava runs four files at once since: at most eight UI tests.) This runs at most `atOnce` of the file's tests at a time, the
 * rest waiting their turn in the order they were declared; hooks (before, after) are ava's own.
 *
 * `const test = takingTurns(anyTest);` in place of ava's `test`.
 */
export function takingTurns(test: TestFn, atOnce = 2): TestFn {
  let free = atOnce;
  const waiting: Array<() => void> = [];
  const turn = (): Promise<void> => {
    if (free > 0) {
      free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  // A finished test hands its turn to the next waiting one, or gives it back.
  const done = () => {
    const next = waiting.shift();
    if (next) next(); else free++;
  };
  const inTurn = (title: string, impl: (t: ExecutionContext) => unknown) => test(title, async (t) => {
    await turn();
    try {
      await impl(t);
    } finally {
      done();
    }
  });
  return Object.assign(inTurn, test);
}
