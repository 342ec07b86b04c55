import test from 'ava';
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import type { Stack } from '../helpers/stack.js';
import { useAttackStack } from '../helpers/attackStack.js';
import {
  addPrivateRepo, plantFinding, plantSettings,
  contractViolation, encodeIds, fillPath, hostileJsonText, hostileQuery, hostileSegment,
  malformedJson, oversizedJson, send, serviceWithLiveDeploy, snapshot, tenantWithKey, unhandledErrors,
  invalidBody, FOREIGN_CONTENT_TYPES, ODD_CONTENT_TYPES, type AttackRequest, type RawResponse, type RouteSpec, type Tenant, type TenantIds,
} from '../helpers/attack.js';
import { assertNoSecrets, type SecretWitness } from '../helpers/secretScan.js';

// Property tests over every route the app mounts (discovered from its router): hostile path params,
// query strings, JSON bodies, malformed / oversized / mis-typed bodies. For all of them: never a 5xx,
// a JSON {error:{code,message}} for every 4xx under /api, the process stays up and logs no unhandled
// error, no prototype is polluted, and nothing changes — neither the caller's state nor a victim's.

const RUNS = 30;
// Failures show the broken contract (our thrown message), not only the counterexample.
fc.configureGlobal({ includeErrorInReport: true });
const HUGE = { points: 1_000_000, durationSec: 600 };

// What useAttackStack hands over (below).
let stack: Stack, witness: SecretWitness, specs: RouteSpec[], discoveredUnknown: string[];
let me: Tenant;
let victim: Tenant;
let myIds: TenantIds;
let victimIds: TenantIds;
let baseline: Awaited<ReturnType<typeof snapshot>>;
const transcript: string[] = [];
const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();

useAttackStack(test, {
  appOptions: {
    // Only the limits are lifted (a fuzz run is a burst by design); every check they guard stays.
    security: { limits: { keySetup: HUGE, keySetupPerUser: HUGE, keyClear: HUGE, signOut: HUGE, deploys: HUGE, lifecycle: HUGE, serviceSettings: HUGE, serviceLookups: HUGE, githubReads: HUGE, detect: HUGE, invalidKeys: { maxInvalid: 1_000_000, windowSec: 900, lockSec: 900 } } },
  },
  renderOptions: { rateLimits: { read: { limit: 100_000 }, write: { limit: 100_000 }, createService: { limit: 10_000 } } },
}, async (s) => {
  ({ stack, witness, specs, unknownRoutes: discoveredUnknown } = s);

  me = await tenantWithKey(stack, 'fuzz-me');
  victim = await tenantWithKey(stack, 'fuzz-victim');
  addPrivateRepo(stack, me.login, 'mine');
  addPrivateRepo(stack, victim.login, 'theirs');
  const [mySvc, theirSvc] = await Promise.all([serviceWithLiveDeploy(me, 'fuzz-me-web'), serviceWithLiveDeploy(victim, 'fuzz-victim-web')]);
  // Deployment records (no worker runs here, so they stay queued and unchanged).
  const myDep = await me.agent.post('/api/render/deploy', { github_repo: `${me.login}/mine`, project_name: 'mine', env_vars: { FUZZ_SECRET: 'fuzz-env-value-0123456789' } });
  const theirDep = await victim.agent.post('/api/render/deploy', { github_repo: `${victim.login}/theirs`, project_name: 'theirs', env_vars: { VICTIM_SECRET: 'victim-env-value-987654321' } });
  if (myDep.status !== 202 || theirDep.status !== 202) throw new Error(`deploy setup: ${myDep.status} ${theirDep.status}`);
  const [myFinding, theirFinding] = [await plantFinding(stack, me.userId, mySvc.serviceId), await plantFinding(stack, victim.userId, theirSvc.serviceId)];
  const [mySettings, theirSettings] = [await plantSettings(me, mySvc.serviceId), await plantSettings(victim, theirSvc.serviceId)];
  myIds = { deploymentId: myDep.json.id, ...mySvc, repoOwner: me.login, repoName: 'mine', ownerId: me.ownerId, apiKey: me.apiKey, findingId: myFinding, ...mySettings };
  victimIds = { deploymentId: theirDep.json.id, ...theirSvc, repoOwner: victim.login, repoName: 'theirs', ownerId: victim.ownerId, apiKey: victim.apiKey, findingId: theirFinding, ...theirSettings };
  baseline = await snapshot(stack, [me, victim]);
});

