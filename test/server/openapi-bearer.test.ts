import test from 'ava';
import type Router from '@koa/router';
import { startStack, type Stack } from '../helpers/stack.js';
import { discoverRoutes } from '../helpers/attack.js';
import { openApiPath } from '../../server/openapi/document.js';

// The document must name every status a route actually answers, not leave it to `default`. Bearer auth
// (server/bearer/middleware.ts) and the telemetry gate run before the router on every /api path and
// /mcp, public routes included, so their refusals can come from any of those routes: a bad token (401),
// a token with a session cookie or a malformed or unpaired X-Render-Api-Key (400), a locked-out key
// or a spent refused-token limit (429), GitHub down while the token is checked (503), a blocked account (429);
// and the body parser before them on every POST and PUT (413). Each is driven here on every
// such route, and the status it answered must be declared for it.

type Op = { responses: Record<string, unknown> };
let stack: Stack;
let router: Router;
let doc: { paths: Record<string, Record<string, Op>> };
test.before(async () => {
  stack = await startStack({
    env: { ANOMALY_DETECTION: 'true' },
    // Room for one GitHub check per route while GitHub is down (no longer counted against the sign-in limit:
    // server/security/tokenChecks.ts), before the refused-token limit is spent on purpose.
    appOptions: { onRouter: (r) => { router = r; }, security: { limits: { signInCallback: { points: 200, durationSec: 3600 } } } },
  });
  doc = (await (await fetch(`${stack.url}/api/openapi.json`)).json()) as typeof doc;
});
test.after.always(async () => { await stack?.close(); });

let nextId = 9400;
function token(login: string): string {
  stack.github.addUser({ id: nextId++, login });
  return stack.github.issueToken(login);
}

const covered = () => discoverRoutes(router).filter((r) => r.path.startsWith('/api/') || r.path === '/mcp');
const concrete = (path: string) => path.split('/').map((seg) => (seg.startsWith(':') || seg.startsWith('{*') ? 'x' : seg)).join('/');

/** Sends the request to every covered route; returns what was wrong (an unexpected answer, or a status the route does not declare). */
async function sweep(name: string, expected: { status: number; code: string }, headers: (i: number) => Record<string, string>, skip = (_r: { method: string; path: string }) => false, body = '{}'): Promise<string[]> {
  const problems: string[] = [];
  let i = 0;
  for (const r of covered()) {
    if (skip(r)) continue;
    const unsafe = r.method !== 'GET';
    const res = await fetch(`${stack.url}${concrete(r.path)}`, {
      method: r.method, redirect: 'manual',
      headers: { ...(unsafe ? { 'content-type': 'application/json' } : {}), ...headers(i++) },
      ...(unsafe ? { body } : {}),
    });
    const text = await res.text();
    let code: unknown;
    try { code = (JSON.parse(text) as { error?: { code?: string } }).error?.code; } catch { code = undefined; }
    const at = `${name}: ${r.method} ${r.path}`;
    if (res.status !== expected.status || code !== expected.code) problems.push(`${at} answered ${res.status} ${text.slice(0, 100)}`);
    else if (!doc.paths[openApiPath(r.path)]?.[r.method.toLowerCase()]?.responses[String(res.status)]) problems.push(`${at} answers ${res.status} ${expected.code}, not declared`);
  }
  return problems;
}

test.serial('every refusal that bearer auth or the telemetry gate makes on a route is a status that route declares', async (t) => {
  const good = token('doc-bearer');
  const bearer = { authorization: `Bearer ${good}` };
  t.is((await fetch(`${stack.url}/api/session`, { headers: bearer })).status, 200);
  const problems: string[] = [];
  problems.push(...await sweep('not a token', { status: 401, code: 'github_token_invalid' }, () => ({ authorization: 'Bearer not a token' })));
  problems.push(...await sweep('token and cookie', { status: 400, code: 'bearer_with_cookie' }, () => ({ ...bearer, cookie: 'sid=planted' })));
  problems.push(...await sweep('key without a token', { status: 400, code: 'bad_request' }, () => ({ 'x-render-api-key': `rnd_${'a'.repeat(30)}` })));
  problems.push(...await sweep('malformed key', { status: 400, code: 'validation_failed' }, () => ({ ...bearer, 'x-render-api-key': 'not a key' })));

  const rejected = `rnd_${'z'.repeat(30)}`;
  for (let i = 0; i < 5; i++) await fetch(`${stack.url}/api/session`, { headers: { ...bearer, 'x-render-api-key': rejected } });
  problems.push(...await sweep('locked-out key', { status: 429, code: 'locked_out' }, () => ({ ...bearer, 'x-render-api-key': rejected })));

  const fresh = covered().map((_, i) => token(`doc-fresh-${i}`));
  stack.github.injectFault({ path: '/user', status: 502, times: fresh.length });
  problems.push(...await sweep('GitHub down', { status: 503, code: 'github_unavailable' }, (i) => ({ authorization: `Bearer ${fresh[i]!}` })));

  for (let i = 0; i < 250 && (await fetch(`${stack.url}/api/meta`, { headers: { authorization: `Bearer gho_${'x'.repeat(30)}${i}` } })).status !== 429; i++);
  problems.push(...await sweep('refused-token limit spent', { status: 429, code: 'rate_limited' }, () => ({ authorization: `Bearer gho_${'y'.repeat(36)}` })));

  const userId = nextId - fresh.length - 1; // doc-bearer's id
  const now = Date.now();
  await stack.web.deps.telemetry.store.set(userId, { state: 'blocked', until: now + 30 * 60_000, since: now, strikes: 3, signal: 'requests', observed: 100, threshold: 40, login: 'doc-bearer' });
  await stack.web.deps.telemetry.guards.sync();
  // The gate leaves sign-in and sign-out alone (server/telemetry/middleware.ts).
  problems.push(...await sweep('account blocked', { status: 429, code: 'account_temporarily_blocked' }, () => bearer, (r) => r.path.startsWith('/api/auth/')));
  // The body parser runs before bearer auth too, on every POST and PUT (a DELETE's body is not read); /mcp
  // answers it as a JSON-RPC error of its own (test/bearer/mcp-protocol.test.ts), declared as its 413.
  problems.push(...await sweep('body too large', { status: 413, code: 'payload_too_large' }, () => ({}), (r) => r.method === 'GET' || r.method === 'DELETE' || r.path === '/mcp', JSON.stringify({ pad: 'x'.repeat(70 * 1024) })));
  t.deepEqual(problems, []);
});
