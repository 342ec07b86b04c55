import test from 'ava';
import { existsSync, mkdtempSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Koa from 'koa';
import Router from '@koa/router';
import type { AddressInfo } from 'node:net';
import { startStack, type Stack } from '../helpers/stack.js';
import { findPackageRoot, uiRoutes } from '../../server/routes/ui.js';

/**
 * A revalidation as a browser sends it. (fetch() cannot: a conditional header makes it add
 * Cache-Control: no-cache, which rightly defeats the ETag check.)
 */
function conditionalGet(url: string, etag: string) {
  return rawGet(url, { 'if-none-match': etag });
}

/** node:http sends the path as written (fetch would normalise %2e%2e away before sending). */
function rawGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

test('GET / serves the page with the strict CSP, revalidated by ETag', async (t) => {
  const a = stack.agent();
  const res = await a.get('/');
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type')!, /^text\/html; charset=utf-8/);
  t.regex(res.text, /<script type="module" src="\/assets\/app.js"><\/script>/);
  t.notRegex(res.text, /<script>|<style|\sstyle=|\son[a-z]+=/i, 'no inline script, style or handler');
  const csp = res.headers.get('content-security-policy')!;
  for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'"]) {
    t.true(csp.includes(d), `CSP has ${d}`);
  }
  t.is(res.headers.get('cache-control'), 'no-cache');
  const etag = res.headers.get('etag')!;
  t.truthy(etag);
  const again = await conditionalGet(`${stack.url}/`, etag);
  t.is(again.status, 304);
  t.is(again.body, '');
  t.is((await a.get('/index.html')).status, 200);
  // Every asset the page names exists (a renamed module would otherwise fail only in the browser).
  const named = [...res.text.matchAll(/(?:href|src)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
  t.true(named.length > 5);
  for (const path of named) t.is((await a.get(path)).status, 200, path);
});

test('GET /assets/* serves known types with ETags; traversal and unknown files are 404', async (t) => {
  const a = stack.agent();
  const js = await a.get('/assets/app.js');
  t.is(js.status, 200);
  t.is(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
  t.is(js.headers.get('x-content-type-options'), 'nosniff');
  t.is((await conditionalGet(`${stack.url}/assets/app.js`, js.headers.get('etag')!)).status, 304);
  t.is((await conditionalGet(`${stack.url}/assets/app.js`, '"stale"')).status, 200);
  t.is((await a.get('/assets/app.css')).headers.get('content-type'), 'text/css; charset=utf-8');
  t.is((await a.get('/assets/favicon.svg')).headers.get('content-type'), 'image/svg+xml');
  for (const path of [
    '/assets/..%2Fpackage.json', '/assets/..%2F..%2Fpackage.json', '/assets/%2e%2e/%2e%2e/package.json', '/assets/%2e%2e/%2e%2e/server/app.ts', '/assets/..%5Cpackage.json',
    '/assets/.hidden.js', '/assets/nope.js', '/assets/', '/assets/app.js%00.css', '/assets//etc/passwd', '/assets/%2Fetc%2Fpasswd',
  ]) {
    const res = await rawGet(stack.url + path);
    t.is(res.status, 404, path);
    t.false(res.body.includes('"name"'), `${path} leaked a file`);
  }
});

test('symlinks out of web/assets are refused; the package root is found by walking up', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'ui-'));
  mkdirSync(join(root, 'web', 'assets'), { recursive: true });
  writeFileSync(join(root, 'web', 'index.html'), '<!doctype html><title>x</title>');
  writeFileSync(join(root, 'web', 'assets', 'ok.js'), 'export {};');
  writeFileSync(join(root, 'secret.js'), 'secret');
  symlinkSync(join(root, 'secret.js'), join(root, 'web', 'assets', 'link.js'));
  const app = new Koa();
  const router = new Router();
  uiRoutes(router, { webRoot: join(root, 'web') });
  app.use(router.routes());
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    t.is((await fetch(`${base}/assets/ok.js`)).status, 200);
    t.is((await fetch(`${base}/assets/link.js`)).status, 404);
  } finally {
    server.close();
  }
  t.true(existsSync(join(findPackageRoot(), 'web', 'index.html')), 'web/ sits in the package root');
  t.is(findPackageRoot(new URL('../../dist/server/routes/ui.js', import.meta.url).href), findPackageRoot(), 'dist/ resolves to the same root');
});

test('GET /api/github/repos/:owner/:repo/detect: stack, 422 when unknown, caller-only, signed-in only', async (t) => {
  const a = stack.agent();
  t.is((await a.get('/api/github/repos/hal/app/detect')).status, 401);
  await stack.signIn(a, 'hal');
  stack.github.addRepo({
    owner: 'hal', name: 'app',
    branches: {
      main: { 'package.json': JSON.stringify({ name: 'app', scripts: { start: 'node server.js' } }), 'package-lock.json': '{}' },
      py: { 'requirements.txt': 'flask\ngunicorn\n', 'app.py': '' },
      empty: { 'notes.txt': 'nothing to run' },
    },
  });
  stack.github.addRepo({ owner: 'ivy', name: 'private', private: true, branches: { main: { Dockerfile: 'FROM x' } } });

  const node = await a.get('/api/github/repos/hal/app/detect');
  t.is(node.status, 200, node.text);
  t.deepEqual(Object.keys(node.json).sort(), ['buildCommand', 'hasBlueprint', 'publishPath', 'reason', 'runtime', 'schedule', 'serviceType', 'stack', 'startCommand']);
  t.is(node.json.stack, 'node');
  t.is(node.json.serviceType, 'web_service');
  t.is(node.json.schedule, null, 'only a cron job has a schedule');
  t.is(node.json.publishPath, null, 'only a static site has a publish path');
  t.is(node.json.buildCommand, 'npm ci');
  t.false(node.json.hasBlueprint);

  const py = await a.get('/api/github/repos/hal/app/detect?branch=py');
  t.is(py.json.stack, 'python');

  const none = await a.get('/api/github/repos/hal/app/detect?branch=empty');
  t.is(none.status, 422);
  t.is(none.json.error.code, 'stack_not_detected');
  t.regex(none.json.error.message, /build and start commands/);

  t.is((await a.get('/api/github/repos/hal/app/detect?branch=..%2Fx')).status, 400);
  t.is((await a.get('/api/github/repos/hal/app/detect?branch=nope')).status, 404);
  t.is((await a.get('/api/github/repos/ivy/private/detect')).status, 404, 'someone else’s private repo');
  t.is(a.transcript.join('\n').includes(stack.github.tokensFor('hal')[0]!), false, 'the GitHub token never comes back');
});
