import test from 'ava';
import { manualClock } from '../../server/clock.js';
import type { Stack } from '../helpers/stack.js';
import { useAttackStack } from '../helpers/attackStack.js';
import {
  ATTACK_UA, contractViolation, requestFor, send, tenantWithKey, withResources,
  type Caller, type RouteSpec, type TenantIds,
} from '../helpers/attack.js';
import { assertNoSecrets, type SecretWitness } from '../helpers/secretScan.js';

// Expired sessions on every route that needs one (discovered from the router), with the app's clock
// moved by hand: idle expiry and absolute expiry. Each route gets its own expired session, so every
// route is shown to check expiry itself rather than meeting a record an earlier request destroyed.

const clock = manualClock(Date.now());
const ROOMY = { points: 10_000, durationSec: 600 };

// What useAttackStack hands over (below).
let stack: Stack, witness: SecretWitness, specs: RouteSpec[], unknownRoutes: string[];
let ids: TenantIds;
const transcript: string[] = [];

useAttackStack(test, {
  clock,
  env: { SESSION_IDLE_MINUTES: '30', SESSION_ABSOLUTE_HOURS: '2' },
  appOptions: { security: { limits: { signInStart: ROOMY, signInCallback: ROOMY, keySetup: ROOMY } } },
}, async (s) => {
  ({ stack, witness, specs, unknownRoutes } = s);
  ids = await withResources(stack, await tenantWithKey(stack, 'expiring'));
});

const userRoutes = () => specs.filter((s) => s.access === 'user');

/** One fresh session of the same user per user route (sessions of one user live side by side). */
async function sessionPerRoute(): Promise<Map<RouteSpec, Caller>> {
  const out = new Map<RouteSpec, Caller>();
  for (const spec of userRoutes()) {
    const agent = stack.agent({ 'user-agent': ATTACK_UA });
    await stack.signIn(agent, 'expiring');
    out.set(spec, { agent });
  }
  return out;
}

async function expectAllSignedOut(t: import('ava').ExecutionContext, sessions: Map<RouteSpec, Caller>, when: string) {
  for (const [spec, who] of sessions) {
    const res = await send(stack.url, who, { ...requestFor(spec, ids), headers: { origin: stack.config.origin } }, transcript);
    t.is(contractViolation(spec.path, res), null);
    t.is(res.status, 401, `${spec.method} ${spec.path} ${when}: ${res.status} ${res.text.slice(0, 200)}`);
    t.is(res.json?.error?.code, 'unauthenticated');
  }
  const keys = await stack.redis.client.keys(`${stack.redis.prefix}:sess:*`);
  t.true(keys.length <= 1, `expired records are destroyed server-side (${keys.length} left)`);
}

test.serial('every route the app mounts is in the attack catalogue', (t) => {
  t.deepEqual(unknownRoutes, []);
  t.true(userRoutes().length >= 20);
});

test.serial('idle expiry: after 30 idle minutes every route answers 401', async (t) => {
  const sessions = await sessionPerRoute();
  // Alive just before the limit (read-only routes only: the others would change what is being tested).
  clock.advance(29 * 60_000);
  for (const [spec, who] of sessions) {
    if (spec.method !== 'GET') continue;
    const res = await send(stack.url, who, requestFor(spec, ids), transcript);
    t.not(res.status, 401, `${spec.path} still signed in after 29 minutes`);
  }
  clock.advance(30 * 60_000 + 1);
  await expectAllSignedOut(t, sessions, 'after 30 idle minutes');
});

test.serial('absolute expiry: sessions kept busy still end after 2 hours, on every route', async (t) => {
  const sessions = await sessionPerRoute();
  for (let i = 0; i < 8; i++) {
    clock.advance(15 * 60_000 - 1);
    for (const who of sessions.values()) t.is((await who.agent.get('/api/session')).status, 200);
  }
  clock.advance(60_000);
  await expectAllSignedOut(t, sessions, 'after 2 hours');
});

test.serial('afterwards: no secret anywhere', async (t) => {
  await assertNoSecrets(t, { stack, agents: witness.agents, transcripts: [transcript], secrets: witness.secrets() });
});
