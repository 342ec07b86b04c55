import test from 'ava';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { systemClock } from '../../server/clock.js';
import { createAuditLog, verifyEntries, type AuditLog } from '../../server/audit/auditLog.js';
import { entryHash, GENESIS_HASH, canonicalJson } from '../../server/audit/canonical.js';
import { sanitizeDetail } from '../../server/audit/sanitize.js';
import type { AuditEntry } from '../../server/audit/types.js';
import { startStack, dumpRedis, type Stack } from '../helpers/stack.js';
import { addNodeRepo, signedInWithKey, startTestWorker, waitFinished } from '../helpers/pipeline.js';

let stack: Stack;
let audit: AuditLog;
test.before(async () => {
  stack = await startStack();
  audit = createAuditLog({ redis: stack.redis.client, prefix: stack.redis.prefix, clock: systemClock, keyring: stack.web.deps.keyring });
});
test.after.always(async () => { await stack?.close(); });

let nextUser = 50_000;
async function chainOf(n: number): Promise<number> {
  const userId = nextUser++;
  for (let i = 0; i < n; i++) await audit.append({ userId, action: 'lifecycle', outcome: 'success', detail: { lifecycleAction: 'redeploy', serviceId: `srv-${i}` } });
  return userId;
}
const entriesKey = (userId: number) => audit.keys({ userId }).entries;
const raw = async (userId: number) => (await stack.redis.client.lrange(entriesKey(userId), 0, -1)).map((r) => JSON.parse(r) as AuditEntry);

test('entries are chained: seq from 1, each prevHash is the previous hash, hash covers the canonical entry', async (t) => {
  const userId = await chainOf(4);
  const entries = await raw(userId);
  t.deepEqual(entries.map((e) => e.seq), [1, 2, 3, 4]);
  t.is(entries[0]!.prevHash, GENESIS_HASH);
  for (let i = 1; i < entries.length; i++) t.is(entries[i]!.prevHash, entries[i - 1]!.hash);
  for (const e of entries) t.is(e.hash, entryHash(e));
  t.deepEqual(await audit.verifyChain({ userId }), { valid: true, length: 4 });
  t.true((await audit.verifyChain('global')).valid);
});

test('canonical JSON does not depend on key order', (t) => {
  t.is(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } }), canonicalJson({ a: { d: [1, { y: 2, z: 1 }] }, b: 1 }));
});

test('listForUser: newest first, paginated with a cursor, no gaps or repeats', async (t) => {
  const userId = await chainOf(7);
  const seen: number[] = [];
  let cursor: string | null = null;
  do {
    const page = await audit.listForUser(userId, { limit: 3, cursor });
    seen.push(...page.entries.map((e) => e.seq));
    cursor = page.nextCursor;
  } while (cursor);
  t.deepEqual(seen, [7, 6, 5, 4, 3, 2, 1]);
});

test('concurrent appends from several processes never fork a chain', async (t) => {
  // Separate connections and separate audit instances: the same race as separate processes.
  const conns = Array.from({ length: 6 }, () => new Redis(stack.redis.url));
  try {
    const writers = conns.map((redis) => createAuditLog({ redis, prefix: stack.redis.prefix, clock: systemClock, keyring: stack.web.deps.keyring }));
    const userId = nextUser++;
    const other = nextUser++;
    await Promise.all(writers.flatMap((w, i) => Array.from({ length: 30 }, (_, j) =>
      w.append({ userId: j % 3 === 0 ? other : userId, action: 'deploy_requested', outcome: 'success', detail: { deploymentId: `dpl-${i}-${j}` } }))));
    const mine = await raw(userId);
    const theirs = await raw(other);
    t.is(mine.length + theirs.length, 180);
    t.deepEqual(mine.map((e) => e.seq), mine.map((_, i) => i + 1));
    t.true((await audit.verifyChain({ userId })).valid);
    t.true((await audit.verifyChain({ userId: other })).valid);
    const global = await audit.verifyChain('global');
    t.true(global.valid, JSON.stringify(global));
  } finally {
    for (const c of conns) c.disconnect();
  }
});

