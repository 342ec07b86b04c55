import test from 'ava';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { createRenderClient } from '../../server/render/client.js';
import { randomBytes } from 'node:crypto';
import { createKeyring } from '../../server/crypto/keyring.js';
import { createSentinelStore, sentinelKeys } from '../../server/sentinel/store.js';
import { startTestRedis } from '../helpers/redis.js';
import { roundsInProcess } from './rounds.js';

// Findings are kept "30 days after last seen" (SECURITY.md): the whole findings hash was given 30 days
// again at each write, so while new findings kept coming (a crash loop, a busy workspace) one last seen
// months ago (who opened a shell, with their email) stayed, up to the 500 kept.

const DAY = 86_400_000;

test('a finding last seen over 30 days ago goes, though newer findings keep being written', async (t) => {
  let nowMs = Date.now();
  const now = () => nowMs;
  const r = await startTestRedis();
  const render = await startRenderSimulator({ now });
  t.teardown(async () => { await render.close(); await r.stop(); });
  const apiKey = `rnd_retention${'k'.repeat(20)}`;
  render.addAccount({ apiKey, workspaces: [{ name: 'retention ws' }] });
  const [owner] = await createRenderClient({ baseUrl: render.url, apiKey }).listOwners();
  const rounds = await roundsInProcess(r, { baseUrl: render.url, apiKey }, [owner!.id]);
  const kept = () => r.client.zcard(sentinelKeys(r.prefix).order(1));

  render.addAuditEvent(owner!.id, 'StartShellEvent', { service: 'srv-old' });
  await rounds.round(now);
  t.is(rounds.found.length, 1);
  nowMs += 20 * DAY;
  render.addAuditEvent(owner!.id, 'StartShellEvent', { service: 'srv-mid' });
  await rounds.round(now);
  t.is(await kept(), 2, 'both within 30 days');

  nowMs += 11 * DAY;
  render.addAuditEvent(owner!.id, 'StartShellEvent', { service: 'srv-new' });
  await rounds.round(now);
  t.is(rounds.found.length, 3);
  const left = await r.client.hgetall(sentinelKeys(r.prefix).findings(1));
  t.deepEqual(Object.values(left).map((raw) => (JSON.parse(raw) as { context: { service: string } }).context.service).sort(), ['srv-mid', 'srv-new'],
    'the one last seen 31 days ago is gone');
  t.is(await kept(), 2);

  // No write for a while (the watch off, a quiet workspace): what is read leaves out a finding past its 30 days.
  nowMs += 20 * DAY;
  const store = createSentinelStore({ redis: r.client, prefix: r.prefix, keyring: createKeyring(randomBytes(32)), absoluteMs: 3_600_000 });
  const [mid, fresh] = [...rounds.found.slice(1)];
  t.deepEqual((await store.listFindings(1, 100, nowMs)).map((f) => f.id), [fresh!.id]);
  t.is(await store.getFinding(1, mid!.id, nowMs), null);
  t.truthy(await store.getFinding(1, fresh!.id, nowMs));
});
