import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Tests are TypeScript run by Node's own type stripping (nodeArguments below). Child processes (not worker
// threads) so each test file gets its own process, its own private redis-server and its own simulators.

const ROOT = fileURLToPath(new URL('.', import.meta.url));
// The UI files (Chromium) are the CPU-heavy ones; run in name order they came last, together, and held
// both cores while the first minutes of the run stood half idle. Each group is spread evenly over the
// run instead, the UI files with the two longest first.
const LONGEST_UI = ['test/ui/logs.test.ts', 'test/ui/service-settings-live.test.ts'];
const testFiles = readdirSync(`${ROOT}test`, { recursive: true })
  .map((f) => `test/${String(f).replaceAll('\\', '/')}`)
  .filter((f) => f.endsWith('.test.ts'))
  .sort();
const ui = [...LONGEST_UI, ...testFiles.filter((f) => f.startsWith('test/ui/') && !LONGEST_UI.includes(f))];
const rest = testFiles.filter((f) => !f.startsWith('test/ui/'));
const place = new Map([ui, rest].flatMap((group) => group.map((f, i) => [f, (i + 0.5) / group.length])));
const placeOf = (file) => place.get(file.slice(ROOT.length).replaceAll('\\', '/')) ?? 1;

export default {
  files: ['test/**/*.test.ts'],
  extensions: ['ts'],
  // Node's own type stripping (tsconfig.json's erasableSyntaxOnly keeps our code strippable), with `.js`
  // imports resolved to their `.ts` source and the compile cache (test/helpers/typescript.mjs);
  // test/helpers/processes.ts TYPESCRIPT_ARGS, the same for forked processes. Under tsx, each file's process
  // spent ~1 s more CPU loading the stack: test/server, 62 files, 279 → 238 s of CPU, 144 → 123 s wall.
  nodeArguments: [`--import=${pathToFileURL(`${ROOT}test/helpers/typescript.mjs`).href}`],
  // In every test file's process: a process that does not exit once its file is done fails the file
  // instead of hanging the run (test/helpers/exitGuard.ts).
  require: ['./test/helpers/exitGuard.ts'],
  workerThreads: false,
  // Four files at once on 2 cores: a file mostly waits (timers, its simulators, Chromium), and at 2 the
  // machine stood half idle (a run's CPU time was ~40% of wall × cores). Whole suite, one machine, back to
  // back: 2 → ~25 min, 4 → 12m20s, 6 → 10m48s (load ~20 in the UI files); 4 with the files spread as
  // below 10m30s. The UI files alone 6m23s → 5m28s (they also take turns within a file).
  concurrency: 4,
  sortTestFiles: (a, b) => placeOf(a) - placeOf(b) || a.localeCompare(b),
  timeout: '120s',
  environmentVariables: { NODE_ENV: 'test' },
};