test('tampering is detected, with the seq where it happened', async (t) => {
  const redis = stack.redis.client;
  // Edited in place (the hash left as it was).
  const edited = await chainOf(5);
  const e3 = (await raw(edited))[2]!;
  await redis.lset(entriesKey(edited), 2, JSON.stringify({ ...e3, detail: { ...e3.detail, serviceId: 'srv-evil' } }));
  t.like(await audit.verifyChain({ userId: edited }), { valid: false, seq: 3, problem: 'edited' });

  // Edited and re-hashed: the next entry no longer links to it.
  const rehashed = await chainOf(5);
  const r2 = (await raw(rehashed))[1]!;
  const forged = { ...r2, outcome: 'failure' as const };
  await redis.lset(entriesKey(rehashed), 1, JSON.stringify({ ...forged, hash: entryHash(forged) }));
  t.like(await audit.verifyChain({ userId: rehashed }), { valid: false, seq: 3, problem: 'broken_link' });

  // Removed from the middle.
  const removed = await chainOf(5);
  await redis.lrem(entriesKey(removed), 1, JSON.stringify((await raw(removed))[1]));
  t.like(await audit.verifyChain({ userId: removed }), { valid: false, seq: 2, problem: 'missing' });

  // Removed from the end (the head still remembers).
  const truncated = await chainOf(5);
  await redis.rpop(entriesKey(truncated));
  t.like(await audit.verifyChain({ userId: truncated }), { valid: false, seq: 5, problem: 'truncated' });

  // Two entries swapped.
  const swapped = await chainOf(5);
  const s = await raw(swapped);
  await redis.lset(entriesKey(swapped), 1, JSON.stringify(s[2]));
  await redis.lset(entriesKey(swapped), 2, JSON.stringify(s[1]));
  t.like(await audit.verifyChain({ userId: swapped }), { valid: false, seq: 2, problem: 'reordered' });

  // An entry inserted, even a well-formed one that links to its predecessor.
  const inserted = await chainOf(5);
  const i = await raw(inserted);
  const fake = { ...i[1]!, seq: 3, prevHash: i[1]!.hash, detail: { lifecycleAction: 'delete', serviceId: 'srv-x' } };
  await redis.linsert(entriesKey(inserted), 'AFTER', JSON.stringify(i[1]), JSON.stringify({ ...fake, hash: entryHash(fake) }));
  t.like(await audit.verifyChain({ userId: inserted }), { valid: false, seq: 3, problem: 'inserted' });

  // Copied in from another user's chain.
  const foreign = await chainOf(2);
  const donor = await chainOf(3);
  await redis.rpush(entriesKey(foreign), JSON.stringify((await raw(donor))[2]));
  t.like(await audit.verifyChain({ userId: foreign }), { valid: false, seq: 3, problem: 'inserted' });
});

/** A valid chain in memory, for property tests of the verifier. */
function buildChain(n: number): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (let seq = 1; seq <= n; seq++) {
    const body = { chain: 'user:1', seq, at: new Date(seq * 1000).toISOString(), userId: 1, action: 'sign_in' as const, outcome: 'success' as const, detail: { login: `u${seq}` }, prevHash: out.at(-1)?.hash ?? GENESIS_HASH };
    out.push({ ...body, hash: entryHash(body) });
  }
  return out;
}

test('property: any single edit, removal or swap is reported at the first affected seq', (t) => {
  fc.assert(fc.property(fc.integer({ min: 2, max: 12 }), fc.nat(), fc.constantFrom('edit', 'remove', 'swap'), (n, pick, op) => {
    const chain = buildChain(n);
    const head = { seq: n, hash: chain.at(-1)!.hash };
    const k = pick % (op === 'swap' ? n - 1 : n);
    const tampered: AuditEntry[] = chain.map((e) => ({ ...e }));
    if (op === 'edit') tampered[k] = { ...tampered[k]!, detail: { login: 'mallory' } };
    if (op === 'remove') tampered.splice(k, 1);
    if (op === 'swap') [tampered[k], tampered[k + 1]] = [tampered[k + 1]!, tampered[k]!];
    const verdict = verifyEntries('user:1', tampered, head);
    if (verdict.valid) return false;
    const expectedSeq = op === 'remove' && k === n - 1 ? n : k + 1;
    return verdict.seq === expectedSeq;
  }), { numRuns: 300 });
  t.pass();
});

test('the entry type whitelists fields: secrets and unknown fields never reach Redis', async (t) => {
  t.deepEqual(sanitizeDetail({ login: 'octo', apiKey: 'rnd_abc', token: 'gho_x', cookie: 'sid=1', env: { A: '1' }, ip: '203.0.113.9' }), { login: 'octo', ip: '203.0.113.9' });
  t.deepEqual(sanitizeDetail({ serviceId: 'rnd_0123456789abcdef', route: '/api/x/ghp_abc', reason: 'Bad Reason!', ip: 'not-an-ip', durationMs: -1 }), {});
  // A list of codes (sentinel_settings): whole or not at all; a secret, free text, a nested value or too many drop it.
  t.deepEqual(sanitizeDetail({ changes: ['turned_on', 'webhook_set'] }), { changes: ['turned_on', 'webhook_set'] });
  for (const changes of [['turned_on', 'rnd_secretkeyvalue'], ['Slack https://hooks.slack.com/x'], [['turned_on']], [], Array(9).fill('turned_on'), 'turned_on', ['é']]) {
    t.deepEqual(sanitizeDetail({ changes }), {}, JSON.stringify(changes));
  }
  const userId = nextUser++;
  await audit.append({ userId, action: 'render_key_set', outcome: 'success', detail: { login: 'octo', apiKey: 'rnd_supersecretvalue' } as never });
  const stored = JSON.stringify(await raw(userId));
  t.false(stored.includes('rnd_supersecretvalue'));
  t.false(stored.includes('apiKey'));
});

