/**
 * Issue 11 part 3: no repository file can freeze a process. Hostile files at the 256 KiB read limit
 * (test/stacks/adversarial.ts: one-line files, blank lines, nested brackets, huge TOML/JSON/YAML,
 * YAML billion laughs and alias floods) go through the same detection the deploy form and the worker
 * run: the GitHub simulator over HTTP, the real GitHub client, repoFilesFromGitHub and detectStack.
 * Each gives the right, bounded answer. Then the attack from outside: a signed-in user points
 * GET /api/github/repos/:owner/:repo/detect at such a repository on a real web process, and /healthz
 * still answers while it runs (before the fix a 256 KiB blank-line Gemfile held the event loop for
 * minutes, so /healthz never answered within the test's time).
 */
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { detectStack, StackDetectionError, type DetectedStack, type RepoFiles } from '../../server/stacks/detect.js';
import { repoFilesFromGitHub } from '../../server/stacks/fromGitHub.js';
import { createGitHubClient } from '../../server/github/client.js';
import { MAX_LINE_CHARS } from '../../server/stacks/lines.js';
import { startGitHubSimulator } from '../../sandbox/github/index.js';
import { ADVERSARIAL_CASES, LIMIT, fill } from '../stacks/adversarial.js';
import { startOpsEnv, eventually } from '../ops/support/cluster.js';
import { envFor, forkReady } from '../helpers/processes.js';
import { Roamer, signInAcross } from '../ops/support/users.js';

/**
 * The production web composition in its own process, so a stalled event loop there cannot stall this test's
 * clients (forkReady: its stop registered before it starts, a generous start wait that is no assertion).
 */
const WEB_MAIN = fileURLToPath(new URL('../helpers/webMain.ts', import.meta.url));

/** Everything detection says, apart from the raw blueprint it passes along, stays small. */
function assertBounded(t: import('ava').ExecutionContext, found: DetectedStack, label: string): void {
  const { blueprint: _raw, ...rest } = found;
  t.true(JSON.stringify(rest).length < 2_000, `${label}: ${JSON.stringify(rest).slice(0, 200)}…`);
  for (const command of [found.buildCommand, found.startCommand ?? '']) t.true(command.length <= MAX_LINE_CHARS, label);
}

test('every adversarial file at the 256 KiB limit, read over HTTP from the GitHub simulator: the right stack, bounded', async (t) => {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  sim.addUser({ login: 'mallory' });
  const gh = createGitHubClient({ apiUrl: sim.apiUrl, token: sim.issueToken('mallory'), retries: false });
  let atLimit = 0;
  for (const [i, c] of ADVERSARIAL_CASES.entries()) {
    for (const [path, text] of Object.entries(c.files)) {
      if (text.length > 1_000) { t.is(text.length, LIMIT, `${c.name}: ${path} is exactly at the limit`); atLimit++; }
    }
    sim.addRepo({ owner: 'mallory', name: `hostile-${i}`, branches: { main: c.files } });
    const files = await repoFilesFromGitHub(gh, 'mallory', `hostile-${i}`, 'main');
    if ('error' in c.expect) {
      await t.throwsAsync(detectStack(files), { instanceOf: StackDetectionError, message: c.expect.error }, c.name);
      continue;
    }
    const found = await detectStack(files);
    t.like(found, c.expect, c.name);
    // The blueprint travels raw, unless the case says there is none (an empty render.yaml: blank lines and comments only).
    t.is(found.blueprint, 'blueprint' in c.expect ? c.expect.blueprint : c.files['render.yaml'], `${c.name}: the blueprint travels raw`);
    assertBounded(t, found, c.name);
  }
  t.true(atLimit >= ADVERSARIAL_CASES.length, `${atLimit} files at the limit`);
});

test('a file over the limit is refused before any parser sees it, whoever supplies the files', async (t) => {
  const files: RepoFiles = { list: ['Gemfile'], dirs: [], read: async () => fill('', '\n') + '\n' };
  await t.throwsAsync(detectStack(files), { instanceOf: StackDetectionError, message: /Gemfile is larger than 256 KiB/ });
});

test('GET /detect of a hostile repository on a real web process: /healthz answers meanwhile, the answers are right', async (t) => {
  const env = await startOpsEnv();
  t.teardown(() => env.close());
  const web = (await forkReady<{ url: string }>(WEB_MAIN, envFor(env.config), (stop) => t.teardown(() => stop()))).message;
  const browser = new Roamer([web.url]);
  await signInAcross(env, browser, 'mallory');
  const agent = browser.at(0);
  // The issue's two reports: a 256 KiB Gemfile of blank lines, a Procfile web: line that never ends cleanly.
  env.github.addRepo({ owner: 'mallory', name: 'blank-gemfile', branches: { main: { Gemfile: fill('', '\n'), Procfile: fill('', '\n', '\nweb: bin/web\n'), 'config.ru': '' } } });
  env.github.addRepo({ owner: 'mallory', name: 'long-procfile', branches: { main: { Procfile: fill('web: a', ' ', '\rx'), 'package.json': '{"scripts":{"start":"node ."}}' } } });

  const detects = [0, 1, 2].map(() => agent.get('/api/github/repos/mallory/blank-gemfile/detect'));
  // Once the simulator has handed the Gemfile over, the web process is parsing it: /healthz must answer.
  t.true(await eventually(() => env.github.calls.some((c) => c.path.endsWith('/blank-gemfile/contents/Gemfile'))));
  const health = await fetch(`${web.url}/healthz`);
  t.is(health.status, 200);
  for (const res of await Promise.all(detects)) {
    t.is(res.status, 200, res.text.slice(0, 300));
    t.like(res.json, { stack: 'ruby', startCommand: 'bin/web', buildCommand: 'bundle install' });
  }

  const long = await agent.get('/api/github/repos/mallory/long-procfile/detect');
  t.is(long.status, 422);
  t.is(long.json.error.code, 'stack_not_detected');
  t.regex(long.json.error.message, /Procfile web: line is longer than 4096 characters/);
  t.is((await fetch(`${web.url}/healthz`)).status, 200);
});
