import test from 'ava';
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { startStack, type Stack } from '../helpers/stack.js';
import { sharedFixture } from '../helpers/fixture.js';
import type { Agent } from '../helpers/agent.js';

// The HTTP layer as a hostile client speaks it, over raw sockets (kept from a probe that found nothing to fix).
// Every bad input must get a 4xx (never a 5xx, a crash or a hang), security headers on app-level
// errors, no file outside web/ served, no answer crossing users on a pipelined connection, and the
// process healthy afterwards.

const UA = 'probe-http/1.0';
let stack: Stack;
let alice: Agent;
let bob: Agent;
let port: number;

sharedFixture(test, () => startStack(), async (s) => {
  stack = s;
  port = Number(new URL(s.url).port);
  alice = s.agent({ 'user-agent': UA });
  bob = s.agent({ 'user-agent': UA });
  await s.signIn(alice, 'alice');
  await s.signIn(bob, 'bob');
});

/** Bytes over one fresh connection; everything the server wrote until it closed (or `waitMs` passed). */
function raw(data: string | Buffer, waitMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => { c.destroy(); resolve(out); }, waitMs);
    c.on('data', (d: Buffer) => { out += d.toString('latin1'); });
    c.on('close', () => { clearTimeout(timer); resolve(out); });
    c.on('error', () => {});
    c.write(data);
  });
}
const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
const statuses = (answer: string) => [...answer.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
const bodyOf = (answer: string) => answer.slice(answer.indexOf('\r\n\r\n') + 4);
const asUser = (a: Agent | null) => (a ? `Cookie: ${a.cookieHeader()}\r\nX-CSRF-Token: ${a.csrfToken}\r\n` : '');
const get = (path: string, who: Agent | null, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\nUser-Agent: ${UA}\r\n${asUser(who)}${extra}\r\n`;
function post(path: string, who: Agent | null, body: string | Buffer, type = 'application/json', extra = ''): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const length = /transfer-encoding/i.test(extra) ? '' : `Content-Length: ${b.length}\r\n`;
  return Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\nHost: x\r\nUser-Agent: ${UA}\r\n${asUser(who)}Content-Type: ${type}\r\n${length}${extra}Connection: close\r\n\r\n`), b]);
}
const chunked = (s: string, n: number) => {
  let out = '';
  for (let i = 0; i < s.length; i += n) { const p = s.slice(i, i + n); out += `${p.length.toString(16)}\r\n${p}\r\n`; }
  return `${out}0\r\n\r\n`;
};