const foreignIds = () => [victimIds.findingId, victimIds.deploymentId, victimIds.serviceId, victimIds.deployId, victimIds.ownerId, victimIds.repoOwner, victimIds.repoName, victimIds.customDomainId];
/** The victim's identifiers: none may appear in anything the attacker gets back. */
const victimMarkers = () => [victimIds.findingId, victimIds.deploymentId, victimIds.serviceId, victimIds.deployId, victimIds.ownerId, 'fuzz-victim-web', `${victim.login}/theirs`, victimIds.customDomainId];

/**
 * Sends as `me` and throws (so fast-check reports and shrinks) when the answer breaks the contract.
 * `echoesInput`: the route's answer repeats what was sent by design (RouteSpec.echoesQuery).
 */
async function probe(req: AttackRequest, extra?: (res: RawResponse) => string | null, echoesInput = false): Promise<RawResponse> {
  const res = await send(stack.url, me, req, transcript);
  const problem = contractViolation(req.path, res) ?? extra?.(res) ?? null;
  // A refusal may repeat what the attacker sent ("no render.yaml on <branch>", with a victim's id as the
  // branch), and so does a route whose answer echoes its input (name-check: {name, available} for
  // name=<a victim's id>): that is the attacker's own input, not the victim's data. Anything else is a leak.
  const echoed = (m: string) => ((res.status >= 400 && res.status < 500) || echoesInput) && (req.path.includes(m) || String(req.body ?? '').includes(m) || JSON.stringify(req.json ?? null).includes(m));
  const leaked = victimMarkers().find((m) => (res.text.includes(m) || JSON.stringify(res.headers).includes(m)) && !echoed(m));
  if (problem || leaked) throw new Error(`${req.method} ${req.path.slice(0, 200)} → ${problem ?? `victim data in the answer (${leaked})`}`);
  return res;
}

const refused = (res: RawResponse) => (res.status >= 400 && res.status < 500 ? null : `expected a 4xx refusal, got ${res.status}: ${res.text.slice(0, 200)}`);

async function unchanged(t: import('ava').ExecutionContext) {
  t.deepEqual(await snapshot(stack, [me, victim]), baseline, 'the caller\'s and the victim\'s state are exactly as before');
}

test.serial('every route the app mounts is in the attack catalogue', (t) => {
  t.deepEqual(discoveredUnknown, [], 'new routes: add them to ROUTE_CATALOG in test/helpers/attackRoutes.ts with their params and body');
  t.true(specs.length >= 25, `discovered ${specs.length} routes`);
});

test.serial('hostile path params on every route with params: refused cleanly, never someone else\'s data', async (t) => {
  const withParams = specs.filter((s) => s.params && !s.stream);
  t.true(withParams.length >= 8);
  for (const spec of withParams) {
    const names = Object.keys(spec.params!);
    await fc.assert(fc.asyncProperty(fc.tuple(...names.map(() => hostileSegment(foreignIds()))), async (values) => {
      const byKind = { ...encodeIds(myIds) };
      names.forEach((n, i) => { byKind[spec.params![n]!] = values[i]!; });
      const path = fillPath(spec, byKind);
      const body = spec.validBody?.(myIds);
      const res = await probe({ method: spec.method, path, ...(body === undefined ? {} : { json: body }) }, (r) => {
        if (spec.access === 'user' && r.status < 400) return `a hostile id was accepted (${r.status})`;
        if (spec.params!.path === 'assetPath' && /render-orchestrator|SECRET_KEY|"dependencies"/.test(r.text)) return 'a file outside web/assets was served';
        return null;
      });
      return res.status < 500;
    }), { numRuns: RUNS });
  }
  await unchanged(t);
});

test.serial('hostile query strings on every GET route (including the OAuth endpoints)', async (t) => {
  const gets = specs.filter((s) => s.method === 'GET');
  for (const spec of gets) {
    const path = fillPath(spec, encodeIds(myIds));
    await fc.assert(fc.asyncProperty(hostileQuery(spec.query ?? [], foreignIds()), async (qs) => {
      await probe({ method: 'GET', path: `${path}?${qs}`, stream: spec.stream }, (res) => {
        if (spec.path === '/api/auth/github/login') {
          // The prober is signed in: whatever the query says, the session is left alone and the
          // browser goes back to the app (issue 11 part 2: a cross-site GET must not end a session).
          if (res.status !== 302 || res.headers.location !== '/') return `login start while signed in answered ${res.status} → ${res.headers.location}`;
        }
        if (spec.path === '/api/auth/github/callback') {
          const loc = res.headers.location;
          if (res.status !== 302 || (loc !== '/?auth_error=github_login_failed' && loc !== '/?auth_error=access_denied')) return `callback answered ${res.status} → ${loc}`;
        }
        return null;
      }, spec.echoesQuery);
    }), { numRuns: spec.stream ? 5 : 20 });
  }
  await unchanged(t);
});

