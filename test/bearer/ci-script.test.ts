import test from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dumpRedis, type Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo } from '../helpers/pipeline.js';

// scripts/ci-deploy.mjs (the README's GitHub Actions step) run as a real child process against a
// stack with the simulators: exit 0 and the service URL when live, 1 when the build fails; the
// commit deployed is the pushed one (GITHUB_SHA), though the branch has moved on since.
const SCRIPT = fileURLToPath(new URL('../../scripts/ci-deploy.mjs', import.meta.url));
let stack: Stack;
let token: string;
let apiKey: string;
usePipelineStack(test, {}, (p) => {
  ({ stack } = p);
  stack.github.addUser({ id: 9100, login: 'ciowner' });
  token = stack.github.issuePat('ciowner');
  apiKey = `rnd_ciowner${'s'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'ci ws' }] });
  addNodeRepo(stack, 'ciowner', 'good-app');
  addNodeRepo(stack, 'ciowner', 'bad-app');
});

const headOf = (repo: string) => stack.github.branchHead(repo.split('/')[0]!, repo.split('/')[1]!, 'main') ?? '';

function run(repo: string, extra: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SCRIPT], {
      env: { PATH: process.env.PATH ?? '', ORCHESTRATOR_URL: stack.url, GH_USER_TOKEN: token, RENDER_API_KEY: apiKey, GITHUB_REPOSITORY: repo, GITHUB_REF_NAME: 'main', GITHUB_SHA: headOf(repo), POLL_SECONDS: '0.05', ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += String(d); });
    child.stderr.on('data', (d) => { out += String(d); });
    child.on('close', (code) => resolve({ code, out }));
  });
}

test.serial('a deploy that goes live: exit 0, the service URL printed', async (t) => {
  const { code, out } = await run('ciowner/good-app');
  t.is(code, 0, out);
  t.regex(out, /^status: live$/m);
  t.regex(out, /live: https:\/\/good-app[^\s]*\.onrender\.com/);
  t.false(out.includes(token));
  t.false(out.includes(apiKey));
});

test.serial('a deploy whose build fails: exit 1 with the reason', async (t) => {
  // Every build of it fails: a new service's first deploy (of the branch's head) is stopped before the pushed commit's is made.
  stack.render.failBuilds({ serviceName: 'bad-app' }, 'build_failed', 1_000);
  const { code, out } = await run('ciowner/bad-app');
  t.is(code, 1, out);
  t.regex(out, /ci-deploy: (build_failed|failed)/);
});

test.serial('bad input: exit 2; the same commit re-run does not deploy twice', async (t) => {
  t.is((await run('ciowner/good-app', { GH_USER_TOKEN: '' })).code, 2);
  const bad = await run('ciowner/good-app', { RENDER_API_KEY: 'not-a-key' });
  t.is(bad.code, 2, bad.out);
  t.regex(bad.out, /validation_failed/);
  const again = await run('ciowner/good-app');
  t.is(again.code, 0, again.out);
  const ids = [...again.out.matchAll(/deployment (\S+):/g)].map((m) => m[1]);
  const mine = await fetch(`${stack.url}/api/render/my-deployments?limit=100`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<{ deployments: Array<{ id: string; request: { serviceName: string } }> }>);
  t.is(mine.deployments.filter((d) => d.request.serviceName === 'good-app').length, 1, 'Idempotency-Key ci-<sha>: one deployment');
  t.true(ids.length === 1 && mine.deployments.some((d) => d.id === ids[0]));
  const dump = await dumpRedis(stack.web.deps.redis);
  t.false(dump.includes(token));
  t.false(dump.includes(apiKey));
});

test.serial('a timeout or poll interval that is not a number of seconds is bad input: exit 2, nothing deployed', async (t) => {
  // '30m' read as NaN: the deadline never came (a stuck deploy held the CI job until GitHub killed it),
  // and a NaN or zero poll interval polled the API without pause.
  const cases: Array<Record<string, string>> = [{ DEPLOY_TIMEOUT_SECONDS: '30m' }, { DEPLOY_TIMEOUT_SECONDS: '0' }, { POLL_SECONDS: '5s' }, { POLL_SECONDS: '0' }];
  for (const [i, extra] of cases.entries()) {
    const res = await run('ciowner/good-app', { ...extra, SERVICE_NAME: 'ci-bad-timing', GITHUB_SHA: `sha-timing-${i}` });
    t.is(res.code, 2, `${JSON.stringify(extra)}: ${res.out}`);
    t.regex(res.out, new RegExp(`ci-deploy: ${Object.keys(extra)[0]!} must be a number of seconds above 0`));
  }
  const mine = await fetch(`${stack.url}/api/render/my-deployments?limit=100`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<{ deployments: Array<{ request: { serviceName: string } }> }>);
  t.false(mine.deployments.some((d) => d.request.serviceName === 'ci-bad-timing'));
});

test.serial('the pushed commit is deployed, not a later push to the branch', async (t) => {
  // CI for commit A runs while B is already on the branch (two pushes close together, or a deploy
  // waiting in the queue): A is what is detected, built and reported live.
  addNodeRepo(stack, 'ciowner', 'moving-app');
  const a = headOf('ciowner/moving-app');
  const b = stack.github.push('ciowner', 'moving-app', 'main', { 'index.html': '<h1>B</h1>' });
  const { code, out } = await run('ciowner/moving-app', { GITHUB_SHA: a });
  t.is(code, 0, out);
  t.regex(out, new RegExp(`deployment (\\S+): ciowner/moving-app@main \\(${a.slice(0, 7)}\\)`));
  const id = /deployment (\S+):/.exec(out)![1]!;
  const rec = await fetch(`${stack.url}/api/render/deployments/${id}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<{ status: string; commitSha: string; renderCommitId: string; request: { commitSha: string }; stack: { stack: string } }>);
  t.like(rec, { status: 'live', commitSha: a, renderCommitId: a, request: { commitSha: a }, stack: { stack: 'node' } });
  t.not(rec.renderCommitId, b);
});
