import test from 'ava';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack } from '../helpers/pipelineStack.js';
import { addNodeRepo } from '../helpers/pipeline.js';
import { proxyToOrchestrator, pushEnv, startCiScript } from './support/ciScript.js';

// scripts/ci-deploy.mjs as a child process against the real orchestrator (web + worker + simulators), found by a probe
// of the CI script: a deployment's failure message quoting the repository (a dependency's name from package.json, line
// breaks included) was printed raw, so a line of it became a GitHub Actions workflow command in the CI log; and a
// redirect to another origin (a proxy in front of the orchestrator, an old address) carried X-Render-Api-Key, the
// Render key, there with the deploy request (fetch drops only Authorization). The last test is a check that held
// already: a deploy request whose answer is lost is asked again with its Idempotency-Key, making no second deployment.
let stack: Stack;
let token: string;
let apiKey: string;
usePipelineStack(test, {}, (p) => {
  ({ stack } = p);
  stack.github.addUser({ id: 9300, login: 'ciprobe' });
  token = stack.github.issuePat('ciprobe');
  apiKey = `rnd_ciprobe${'q'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'probe ws' }] });
});

const headOf = (repo: string) => stack.github.branchHead(repo.split('/')[0]!, repo.split('/')[1]!, 'main') ?? '';
const run = (repo: string, extra: Record<string, string> = {}) => startCiScript(pushEnv({ url: stack.url, token, apiKey, repo, sha: headOf(repo) }, extra)).done;
const deploymentsNamed = async (name: string) => {
  const mine = await fetch(`${stack.url}/api/render/my-deployments?limit=100`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<{ deployments: Array<{ request: { serviceName: string } }> }>);
  return mine.deployments.filter((d) => d.request.serviceName === name);
};
/** Lines the Actions runner reads as a workflow command: `::cmd::` at a line's start, `##[cmd]` anywhere. */
const commandLines = (out: string) => out.split(/\r?\n|\r/).filter((l) => /^\s*::[a-z-]+/i.test(l) || l.includes('##['));

test.serial('a failure message quoting the repository (a dependency named with line breaks) cannot write workflow commands into the CI log', async (t) => {
  const forged = '@sveltejs/adapter-x\n::error title=Deploy OK::forged by the repository\n::add-mask::ci-deploy';
  stack.github.addRepo({
    owner: 'ciprobe', name: 'svelte-app',
    branches: { main: {
      'package.json': JSON.stringify({ name: 'svelte-app', scripts: { build: 'vite build', dev: 'vite dev' }, devDependencies: { '@sveltejs/kit': '^2.0.0', vite: '^5.0.0', [forged]: '1.0.0' } }),
      'package-lock.json': '{}',
    } },
  });
  const res = await run('ciprobe/svelte-app', { DEPLOY_TIMEOUT_SECONDS: '60' });
  t.is(res.code, 1, res.out);
  t.regex(res.out, /forged by the repository/, `the orchestrator's failure is shown:\n${res.out}`);
  t.deepEqual(commandLines(res.out), [], `workflow commands in the CI log:\n${res.out}`);
});

test.serial('a redirect of the deploy request to another origin: the Render key is not sent there, exit 2, nothing deployed', async (t) => {
  addNodeRepo(stack, 'ciprobe', 'moved-app');
  const caught: IncomingMessage['headers'][] = [];
  const elsewhere = createServer((req, res) => { caught.push(req.headers); req.resume(); res.writeHead(503); res.end(); });
  await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', r));
  const { port } = elsewhere.address() as AddressInfo;
  const p = await proxyToOrchestrator(stack.url, (req, res) => {
    if (req.method !== 'POST') return undefined;
    res.writeHead(308, { location: `http://localhost:${port}${req.url}` });
    res.end();
    return 'answered';
  });
  try {
    const res = await run('ciprobe/moved-app', { ORCHESTRATOR_URL: p.url, DEPLOY_TIMEOUT_SECONDS: '5' });
    t.deepEqual(caught.map((h) => h['x-render-api-key']).filter(Boolean), [], `the Render key went to another origin:\n${res.out}`);
    t.is(res.code, 2, res.out);
    t.regex(res.out, /redirect to http:\/\/localhost:\d+, not followed/);
    t.false(res.out.includes(apiKey) || res.out.includes(token));
    t.deepEqual(await deploymentsNamed('moved-app'), []);
  } finally {
    await p.close();
    elsewhere.closeAllConnections();
    await new Promise((r) => elsewhere.close(r));
  }
});

test.serial('the deploy request\'s answer lost after the orchestrator took it (connection cut): the retry reuses the Idempotency-Key, one deployment, exit 0', async (t) => {
  addNodeRepo(stack, 'ciprobe', 'lost-app');
  let cut = 0;
  const p = await proxyToOrchestrator(stack.url, (req) => {
    if (req.method !== 'POST' || cut > 0) return undefined;
    cut += 1;
    // Forwarded to the orchestrator, which makes the deployment; its answer never reaches the script.
    return async (up) => { await up.arrayBuffer(); req.socket.destroy(); };
  });
  try {
    const res = await run('ciprobe/lost-app', { ORCHESTRATOR_URL: p.url, DEPLOY_TIMEOUT_SECONDS: '60' });
    t.is(cut, 1);
    t.is(res.code, 0, res.out);
    t.is((await deploymentsNamed('lost-app')).length, 1, `one deployment for the commit:\n${res.out}`);
  } finally {
    await p.close();
  }
});