test.serial('other HTTP methods on every route path: a JSON 405 under /api, never a 5xx, nothing changed', async (t) => {
  // Methods Node's parser knows (it answers anything else itself, before the app sees it).
  const methods = fc.constantFrom('PUT', 'PATCH', 'PROPFIND', 'TRACE', 'OPTIONS', 'SEARCH', 'LINK', 'UNLINK', 'PURGE', 'MKCOL', 'LOCK', 'REPORT', 'COPY', 'MOVE', 'DELETE', 'POST', 'GET');
  await fc.assert(fc.asyncProperty(fc.constantFrom(...specs.filter((s) => !s.stream)), methods, async (spec, method) => {
    // A path may serve several methods (GET and PUT /api/sentinel): those are routes of their own.
    if (method === spec.method || specs.some((s) => s.path === spec.path && s.method === method)) return;
    const path = fillPath(spec, encodeIds(myIds));
    await probe({ method, path, json: method === 'GET' ? undefined : {} }, (res) =>
      (res.status < 400 && method !== 'OPTIONS' && !(spec.method === 'GET' && method === 'GET') && spec.access === 'user' ? `${method} was served (${res.status})` : null));
  }), { numRuns: 120 });
  await unchanged(t);
});

test.serial('hostile headers: Idempotency-Key, X-Request-Id and cookies are refused or ignored, never echoed or crashing', async (t) => {
  // Header values Node will send: visible Latin-1 without the characters an Idempotency-Key may hold.
  const headerChar = fc.integer({ min: 0x21, max: 0xff }).filter((c) => c !== 0x7f && !/[A-Za-z0-9._:-]/.test(String.fromCharCode(c))).map((c) => String.fromCharCode(c));
  const badIdem = fc.oneof(
    fc.tuple(fc.stringMatching(/^[A-Za-z0-9._:-]{0,20}$/), headerChar, fc.stringMatching(/^[A-Za-z0-9._:-]{0,20}$/)).map(([x, c, y]) => `${x}${c}${y}`),
    fc.integer({ min: 256, max: 4_000 }).map((n) => 'k'.repeat(n)),
  );
  const deploy = { github_repo: `${me.login}/mine`, project_name: 'idem-fuzz' };
  await fc.assert(fc.asyncProperty(badIdem, async (key) => {
    const res = await probe({ method: 'POST', path: '/api/render/deploy', json: deploy, headers: { 'idempotency-key': key } }, refused);
    if (res.json.error.code !== 'validation_failed') throw new Error(`Idempotency-Key ${JSON.stringify(key.slice(0, 40))}: ${res.text}`);
  }), { numRuns: RUNS });

  const requestIds = fc.oneof(fc.string({ unit: headerChar, minLength: 1, maxLength: 30 }), fc.integer({ min: 65, max: 5_000 }).map((n) => 'r'.repeat(n)), fc.constantFrom('a b', '../x', '"}', 'id\\u000a'));
  await fc.assert(fc.asyncProperty(requestIds, async (rid) => {
    const res = await probe({ method: 'GET', path: '/api/session', headers: { 'x-request-id': rid } });
    if (res.headers['x-request-id'] === rid.trim()) throw new Error(`hostile X-Request-Id adopted: ${rid.slice(0, 40)}`);
  }), { numRuns: RUNS });

  // Extra, malformed or oversized cookies next to the real session cookie.
  const cookieJunk = fc.oneof(
    fc.constantFrom('sid=', 'sid.sig=', 'sid.sig=AAAA', '=', ';;;', 'a', '__proto__=1', 'constructor=1', 'sid=%', 'sid=%zz', `x=${'y'.repeat(6_000)}`),
    fc.string({ unit: fc.constantFrom(...'abc=;%_-. '), maxLength: 60 }),
  );
  // Together under Node's 16 KiB header limit (a longer header block is Node's own 431, before the app: below).
  const junkCookies = fc.array(cookieJunk, { maxLength: 5 }).filter((junk) => junk.join('; ').length <= 12_000);
  await fc.assert(fc.asyncProperty(junkCookies, async (junk) => {
    const cookie = [me.agent.cookieHeader(), ...junk].join('; ');
    const res = await probe({ method: 'GET', path: '/api/session', headers: { cookie } });
    if (res.status !== 200 && res.status !== 401) throw new Error(`cookies ${JSON.stringify(junk).slice(0, 80)}: ${res.status}`);
  }), { numRuns: RUNS });
  // Past the limit Node's parser answers 431 itself and closes the connection; the process serves on.
  // (Not through send(): a 431 is no answer of the app's, so not in its API document.)
  const tooLong = await fetch(`${stack.url}/api/session`, { headers: { cookie: [me.agent.cookieHeader(), ...Array.from({ length: 3 }, (_, i) => `x${i}=${'y'.repeat(6_000)}`)].join('; ') } });
  t.is(tooLong.status, 431);
  t.is((await send(stack.url, me, { method: 'GET', path: '/api/session' }, transcript)).status, 200);
  await unchanged(t);
});

