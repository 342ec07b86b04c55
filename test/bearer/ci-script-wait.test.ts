import test from 'ava';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo } from '../helpers/pipeline.js';
import { proxyToOrchestrator, pushEnv, startCiScript } from './support/ciScript.js';

// scripts/ci-deploy.mjs as a child process against a real stack (web + worker + simulators), with a proxy in front for
// the orchestrator's answers to the wait's polls (found by a probe of the CI script): the wait ignored Retry-After; a
// poll never answered held the job past DEPLOY_TIMEOUT_SECONDS (fetch has no timeout of its own); a 200 that is no
// deployment was a stack trace; a POLL_SECONDS past Node's timer range polled every millisecond; a canceled job said
// nothing of the deploy it left running.
let stack: Stack;
let token: string;
let apiKey: string;
usePipelineStack(test, {}, (p) => {
  ({ stack } = p);
  stack.github.addUser({ id: 9200, login: 'ciedge' });
  token = stack.github.issuePat('ciedge');
  apiKey = `rnd_ciedge${'p'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'ci ws' }] });
});

const headOf = (repo: string) => stack.github.branchHead(repo.split('/')[0]!, repo.split('/')[1]!, 'main') ?? '';

const start = (repo: string, extra: Record<string, string> = {}) => startCiScript(pushEnv({ url: stack.url, token, apiKey, repo, sha: headOf(repo) }, extra));
const run = (repo: string, extra: Record<string, string> = {}) => start(repo, extra).done;

/** A proxy to the orchestrator; `route` may answer a request itself (returns true). */
const proxy = (route: (req: IncomingMessage, res: ServerResponse) => boolean) => proxyToOrchestrator(stack.url, (req, res) => (route(req, res) ? 'answered' : undefined));
const isPoll = (req: IncomingMessage) => req.method === 'GET' && /^\/api\/render\/deployments\/[^/?]+$/.test((req.url ?? '').split('?')[0]!);

test.serial('a 429 with Retry-After while waiting is honoured (README: "asked again after Retry-After ... waiting: until DEPLOY_TIMEOUT_SECONDS")', async (t) => {
  addNodeRepo(stack, 'ciedge', 'ra-app');
  let firstPollAt = 0;
  let refused = 0;
  const p = await proxy((req, res) => {
    if (!isPoll(req)) return false;
    firstPollAt ||= Date.now();
    if (Date.now() - firstPollAt > 4_000) return false;
    refused += 1;
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '2' });
    res.end('{"error":{"code":"rate_limited","message":"slow down"}}');
    return true;
  });
  try {
    const res = await run('ciedge/ra-app', { ORCHESTRATOR_URL: p.url });
    t.is(res.code, 0, res.out);
    // Asked at 0, 2 and 4 s if Retry-After: 2 were honoured; a few more allowed for slack.
    t.true(refused <= 5, `polled ${refused} times within 4 s of 429s saying Retry-After: 2`);
  } finally {
    await p.close();
  }
});

test.serial('an orchestrator that accepts the poll and never answers: the run still ends at DEPLOY_TIMEOUT_SECONDS', async (t) => {
  addNodeRepo(stack, 'ciedge', 'hang-app');
  const p = await proxy((req) => isPoll(req)); // taken, never answered
  const s = start('ciedge/hang-app', { ORCHESTRATOR_URL: p.url, DEPLOY_TIMEOUT_SECONDS: '3' });
  try {
    // 3 s timeout; give it 30 s (10x) before calling it stuck.
    const ended = await Promise.race([s.done, new Promise<null>((r) => setTimeout(() => r(null), 30_000))]);
    t.not(ended, null, `still running 30 s into a 3 s DEPLOY_TIMEOUT_SECONDS; output so far:\n${s.out()}`);
    if (ended) t.is(ended.code, 1, ended.out);
  } finally {
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await s.done;
    await p.close();
  }
});

test.serial('a poll answered 200 with a non-JSON body (a proxy\'s page) is not a crash with a stack trace', async (t) => {
  addNodeRepo(stack, 'ciedge', 'html-app');
  let served = 0;
  const p = await proxy((req, res) => {
    if (!isPoll(req) || served++ > 0) return false;
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html>maintenance</html>');
    return true;
  });
  try {
    const res = await run('ciedge/html-app', { ORCHESTRATOR_URL: p.url });
    t.notRegex(res.out, /^\s+at /m, `a stack trace:\n${res.out}`);
    t.is(res.code, 0, res.out);
  } finally {
    await p.close();
  }
});

test.serial('POLL_SECONDS past Node\'s timer range is refused as bad input, not a poll every millisecond', async (t) => {
  addNodeRepo(stack, 'ciedge', 'poll-app');
  let polls = 0;
  const p = await proxy((req, res) => {
    if (!isPoll(req)) return false;
    polls += 1;
    res.writeHead(503, { 'content-type': 'text/html' });
    res.end('busy');
    return true;
  });
  try {
    const res = await run('ciedge/poll-app', { ORCHESTRATOR_URL: p.url, POLL_SECONDS: '2147484', DEPLOY_TIMEOUT_SECONDS: '2' });
    t.is(res.code, 2, res.out);
    t.regex(res.out, /POLL_SECONDS must be a number of seconds above 0 and below 2147483/);
    t.is(polls, 0);
  } finally {
    await p.close();
  }
});

test.serial('key refused, token refused: exit 2, one line, no secret printed', async (t) => {
  addNodeRepo(stack, 'ciedge', 'refused-app');
  const badKey = `rnd_WRONGKEY${'w'.repeat(24)}`;
  const k = await run('ciedge/refused-app', { RENDER_API_KEY: badKey });
  t.is(k.code, 2, k.out);
  t.false(k.out.includes('WRONGKEY'));
  const shortKey = 'rnd_SHORTSECRET';
  const s = await run('ciedge/refused-app', { RENDER_API_KEY: shortKey });
  t.false(s.out.includes('SHORTSECRET'));
  const badTok = 'github_pat_WRONGTOKEN123';
  const g = await run('ciedge/refused-app', { GH_USER_TOKEN: badTok });
  t.is(g.code, 2, g.out);
  t.false(g.out.includes('WRONGTOKEN'));
});

test.serial('DEPLOY_TIMEOUT_SECONDS reached during a long build: exit 1 saying so and where the deploy goes on; SIGTERM (Actions cancel) mid-wait says so too', async (t) => {
  addNodeRepo(stack, 'ciedge', 'slow-app');
  const release = stack.render.holdPhase({ serviceName: 'slow-app' }, 'build_in_progress');
  t.teardown(release);
  const res = await run('ciedge/slow-app', { DEPLOY_TIMEOUT_SECONDS: '3', POLL_SECONDS: '0.5' });
  t.is(res.code, 1);
  t.regex(res.out, /still build_in_progress after 3 s; deployment dpl-\S+ goes on without this job: follow it at /);
  const s = start('ciedge/slow-app', { POLL_SECONDS: '0.5', GITHUB_SHA: headOf('ciedge/slow-app') });
  for (let i = 0; i < 100 && !/status: /.test(s.out()); i++) await new Promise((r) => setTimeout(r, 100));
  s.child.kill('SIGTERM');
  const ended = await s.done;
  t.is(ended.code, 143);
  t.regex(ended.out, /ci-deploy: canceled; deployment dpl-\S+ goes on without this job/);
  release();
});

test.serial('malformed SERVICE_NAME / GITHUB_SHA / GITHUB_REF_NAME: exit 2, one line, nothing deployed', async (t) => {
  addNodeRepo(stack, 'ciedge', 'odd-app');
  const cases: Array<Record<string, string>> = [{ SERVICE_NAME: 'my app' }, { SERVICE_NAME: 'odd\napp' }, { GITHUB_SHA: 'abc1234' }, { GITHUB_REF_NAME: 'no-such-branch' }];
  for (const extra of cases) {
    const res = await run('ciedge/odd-app', { ...extra, DEPLOY_TIMEOUT_SECONDS: '20' });
    t.notRegex(res.out, /^\s+at /m);
    t.not(res.code, 0, JSON.stringify(extra));
  }
});

test.serial('SIGINT mid-wait (Actions cancel sends SIGINT first): the deploy goes on, and the job says where', async (t) => {
  addNodeRepo(stack, 'ciedge', 'int-app');
  const release = stack.render.holdPhase({ serviceName: 'int-app' }, 'build_in_progress');
  t.teardown(release);
  const s = start('ciedge/int-app', { POLL_SECONDS: '0.5' });
  for (let i = 0; i < 100 && !/status: build/.test(s.out()); i++) await new Promise((r) => setTimeout(r, 100));
  s.child.kill('SIGINT');
  const ended = await s.done;
  t.is(ended.code, 130);
  t.regex(ended.out, /ci-deploy: canceled; deployment (dpl-\S+) goes on without this job \(follow or cancel it at http:\S+\/#\/deployments\/\1\)/);
  release();
});