test('GET /api/audit: the caller\'s own trail, newest first, through the real app and worker; no secrets stored', async (t) => {
  t.timeout(60_000);
  const worker = await startTestWorker(stack);
  try {
    const { agent, apiKey } = await signedInWithKey(stack, 'auditee');
    const { agent: other } = await signedInWithKey(stack, 'bystander');
    addNodeRepo(stack, 'auditee', 'app');
    const dep = await agent.post('/api/render/deploy', { github_repo: 'auditee/app', project_name: 'app' });
    t.is(dep.status, 202);
    t.is((await waitFinished(agent, dep.json.id)).status, 'live');
    // deploy_finished is written by the worker after the record turns final: allow it a moment.
    for (let i = 0; i < 200; i++) {
      if ((await agent.get('/api/audit')).json.entries.some((e: { action: string }) => e.action === 'deploy_finished')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    t.is((await agent.post('/api/render/clear-credentials')).status, 200);
    const res = await agent.get('/api/audit');
    t.is(res.status, 200);
    t.true(res.json.chainValid);
    const actions = res.json.entries.map((e: { action: string }) => e.action);
    t.deepEqual([...actions].sort(), ['deploy_finished', 'deploy_requested', 'render_key_cleared', 'render_key_set', 'sign_in'].sort());
    t.is(actions[0], 'render_key_cleared', 'newest first');
    const seqs = res.json.entries.map((e: { seq: number }) => e.seq);
    t.deepEqual(seqs, [...seqs].sort((a: number, b: number) => b - a));
    const finished = res.json.entries.find((e: { action: string }) => e.action === 'deploy_finished');
    t.like(finished.detail, { deploymentId: dep.json.id, status: 'live' });
    t.is(finished.outcome, 'success');
    const signIn = res.json.entries.find((e: { action: string }) => e.action === 'sign_in');
    t.like(signIn.detail, { login: 'auditee', route: '/api/auth/github/callback' });
    t.regex(signIn.detail.uaHash, /^[0-9a-f]{16}$/);
    for (const e of res.json.entries) t.deepEqual(Object.keys(e).sort(), ['action', 'at', 'detail', 'outcome', 'seq']);

    const page = await agent.get('/api/audit?limit=2');
    t.is(page.json.entries.length, 2);
    const rest = await agent.get(`/api/audit?limit=10&cursor=${page.json.nextCursor}`);
    t.deepEqual([...page.json.entries, ...rest.json.entries].map((e: { seq: number }) => e.seq), seqs);
    t.is((await agent.get('/api/audit?cursor=abc')).status, 400);
    t.is((await agent.get('/api/audit?limit=&cursor=')).json.entries.length, seqs.length, 'blank parameters mean defaults');
    t.is((await agent.get('/api/audit?limit=1000')).status, 400);

    const theirs = await other.get('/api/audit');
    t.deepEqual(theirs.json.entries.map((e: { action: string }) => e.action).sort(), ['render_key_set', 'sign_in']);
    t.is((await stack.agent().get('/api/audit')).status, 401);

    // Nothing secret in the audit keys: not the Render key, not the cookie, not the CSRF token.
    const dump = (await dumpRedis(stack.redis.client)).split('\n').filter((_, i, all) => all[i - 1]?.includes(':audit:') || all[i]!.includes(':audit:')).join('\n');
    t.true(dump.length > 0);
    for (const secret of [apiKey, ...agent.jar.values(), agent.csrfToken!]) t.false(dump.includes(secret));
    t.false(/gh[opsu]_/.test(dump), 'no GitHub token');

    // Tampering with the user's chain shows up in the API.
    const key = audit.keys({ userId: (await agent.get('/api/session')).json.user.id }).entries;
    const first = JSON.parse((await stack.redis.client.lindex(key, 0))!);
    await stack.redis.client.lset(key, 0, JSON.stringify({ ...first, detail: { ...first.detail, login: 'someone-else' } }));
    t.false((await agent.get('/api/audit')).json.chainValid);
  } finally {
    await worker.close(5_000);
  }
});