/**
 * Hostile JSON text for a route; for one whose body fields are all optional, without the texts that are a
 * valid request there ({}, or only a string _csrf: a plain redeploy).
 */
function hostileFor(spec: RouteSpec): fc.Arbitrary<string> {
  if (!spec.emptyBodyValid) return hostileJsonText();
  return hostileJsonText().filter((text) => {
    let v: unknown;
    try { v = JSON.parse(text); } catch { return true; }
    if (!v || typeof v !== 'object' || Array.isArray(v)) return true;
    return !Object.entries(v).every(([k, x]) => k === '_csrf' && typeof x === 'string');
  });
}

test.serial('hostile JSON bodies on every body-reading route: refused with a 4xx, nothing accepted', async (t) => {
  const readers = specs.filter((s) => s.body === 'read');
  t.true(readers.length >= 3);
  for (const spec of readers) {
    const path = fillPath(spec, encodeIds(myIds));
    await fc.assert(fc.asyncProperty(fc.oneof(invalidBody(spec, myIds, victimIds), hostileFor(spec)), async (body) => {
      await probe({ method: spec.method, path, body, headers: { 'content-type': 'application/json' } }, refused);
    }), { numRuns: 50 });
  }
  await unchanged(t);
});

test.serial('a secret pasted where a field name goes is not echoed back in the validation error', async (t) => {
  const token = stack.github.tokensFor(me.login)[0]!;
  const deploy = { github_repo: `${me.login}/mine`, project_name: 'echo' };
  const cases: Array<{ path: string; body: string; type: string }> = [
    { path: '/api/render/setup', type: 'application/json', body: `{"api_key":"x",${JSON.stringify(me.apiKey)}:1}` },
    { path: '/api/render/setup', type: 'application/x-www-form-urlencoded', body: `{"api_key":"${me.apiKey}"}` },
    { path: '/api/render/deploy', type: 'application/json', body: JSON.stringify({ ...deploy, env_vars: { [`${token}-x`]: 'v' } }) },
    { path: '/api/render/deploy', type: 'application/json', body: JSON.stringify({ ...deploy, [token]: true }) },
    { path: `/api/render/services/${myIds.serviceId}/rollback`, type: 'application/json', body: JSON.stringify({ deploy_id: 'x', [me.apiKey]: 1 }) },
  ];
  for (const c of cases) {
    const res = await probe({ method: 'POST', path: c.path, body: c.body, headers: { 'content-type': c.type } }, refused);
    t.is(res.json.error.code, 'validation_failed', c.body);
    t.false(res.text.includes(me.apiKey) || res.text.includes(token), `echoed: ${res.json.error.message}`);
  }
  await unchanged(t);
});

interface BadBody { body: string | Buffer; headers: Record<string, string>; expect: number[] }

