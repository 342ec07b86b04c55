import test from 'ava';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Koa from 'koa';
import Router from '@koa/router';
import { startStack, type Stack } from '../helpers/stack.js';
import { findPackageRoot, uiRelease, uiRoutes } from '../../server/routes/ui.js';

// What a deploy of this app (a new web process, browsers keeping the old page) and HTTP caches make of what
// the web process serves: the page names the UI release it is, every API answer the server's, never cached.

interface Raw { status: number; headers: Record<string, string | string[] | undefined>; body: string }
/** node:http: the path goes as written (fetch normalises dot segments), and no header is added. */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Raw> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const releaseIn = (html: string) => /<meta name="ui-release" content="([^"]+)">/.exec(html)?.[1];

let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

test('the page names its UI release; every API answer, errors and HEAD included, carries the server\'s and no-store', async (t) => {
  const page = await raw(stack.url, 'GET', '/');
  const release = releaseIn(page.body);
  t.truthy(release, 'the page does not say which release of the UI it is: a tab cannot tell it outlived a deploy');
  const a = stack.agent();
  await stack.signIn(a, 'cachey');
  const answers: Array<[string, Raw]> = [
    ['GET /api/meta', await raw(stack.url, 'GET', '/api/meta')],
    ['GET /api/session (signed out)', await raw(stack.url, 'GET', '/api/session')],
    ['GET /api/nope', await raw(stack.url, 'GET', '/api/nope')],
    ['DELETE /api/meta', await raw(stack.url, 'DELETE', '/api/meta')],
    ['POST text/plain', await raw(stack.url, 'POST', '/api/render/key', { 'content-type': 'text/plain' }, 'x')],
    ['POST too large', await raw(stack.url, 'POST', '/api/render/key', { 'content-type': 'application/json' }, `"${'x'.repeat(70_000)}"`)],
    ['HEAD /api/meta', await raw(stack.url, 'HEAD', '/api/meta')],
    ['OPTIONS /api/meta', await raw(stack.url, 'OPTIONS', '/api/meta')],
    ['GET /api/openapi.json', await raw(stack.url, 'GET', '/api/openapi.json')],
  ];
  for (const [what, res] of answers) {
    t.is(res.headers['cache-control'], 'no-store', what);
    t.is(res.headers['x-ui-release'], release, what);
  }
  // Signed in, through fetch (the same client as the session's): a conditional read is never a 304.
  for (const headers of [{ 'if-none-match': '*' } as Record<string, string>, { 'if-modified-since': new Date(Date.now() + 86_400_000).toUTCString() }]) {
    const res = await a.get('/api/session', { headers });
    t.is(res.status, 200, JSON.stringify(headers));
    t.is(res.headers.get('cache-control'), 'no-store');
    t.is(res.headers.get('x-ui-release'), release!);
  }
});

// Probes and MCP answers are no documents either: a shared cache keeping a /readyz 200, or an /mcp answer
// (a tool's result is a user's data), would serve it to the next asker.
test('/healthz, /readyz and /mcp answers (errors included) carry no-store', async (t) => {
  for (const [method, path, headers, body] of [
    ['GET', '/healthz'], ['GET', '/readyz'], ['GET', '/mcp'], ['POST', '/mcp', { 'content-type': 'application/json' }, '{}'],
  ] as Array<[string, string, Record<string, string>?, string?]>) {
    const res = await raw(stack.url, method, path, headers, body);
    t.is(res.headers['cache-control'], 'no-store', `${method} ${path} (${res.status})`);
  }
});

