import test from 'ava';
import { request } from 'node:http';
import { startStack, type Stack } from '../helpers/stack.js';

// Node keeps only the first of two Authorization headers (IncomingMessage.headers), silently: a request
// with `Bearer <A>` and `Bearer <B>` ran as A, and one with `Basic …` then `Bearer <token>` next to a
// session cookie ran on the cookie, past the cookie-and-token refusal. Which credential was meant is
// ambiguous, so such a request is refused before any credential is read, like a cookie with a token.

let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

/** A raw request: node:http sends a flat header array as it is, repeated names included. */
function raw(path: string, headers: string[]): Promise<{ status: number; json: any; setCookie: string[] }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, stack.url);
    // A flat array is sent as given: Node adds no Host of its own.
    const req = request(url, { method: 'GET', headers: ['Host', url.host, ...headers] }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : null, setCookie: res.headers['set-cookie'] ?? [] }));
    });
    req.on('error', reject);
    req.end();
  });
}

const userChecks = () => stack.github.calls.filter((c) => c.path === '/api/v3/user').length;

test.serial('two Authorization headers are a 400, read no credential and change nothing', async (t) => {
  stack.github.addUser({ id: 9101, login: 'first' });
  stack.github.addUser({ id: 9102, login: 'second' });
  const a = stack.github.issueToken('first');
  const b = stack.github.issueToken('second');
  const single = await raw('/api/session', ['Authorization', `Bearer ${a}`]);
  t.is(single.status, 200, 'one header is read as before');
  const checks = userChecks();
  for (const headers of [
    ['Authorization', `Bearer ${b}`, 'Authorization', `Bearer ${a}`],
    ['authorization', 'Basic Zm9vOmJhcg==', 'Authorization', `Bearer ${b}`],
  ]) {
    const res = await raw('/api/session', headers);
    t.is(res.status, 400, JSON.stringify(res.json));
    t.is(res.json.error.code, 'bad_request');
    t.is(res.json.error.message, 'Send one Authorization header, not several.');
    t.deepEqual(res.setCookie, []);
    t.false(JSON.stringify(res.json).includes(a) || JSON.stringify(res.json).includes(b));
  }
  t.is(userChecks(), checks, 'no token was checked with GitHub');
});

test.serial('a session cookie with two Authorization headers (Basic first, hiding the Bearer) is a 400, the session untouched', async (t) => {
  const browser = stack.agent();
  await stack.signIn(browser, 'cookied');
  const token = stack.github.issueToken('cookied');
  // The browser's own user agent (fetch's), so the cookie is taken as the browser's (server/security/fingerprint.ts).
  const res = await raw('/api/session', ['User-Agent', 'node', 'Cookie', browser.cookieHeader(), 'Authorization', 'Basic Zm9vOmJhcg==', 'Authorization', `Bearer ${token}`]);
  t.is(res.status, 400, JSON.stringify(res.json));
  t.is(res.json.error.code, 'bad_request');
  t.deepEqual(res.setCookie, []);
  t.is((await browser.get('/api/session')).status, 200, 'the browser session is untouched');
});

// Node joins repeated X-Render-Api-Key headers into one value ("k1, k2"), which the key's schema then
// refused as "incomplete or has characters a Render key does not have": a script sending its key twice
// (a default header plus its own) was told to copy the key again from Render.
test.serial('two X-Render-Api-Key headers are a 400 that says so, checking no key with Render', async (t) => {
  stack.github.addUser({ id: 9103, login: 'twokeys' });
  const token = stack.github.issueToken('twokeys');
  const apiKey = `rnd_twokeys${'k'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: 'twokeys ws' }] });
  const single = await raw('/api/session', ['Authorization', `Bearer ${token}`, 'X-Render-Api-Key', apiKey]);
  t.is(single.status, 200, 'one header is read as before');
  const keyChecks = stack.render.calls.length;
  for (const headers of [['X-Render-Api-Key', apiKey, 'x-render-api-key', apiKey], ['X-Render-Api-Key', apiKey, 'X-Render-Api-Key', `rnd_other${'o'.repeat(24)}`]]) {
    const res = await raw('/api/session', ['Authorization', `Bearer ${token}`, ...headers]);
    t.is(res.status, 400, JSON.stringify(res.json));
    t.is(res.json.error.code, 'bad_request');
    t.is(res.json.error.message, 'Send one X-Render-Api-Key header, not several.');
    t.false(JSON.stringify(res.json).includes(apiKey));
  }
  t.is(stack.render.calls.length, keyChecks, 'no key was sent to Render');
});
