import test, { registerCompletionHandler } from 'ava';

/*
 * Loaded by ava before every test file (ava.config.js `require`). A test file's process still running a
 * while after ava finished the file: something of it still runs (a timer, a socket), and ava waits for
 * every file's process to exit. An ioredis client reconnecting for ever to its stopped Redis kept one
 * alive, and the whole run hung until it was killed (in CI: its 90-minute limit). LINGER_MS after the
 * file is done, what keeps the process alive is printed and it exits with 1, which ava reports as the
 * file's failure in place of a hang. TEST_LINGER_EXIT_MS shortens the wait (test/harness/exitGuard.test.ts).
 */
const LINGER_MS = Number(process.env.TEST_LINGER_EXIT_MS) || 60_000;

registerCompletionHandler(() => {
  setTimeout(() => {
    process.stderr.write(`this test file's process is still running ${LINGER_MS} ms after ava finished it; what keeps it alive: ${process.getActiveResourcesInfo().join(', ')}\n`);
    process.exit(1);
  }, LINGER_MS).unref();
});

/*
 * TEST_TIMING_LOG=<path>: each test file's process appends one line at exit — the file, its wall time and
 * the CPU seconds of its own process and of its children it waited for (redis-server, Chromium, web and
 * worker processes), from /proc/self/stat — to find what the suite's time goes to.
 */
const timingLog = process.env.TEST_TIMING_LOG;
if (timingLog) {
  const { appendFileSync, readFileSync } = await import('node:fs');
  process.on('exit', () => {
    // After the command name, which is in parentheses and may hold anything: fields from the third on.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    const ticks = (i: number) => Number(fields[i - 3]) / 100;
    const file = test.meta.file;
    appendFileSync(timingLog, `${file.replace(/^.*?\/test\//, 'test/')} wall ${process.uptime().toFixed(1)} self ${(ticks(14) + ticks(15)).toFixed(1)} children ${(ticks(16) + ticks(17)).toFixed(1)}\n`);
  });
}