test('a page revalidated after a deploy that changed only an asset is not a 304: its release changed', async (t) => {
  const a = mkdtempSync(join(tmpdir(), 'ui-a-'));
  const b = mkdtempSync(join(tmpdir(), 'ui-b-'));
  t.teardown(() => { rmSync(a, { recursive: true, force: true }); rmSync(b, { recursive: true, force: true }); });
  cpSync(join(findPackageRoot(), 'web'), a, { recursive: true });
  cpSync(join(findPackageRoot(), 'web'), b, { recursive: true });
  appendFileSync(join(b, 'assets', 'api.js'), '\n// the next release\n');
  const serve = async (webRoot: string) => {
    const app = new Koa();
    const router = new Router();
    uiRoutes(router, { webRoot });
    app.use(router.routes());
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    t.teardown(() => { server.close(); });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const before = await raw(await serve(a), 'GET', '/');
  const afterUrl = await serve(b);
  const again = await raw(afterUrl, 'GET', '/', { 'if-none-match': String(before.headers.etag) });
  t.is(again.status, 200, 'the old page (and the release it names) kept by a 304');
  t.not(releaseIn(again.body), releaseIn(before.body));
  t.is((await raw(afterUrl, 'GET', '/', { 'if-none-match': String(again.headers.etag) })).status, 304, 'unchanged: revalidated');
});

test('the static route: encoded traversal, odd paths and every asset: 404 or the file, typed, nosniff, never a 500', async (t) => {
  for (const path of [
    '/assets/%252e%252e/package.json', '/assets/..%252fpackage.json', '/assets/%2e%2e%2fpackage.json', '/assets/..%c0%afpackage.json',
    '/assets/%c0%ae%c0%ae/package.json', '/assets/%E0%A4%A', '/assets/%', '/assets/app.js%2f', '/assets/app.js;.css', '/assets/app.js%20',
    '/assets/app.js.', '/assets/app.js/', '/assets/APP.JS', '/ASSETS/app.js', '/Index.html', '/%2e%2e/package.json', '/assets/..\\package.json',
    `/assets/${'a'.repeat(300)}.js`, `/assets/${'a/'.repeat(3_000)}x.js`, '/assets/.env', '/assets/app.js.map', '/package.json', '/server/app.ts',
  ]) {
    const res = await raw(stack.url, 'GET', path);
    t.true(res.status === 404 || res.status === 400 || res.status === 431, `${path}: ${res.status}`);
    t.false(/"name"|import |at [\w.]+ \(/.test(res.body), `${path} leaked a file or a stack trace`);
  }
  const names = readdirSync(join(findPackageRoot(), 'web', 'assets'));
  t.false(names.some((n) => n.startsWith('.') || n.endsWith('.map')), 'no dotfile or source map in web/assets');
  const types: Record<string, RegExp> = { js: /^text\/javascript; charset=utf-8$/, css: /^text\/css; charset=utf-8$/, svg: /^image\/svg\+xml$/ };
  for (const name of names) {
    const res = await raw(stack.url, 'GET', `/assets/${name}`);
    t.is(res.status, 200, name);
    t.regex(String(res.headers['content-type']), types[name.split('.').pop()!] ?? /^$/, name);
    t.is(res.headers['x-content-type-options'], 'nosniff', name);
    t.is(res.headers['cache-control'], 'no-cache', `${name}: unversioned names are revalidated every time`);
    const head = await raw(stack.url, 'HEAD', `/assets/${name}`, { 'if-none-match': String(res.headers.etag) });
    t.is(head.status, 304, `${name}: HEAD revalidated`);
  }
});

// The release digested every file under web/assets, also those the asset route never serves: two processes
// with the same UI, one holding a .DS_Store, a source map or a precompressed copy, made every tab offer a reload.
test('files the asset route does not serve do not change the UI release', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'ui-release-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  cpSync(join(findPackageRoot(), 'web'), root, { recursive: true });
  const before = uiRelease(root);
  writeFileSync(join(root, 'assets', '.DS_Store'), 'x');
  writeFileSync(join(root, 'assets', 'app.js.map'), '{}');
  writeFileSync(join(root, 'assets', 'app.js.gz'), 'x');
  t.is(uiRelease(root), before);
  writeFileSync(join(root, 'assets', 'app.js'), '// changed\n', { flag: 'a' });
  t.not(uiRelease(root), before, 'a served file changed: another release');
});
