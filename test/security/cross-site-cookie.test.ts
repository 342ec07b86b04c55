import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { addNodeRepo } from '../helpers/pipeline.js';
import type { AuditEntry } from '../../server/audit/types.js';

// A page on another site can open a link to the API in a visitor's browser (a top-level navigation, a
// popup): the SameSite=Lax cookie goes along. The answer shows in the visitor's own tab (the other site
// cannot read it), but the request counted as the visitor's: someone else's deployment id got them
// reported as a cross-tenant prober (global audit chain, Slack), and a few loads spent their per-user
// limits. Such a request is refused (403 origin_rejected) before the session is read
// (server/middleware/security.ts crossSiteCookieUse). Found by an adversarial review.

let stack: Stack;
test.before(async () => {
  stack = await startStack({ env: { TRUST_PROXY: 'true' }, appOptions: { security: { limits: { detect: { points: 3, durationSec: 600 } } } } });
});
test.after.always(async () => { await stack?.close(); });

const OPENED_ELSEWHERE = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };
const FROM_OUR_PAGE = { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' };

async function globalEntries(): Promise<AuditEntry[]> {
  const key = stack.web.deps.audit.keys('global').entries;
  return (await stack.web.deps.redis.lrange(key, 0, -1)).map((x) => JSON.parse(x) as AuditEntry);
}

test.serial('a link on another site to someone else\'s deployment is refused, and its visitor is not reported as a prober', async (t) => {
  const attacker = stack.agent({ 'x-forwarded-for': '198.51.100.61' });
  await stack.signIn(attacker, 'framer');
  const key = `rnd_framer${'f'.repeat(24)}`;
  stack.render.addAccount({ apiKey: key });
  t.is((await attacker.post('/api/render/setup', { api_key: key })).status, 200);
  addNodeRepo(stack, 'framer', 'bait');
  const dep = await attacker.post('/api/render/deploy', { github_repo: 'framer/bait', project_name: 'bait' });
  t.is(dep.status, 202, dep.text);

  const victim = stack.agent({ 'x-forwarded-for': '198.51.100.62' });
  await stack.signIn(victim, 'framed-victim');
  const victimId = (await victim.get('/api/session')).json.user.id as number;
  for (const headers of [OPENED_ELSEWHERE, { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }]) {
    const res = await victim.get(`/api/render/deployments/${dep.json.id}`, { headers });
    t.is(res.status, 403, res.text);
    t.is(res.json.error.code, 'origin_rejected');
  }
  // The same id asked from the app itself is the usual 404, and is recorded as a probe.
  t.is((await victim.get(`/api/render/deployments/${dep.json.id}`, { headers: FROM_OUR_PAGE })).status, 404);
  const probes = (await globalEntries()).filter((e) => e.userId === victimId && e.detail.securityEvent === 'cross_tenant_probe');
  t.is(probes.length, 1, 'only the request from the app itself');
});

test.serial('page loads opened by another site do not use up the user\'s own per-user allowance', async (t) => {
  const victim = stack.agent({ 'x-forwarded-for': '198.51.100.71' });
  await stack.signIn(victim, 'limit-victim');
  addNodeRepo(stack, 'limit-victim', 'app');
  const path = '/api/github/repos/limit-victim/app/detect';
  for (let i = 0; i < 4; i++) t.is((await victim.get(path, { headers: OPENED_ELSEWHERE })).status, 403);
  const own = await victim.get(path, { headers: FROM_OUR_PAGE });
  t.is(own.status, 200, own.text);
});

test.serial('what passes: the app\'s own pages, a typed address, clients without Fetch Metadata, no session cookie, and sign-in', async (t) => {
  const user = stack.agent({ 'x-forwarded-for': '198.51.100.81' });
  await stack.signIn(user, 'passer');
  for (const headers of [FROM_OUR_PAGE, { 'sec-fetch-site': 'none', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }, {}]) {
    const res = await user.get('/api/session', { headers });
    t.is(res.status, 200, JSON.stringify(headers));
    t.is(res.json.user.login, 'passer');
  }
  // Nothing of a user's is asked without the cookie: a link to the API's description from another site opens.
  const anonymous = stack.agent({ 'x-forwarded-for': '198.51.100.82' });
  t.is((await anonymous.get('/api/openapi.json', { headers: OPENED_ELSEWHERE })).status, 200);
  // Sign-in's start and GitHub's return are other sites' navigations by design.
  const start = await user.get('/api/auth/github/login', { headers: OPENED_ELSEWHERE });
  t.is(start.status, 302, start.text);
});
