// Repositories whose root GitHub cannot list whole: the tree answer flagged `truncated: true` (GitHub: past
// 100,000 entries or 7 MB; flagged here by a proxy in front of the simulator), and a tree answer over the
// client's 4 MiB (some 40,000 entries). The same answer every time: the repository's own shape. Detection
// answered 503 github_unavailable "Try again in a minute", and a deploy said "Deploy again; if it fails the
// same way, something between this app and GitHub (a proxy) answers for it". Now 422 repo_root_too_large,
// and a deploy fails saying so (server/github/errors.ts RootTooLargeError).
import test from 'ava';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startPipelineStack, QUICK_PHASES, type PipelineStack } from '../helpers/pipelineStack.js';
import { signedInWithKey, waitFinished } from '../helpers/pipeline.js';

let p: PipelineStack;
let proxy: Server;
let target = '';

// A GitHub front: forwards to the simulator; answers of a root tree of the "trunc" owner's repositories
// (and truncdeploy's) come back flagged truncated, as GitHub flags a tree it could not list whole.
test.before(async () => {
  proxy = createServer((req, res) => {
    const t = new URL(target);
    const headers = { ...req.headers, host: t.host };
    delete headers['accept-encoding'];
    const up = request({ hostname: t.hostname, port: t.port, path: req.url, method: req.method, headers }, (ur) => {
      const chunks: Buffer[] = [];
      ur.on('data', (c: Buffer) => chunks.push(c));
      ur.on('end', () => {
        let body = Buffer.concat(chunks);
        const h = { ...ur.headers };
        if (/\/repos\/trunc[a-z]*\/[^/]+\/git\/trees\//.test(req.url ?? '') && ur.statusCode === 200) {
          const tree = JSON.parse(body.toString('utf8'));
          tree.truncated = true;
          body = Buffer.from(JSON.stringify(tree));
          delete h.etag;
        }
        h['content-length'] = String(body.length);
        res.writeHead(ur.statusCode ?? 502, h);
        res.end(body);
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const port = (proxy.address() as AddressInfo).port;
  p = await startPipelineStack({ renderOptions: { phaseMs: QUICK_PHASES }, env: { GITHUB_API_URL: `http://127.0.0.1:${port}/api/v3` } });
  target = new URL(p.stack.github.apiUrl).origin;
});

test.after.always(async () => {
  await p?.close();
  proxy.closeAllConnections();
  await new Promise<void>((r) => proxy.close(() => r()));
});

function crowded(n: number): Record<string, string> {
  const files: Record<string, string> = { 'package.json': JSON.stringify({ name: 'x', scripts: { start: 'node server.js' } }), 'server.js': '' };
  for (let i = 0; i < n; i++) files[`data-file-number-${String(i).padStart(6, '0')}.json`] = '{}';
  return files;
}

test('a root GitHub lists only in part (truncated tree) is not answered as GitHub being down', async (t) => {
  const { agent } = await signedInWithKey(p.stack, 'trunc');
  p.stack.github.addRepo({ owner: 'trunc', name: 'big', branches: { main: crowded(1_200) } });
  const detect = await agent.get('/api/github/repos/trunc/big/detect');
  t.not(detect.status, 200, 'the proxy flagged the tree truncated');
  t.not(detect.json?.error?.code, 'github_unavailable', `detect answered ${detect.status} ${detect.text}`);
  t.notRegex(detect.json?.error?.message ?? '', /Try again/i, `detect answered ${detect.status} ${detect.text}`);
  t.is(detect.status, 422);
  t.is(detect.json?.error?.code, 'repo_root_too_large');
});

test('a deploy of a root GitHub lists only in part (truncated tree) does not tell the user to deploy again or blame a proxy', async (t) => {
  const { agent } = await signedInWithKey(p.stack, 'truncdeploy');
  p.stack.github.addRepo({ owner: 'truncdeploy', name: 'big2', branches: { main: crowded(1_200) } });
  const res = await agent.post('/api/render/deploy', { github_repo: 'truncdeploy/big2', project_name: 'trunc-big', branch: 'main' });
  t.is(res.status, 202, res.text);
  const done = await waitFinished(agent, res.json.id, 30_000);
  t.is(done.status, 'failed');
  t.notRegex(done.failure?.message ?? '', /Deploy again|proxy/i, `deploy failure: ${JSON.stringify(done.failure)}`);
  t.is(done.failure?.code, 'repo_root_too_large');
});

test('a root whose tree answer is over the 4 MiB the client reads (40,000 entries) is not answered as GitHub being down', async (t) => {
  const { agent } = await signedInWithKey(p.stack, 'wide');
  p.stack.github.addRepo({ owner: 'wide', name: 'big', branches: { main: crowded(40_000) } });
  const detect = await agent.get('/api/github/repos/wide/big/detect');
  t.not(detect.json?.error?.code, 'github_unavailable', `detect answered ${detect.status} ${detect.text}`);
  t.is(detect.json?.error?.code, 'repo_root_too_large', `detect answered ${detect.status} ${detect.text}`);
});

test('10,000 files in the root: detect answers, and agrees with the deploy', async (t) => {
  const { agent } = await signedInWithKey(p.stack, 'tenk');
  p.stack.github.addRepo({ owner: 'tenk', name: 'big', branches: { main: crowded(10_000) } });
  const detect = await agent.get('/api/github/repos/tenk/big/detect');
  t.is(detect.status, 200, detect.text);
  const res = await agent.post('/api/render/deploy', { github_repo: 'tenk/big', project_name: 'tenk-big', branch: 'main' });
  const done = await waitFinished(agent, res.json.id, 30_000);
  t.is(done.status, 'live', JSON.stringify(done.failure));
  t.is(done.stack.startCommand, detect.json.startCommand);
  t.is(done.stack.buildCommand, detect.json.buildCommand);
});
