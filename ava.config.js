// Tests are TypeScript run through tsx. Child processes (not worker threads) so each test file
// gets its own process, its own private redis-server and its own simulators.
export default {
  files: ['test/**/*.test.ts'],
  extensions: ['ts'],
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  // Four files at once on 2 cores: a file mostly waits (timers, its simulators, Chromium), and at 2 the
  // machine stood half idle (a run's CPU time was ~40% of wall × cores). Whole suite, one machine, back to
  // back: 2 → ~25 min, 4 → 12m20s; the UI files alone 6m23s → 5m28s (they also take turns within a file).
  concurrency: 4,
  timeout: '120s',
  environmentVariables: { NODE_ENV: 'test' },
};