test.serial('static files: no path variant reads a file outside web/assets', async (t) => {
  const variants = [
    '/assets/..%2f..%2fpackage.json', '/assets/%2e%2e/%2e%2e/package.json', '/assets/%2E%2E%2F%2E%2E%2Fpackage.json',
    '/assets/..%5c..%5cpackage.json', '/assets\\..\\package.json', '/%2e%2e/package.json', '/assets/%C0%AE%C0%AE/package.json',
    '/assets/%c0%af..%c0%afpackage.json', '/assets/..%00/package.json', '/assets/%00', '/assets/%', '/assets/%E0%A4%A',
    '/assets/.env', '/assets/x/../../package.json', '/assets//etc/passwd', '/assets/%2fetc%2fpasswd', '/assets/app.js;../../package.json',
    `/assets/${'a/'.repeat(3000)}x.js`, '/index.html/..%2f..%2fpackage.json', '/..;/package.json', '//package.json',
  ];
  for (const path of variants) {
    const answer = await raw(`${get(path, null)}`.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'));
    const status = statusOf(answer);
    t.true(status >= 400 && status < 500, `${path.slice(0, 80)} → ${status}`);
    t.false(answer.includes('"render-orchestrator"'), `${path.slice(0, 80)} served package.json`);
    t.false(answer.includes('root:x:0:0'), `${path.slice(0, 80)} served /etc/passwd`);
  }
});

test.serial('request framing the parser refuses: a 4xx, never a 5xx, and the connection does not hang', async (t) => {
  const p = '/api/render/setup';
  const cases: Record<string, string> = {
    clAndTe: `POST ${p} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
    twoLengths: `POST ${p} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
    negativeLength: `POST ${p} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}`,
    plusLength: `POST ${p} HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n{}`,
    hugeLength: `POST ${p} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{}`,
    teChunkedGzip: `POST ${p} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
    teIdentity: `POST ${p} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n{}`,
    badChunk: `POST ${p} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    longChunkExt: `POST ${p} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2;${'a'.repeat(20_000)}\r\n{}\r\n0\r\n\r\n`,
    obsFold: 'GET /api/session HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n',
    spaceBeforeColon: 'GET /api/session HTTP/1.1\r\nHost: x\r\nCookie : sid=x\r\n\r\n',
    nulInHeader: 'GET /api/session HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n',
    bareLf: 'GET /api/session HTTP/1.1\nHost: x\n\n',
    noHost: 'GET /api/session HTTP/1.1\r\n\r\n',
    lowercaseMethod: 'get /api/session HTTP/1.1\r\nHost: x\r\n\r\n',
    unknownMethod: 'FOO /api/session HTTP/1.1\r\nHost: x\r\n\r\n',
    relativeTarget: 'GET api/session HTTP/1.1\r\nHost: x\r\n\r\n',
    rawUnicodePath: 'GET /api/render/deployments/\u00e9 HTTP/1.1\r\nHost: x\r\n\r\n',
    bigHeader: `GET /api/session HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    manyCookies: `GET /api/session HTTP/1.1\r\nHost: x\r\nCookie: ${Array.from({ length: 3000 }, (_, i) => `c${i}=v`).join('; ')}\r\n\r\n`,
    expectOdd: `POST ${p} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nExpect: foo\r\n\r\n{}`,
    h2Preface: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  };
  for (const [name, bytes] of Object.entries(cases)) {
    const status = statusOf(await raw(bytes));
    t.true(status >= 400 && status < 500, `${name} → ${status}`);
  }
});

test.serial('methods on every kind of route: never a 5xx; app-level refusals carry the security headers', async (t) => {
  const paths = ['/', '/index.html', '/assets/app.js', '/healthz', '/readyz', '/api/session', '/api/events', '/api/render/deploy', '/mcp', '/api/openapi.json', '/nope', '/api/nope'];
  const methods = ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'PATCH', 'DELETE', 'POST', 'PROPFIND', 'MKCOL', 'LOCK', 'SEARCH', 'PURGE', 'REPORT'];
  for (const path of paths) {
    for (const method of methods) {
      const body = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method) ? 'Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}' : '\r\n';
      const answer = await raw(`${method} ${path} HTTP/1.1\r\nHost: x\r\nUser-Agent: ${UA}\r\nConnection: close\r\n${body}`, 1500);
      const status = statusOf(answer);
      t.true(status > 0 && status < 500, `${method} ${path} → ${status}`);
      if (status >= 400) {
        t.regex(answer, /x-content-type-options: nosniff/i, `${method} ${path}: no nosniff on ${status}`);
        t.regex(answer, /content-security-policy:/i, `${method} ${path}: no CSP on ${status}`);
        if (path.startsWith('/api/')) t.regex(answer, /cache-control: no-store/i, `${method} ${path}: cacheable ${status}`);
      }
      t.notRegex(answer, /^(server|x-powered-by):/im, `${method} ${path}: names its software`);
      t.notRegex(bodyOf(answer), /\/work\/|node_modules|at .*\.ts:\d+/, `${method} ${path}: leaks an internal path or stack`);
    }
  }
});

test.serial('bodies: odd content types, codings, sizes and shapes are 4xx, never a 5xx', async (t) => {
  const p = '/api/render/setup';
  const bodies: Record<string, Buffer> = {
    utf16: post(p, alice, '{}', 'application/json; charset=utf-16'),
    bogusCharset: post(p, alice, '{}', 'application/json; charset=bogus'),
    oddParams: post(p, alice, '{}', 'application/json; charset="utf-8"; foo=bar; boundary=;'),
    brokenType: post(p, alice, '{}', 'application/json;;;;='),
    multipart: post(p, alice, '--x\r\nContent-Disposition: form-data; name="api_key"\r\n\r\n1\r\n--x--', 'multipart/form-data; boundary=x'),
    textPlain: post(p, alice, '{"api_key":"x"}', 'text/plain'),
    deepArray: post(p, alice, `${'['.repeat(30_000)}${']'.repeat(30_000)}`),
    deepObject: post(p, alice, `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`),
    hugeExponent: post(p, alice, '{"api_key":1e999999}'),
    longNumber: post(p, alice, `{"api_key":${'9'.repeat(60_000)}}`),
    lonelySurrogate: post(p, alice, '{"api_key":"\\ud800"}'),
    nul: post(p, alice, '{"api_key":"\u0000"}'),
    latin1: post(p, alice, Buffer.from('{"api_key":"caf\xe9"}', 'latin1')),
    proto: post(p, alice, '{"__proto__":{"x":1}}'),
    dupKey: post(p, alice, '{"api_key":"a","api_key":"b"}'),
    form5000: post(p, alice, Array.from({ length: 5000 }, (_, i) => `a${i}=1`).join('&'), 'application/x-www-form-urlencoded'),
    formDeep: post(p, alice, `a${'[b]'.repeat(500)}=1`, 'application/x-www-form-urlencoded'),
    formSparse: post(p, alice, 'api_key[999999999]=1', 'application/x-www-form-urlencoded'),
    chunkedPastLimit: post(p, alice, chunked(`{"api_key":"${'x'.repeat(200_000)}"}`, 1000), 'application/json', 'Transfer-Encoding: chunked\r\n'),
    gzipBomb: post(p, alice, gzipSync(Buffer.concat([Buffer.from('{"a":"'), Buffer.alloc(20 * 1024 * 1024, 0x78), Buffer.from('"}')])), 'application/json', 'Content-Encoding: gzip\r\n'),
    gzipGarbage: post(p, alice, 'not gzip', 'application/json', 'Content-Encoding: gzip\r\n'),
    gzipTwice: post(p, alice, gzipSync(gzipSync('{}')), 'application/json', 'Content-Encoding: gzip, gzip\r\n'),
    zstd: post(p, alice, '{}', 'application/json', 'Content-Encoding: zstd\r\n'),
  };
  // A declared length far past the limit, with nothing after it: refused at once from the header.
  bodies.declaredTooLarge = Buffer.from(`POST ${p} HTTP/1.1\r\nHost: x\r\nUser-Agent: ${UA}\r\n${asUser(alice)}Content-Type: application/json\r\nContent-Length: 9999999999\r\nConnection: close\r\n\r\n{}`);
  for (const [name, bytes] of Object.entries(bodies)) {
    const answer = await raw(bytes, 6000);
    const status = statusOf(answer);
    t.true(status >= 400 && status < 500, `${name} → ${status} ${bodyOf(answer).slice(0, 120)}`);
  }
  // Nothing was stored: alice still has no Render key.
  const session = await alice.get('/api/session');
  t.is(session.status, 200);
  t.false(session.json.render.configured);
});

test.serial('pipelined requests of different users on one connection: each answer is its own request\'s, in order', async (t) => {
  const seq = [
    get('/api/session', alice), get('/api/session', bob), get('/api/session', null),
    post('/api/render/setup', alice, '{"api_key":1}').toString('latin1').replace('Connection: close\r\n', ''),
    post('/api/render/setup', bob, 'x'.repeat(70_000)).toString('latin1').replace('Connection: close\r\n', ''),
    get('/api/session', bob),
    post('/api/render/setup', alice, 'hello', 'text/plain').toString('latin1').replace('Connection: close\r\n', ''),
    get('/api/session', alice), get('/api/session', bob, 'Connection: close\r\n'),
  ];
  const answer = await raw(seq.join(''), 8000);
  t.deepEqual(statuses(answer), [200, 200, 401, 400, 413, 200, 415, 200, 200]);
  const logins = [...answer.matchAll(/"login":"(\w+)"/g)].map((m) => m[1]);
  t.deepEqual(logins, ['alice', 'bob', 'bob', 'alice', 'bob']);
});

test.serial('1000 pipelined requests on one keep-alive connection are all answered, as their sender', async (t) => {
  const answer = await raw(get('/api/session', bob).repeat(999) + get('/api/session', bob, 'Connection: close\r\n'), 30_000);
  const got = statuses(answer);
  t.is(got.length, 1000);
  t.true(got.every((s) => s === 200));
  t.false(answer.includes('"login":"alice"'));
});

test.serial('HEAD on the live stream does not keep a stream slot: afterwards GET /api/events still opens', async (t) => {
  for (let i = 0; i < 12; i++) t.is(statusOf(await raw(get('/api/events', alice, 'Connection: close\r\n').replace('GET', 'HEAD'), 2000)), 200);
  const answer = await raw(get('/api/events', alice), 1500);
  t.is(statusOf(answer), 200);
  t.regex(answer, /event: stream/);
});

test.serial('afterwards the process is healthy and logged no unhandled error', async (t) => {
  t.is(statusOf(await raw('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')), 200);
  t.is(statusOf(await raw('GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')), 200);
  t.deepEqual(stack.logs.filter((l) => l.includes('unhandled error')), []);
  t.is((await alice.get('/api/session')).status, 200);
});
