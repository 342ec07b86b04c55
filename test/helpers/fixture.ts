import type { TestFn } from 'ava';

/**
 * One fixture for a whole test file: started before its first test, handed to `started` (which
 * assigns the file's own variables, e.g. `(f) => ({ stack, worker } = f)`), closed after its last
 * test even when a test failed. Suites keep their `let stack` names, so their tests read as before.
 * `test.after` hooks of the file (end-of-suite scans) run before this close, as ava orders them.
 */
export function sharedFixture<T extends { close(): Promise<void> }>(
  test: TestFn, start: () => Promise<T>, started: (fixture: T) => unknown,
): void {
  let fixture: T | undefined;
  test.before(async () => {
    fixture = await start();
    await started(fixture);
  });
  test.after.always(async () => { await fixture?.close(); });
}
