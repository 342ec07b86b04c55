import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo } from '../helpers/pipeline.js';

// scripts/ci-deploy.mjs as a child process against a real stack (web + worker + simulators), with a proxy in front for
// the orchestrator's answers to the wait's polls (found by a probe of the CI script): the wait ignored Retry-After; a
// poll never answered held the job past DEPLOY_TIMEOUT_SECONDS (fetch has no timeout of its own); a 200 that is no
// deployment was a stack trace; a POLL_SECONDS past Node's timer range polled every millisecond; a canceled job said
// nothing of the deploy it left running.
const SCRIPT = fileURLToPath(new URL('../../scripts/ci-deploy.mjs', import.meta.url));
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

function start(repo: string, extra: Record<string, string> = {}): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>; out: () => string } {
  const child = spawn(process.execPath, [SCRIPT], {
    env: { PATH: process.env.PATH ?? '', ORCHESTRATOR_URL: stack.url, GH_USER_TOKEN: token, RENDER_API_KEY: apiKey, GITHUB_REPOSITORY: repo, GITHUB_REF_NAME: 'main', GITHUB_SHA: headOf(repo), POLL_SECONDS: '0.05', ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += String(d); });
  child.stderr.on('data', (d) => { out += String(d); });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out })));
  return { child, done, out: () => out };
}
const run = (repo: string, extra: Record<string, string> = {}) => start(repo, extra).done;

/** A proxy to the orchestrator; `route` may answer a request itself (returns true). */
async function proxy(route: (req: IncomingMessage, res: ServerResponse) => boolean) {
  const server = createServer((req, res) => {
    if (route(req, res)) return;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)).map(([k, v]) => [k, String(v)]));
      void fetch(`${stack.url}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined })
        .then(async (up) => {
          const body = Buffer.from(await up.arrayBuffer());
          res.writeHead(up.status, Object.fromEntries(['content-type', 'idempotent-replayed', 'retry-after'].flatMap((h) => (up.headers.get(h) ? [[h, up.headers.get(h)!]] : []))));
          res.end(body);
        })
        .catch(() => req.socket.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() { server.closeAllConnections(); await new Promise((r) => server.close(r)); },
  };
}
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