test.serial('malformed, oversized, gzip-bombed and badly encoded bodies on every state-changing route: 400/413/415 before any handler', async (t) => {
  // DELETE bodies are never read (the parser takes POST, PUT and PATCH), so a DELETE has nothing to refuse here.
  const writers = specs.filter((s) => s.method !== 'GET' && s.method !== 'DELETE');
  t.true(writers.length >= 9);
  const bomb = gzipSync(Buffer.from(`{"pad":"${'0'.repeat(8_000_000)}"}`));
  const json = { 'content-type': 'application/json' };
  const bad = (body: string | Buffer, headers: Record<string, string>, expect: number[]): BadBody => ({ body, headers, expect });
  const bodies = fc.oneof(
    malformedJson().map((b) => bad(b, json, [400])),
    oversizedJson().map((b) => bad(b, json, [413])),
    oversizedJson().map((b) => bad(`a=${b}`, { 'content-type': 'application/x-www-form-urlencoded' }, [413])),
    fc.constant(bad(bomb, { ...json, 'content-encoding': 'gzip' }, [413])),
    fc.constantFrom('gzip', 'deflate', 'br').map((enc) => bad('not compressed at all', { ...json, 'content-encoding': enc }, [400, 415])),
    fc.constantFrom('x-evil', 'compress', 'gzip, x-evil').map((enc) => bad('{}', { ...json, 'content-encoding': enc }, [415])),
  );
  for (const spec of writers) {
    const path = fillPath(spec, encodeIds(myIds));
    await fc.assert(fc.asyncProperty(bodies, async ({ body, headers, expect }) => {
      await probe({ method: spec.method, path, body, headers }, (res) => (expect.includes(res.status) ? null : `expected ${expect.join('/')}, got ${res.status} ${res.text.slice(0, 200)}`));
    }), { numRuns: RUNS });
  }
  // The boundary: a body of exactly the limit is parsed (and then judged on its content), one byte more is not.
  const exact = oversizedJson(64 * 1024 - 1).filter((b) => Buffer.byteLength(b) === 64 * 1024);
  const atLimit = fc.sample(exact, 1)[0]!;
  const deploy = specs.find((s) => s.path === '/api/render/deploy')!;
  const res = await probe({ method: 'POST', path: deploy.path, body: atLimit, headers: { 'content-type': 'application/json' } });
  t.is(res.status, 400, 'exactly 64 KB is read, then refused for its content');
  t.is(res.json.error.code, 'validation_failed');
  await unchanged(t);
});

test.serial('foreign content types on every body-reading route: even a valid body is not taken from them', async (t) => {
  for (const spec of specs.filter((s) => s.body === 'read')) {
    const path = fillPath(spec, encodeIds(myIds));
    const valid = JSON.stringify(spec.validBody!(myIds));
    const multipart = `--xyz\r\nContent-Disposition: form-data; name="payload"\r\n\r\n${valid}\r\n--xyz--\r\n`;
    await fc.assert(fc.asyncProperty(fc.constantFrom(...FOREIGN_CONTENT_TYPES), fc.oneof(fc.constant(valid), fc.constant(multipart), hostileJsonText()), async (type, body) => {
      await probe({ method: spec.method, path, body, headers: { 'content-type': type } }, refused);
    }), { numRuns: RUNS });
  }
  await unchanged(t);
});

test.serial('odd JSON and form content types (charsets, suffixes, lists) with invalid bodies: refused with a 4xx', async (t) => {
  for (const spec of specs.filter((s) => s.body === 'read')) {
    const path = fillPath(spec, encodeIds(myIds));
    await fc.assert(fc.asyncProperty(fc.constantFrom(...ODD_CONTENT_TYPES), fc.oneof(invalidBody(spec, myIds, victimIds), hostileFor(spec), malformedJson()), async (type, body) => {
      await probe({ method: spec.method, path, body, headers: { 'content-type': type } }, refused);
    }), { numRuns: RUNS });
  }
  await unchanged(t);
});

test.serial('afterwards: the process answers, logged no unhandled error, no prototype was polluted, no secret leaked', async (t) => {
  t.is((await send(stack.url, null, { method: 'GET', path: '/healthz' })).status, 200);
  t.is((await send(stack.url, null, { method: 'GET', path: '/readyz' })).status, 200);
  t.deepEqual(unhandledErrors(stack.logs).map((l) => l.slice(0, 300)), []);
  t.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), protoKeys);
  const probeObject: Record<string, unknown> = {};
  t.is(probeObject.polluted, undefined);
  t.is(probeObject.isAdmin, undefined);
  t.true(transcript.length > 1_000, `${transcript.length} attack requests were made`);
  const byStatus: Record<string, number> = {};
  for (const line of transcript) { const status = / -> (\d+)\n/.exec(line)?.[1] ?? '?'; byStatus[status] = (byStatus[status] ?? 0) + 1; }
  t.log(`${transcript.length} attack requests; answers by status: ${JSON.stringify(byStatus)}`);
  await unchanged(t);
  await assertNoSecrets(t, {
    stack, agents: witness.agents, transcripts: [transcript],
    secrets: [...witness.secrets(), 'fuzz-env-value-0123456789', 'victim-env-value-987654321'],
  });
});
