// Tests are TypeScript run through tsx. Child processes (not worker threads) so each test file
// gets its own process, its own private redis-server and its own simulators.
export default {
  files: ['test/**/*.test.ts'],
  extensions: ['ts'],
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  concurrency: 2,
  timeout: '120s',
  environmentVariables: { NODE_ENV: 'test' },
};
