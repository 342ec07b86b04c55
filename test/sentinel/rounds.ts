import type { ExecutionContext } from 'ava';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { startTestRedis } from '../helpers/redis.js';
import { randomBytes } from 'node:crypto';
import { createKeyring } from '../../server/crypto/keyring.js';
import { createRenderClient, type RenderClientOptions } from '../../server/render/client.js';
import { runRound } from '../../server/sentinel/watcher.js';
import { createSentinelStore } from '../../server/sentinel/store.js';
import type { Finding } from '../../server/sentinel/types.js';
import type { TestRedis } from '../helpers/redis.js';

/**
 * Sentinel's rounds for user 1 run in this process (runRound, no worker or schedule) on `redis`, over a
 * Render client made with `render` (its beforeRequest stands for the round's budget share) that notes its
 * audited reads as the worker's does: what each round found new (`found`), every finding it wrote or
 * updated (`written`), and its cursors as written (`cursor(field)`). Apart from support.ts, which starts
 * the whole stack: these tests need no web or worker process. `clock`: what the client's notes of its
 * audited reads are timed by (the worker's clock; a test's own, shared with the simulator's).
 */
export async function roundsInProcess(redis: TestRedis, render: RenderClientOptions, ownerIds: string[], clock: () => number = Date.now) {
  const store = createSentinelStore({ redis: redis.client, prefix: redis.prefix, keyring: createKeyring(randomBytes(32)), absoluteMs: 3_600_000 });
  // As the worker's task: notes timed on Render's clock by the round's latest answer (runRound's onRenderClock).
  let toRender = (ours: number) => ours;
  const notes = store.auditedReadNotes(1, () => toRender(clock()));
  const client = createRenderClient({
    ...render,
    async beforeRequest(call) {
      await render.beforeRequest?.(call);
      await notes.before(call);
    },
    afterResponse: notes.after,
  });
  const retired = { redis: redis.client, prefix: redis.prefix, keyring: createKeyring(randomBytes(32)) };
  const found: Finding[] = [];
  const written: Finding[] = [];
  // The watch's settings (the rounds write only while they are current; their record is not read here).
  await redis.client.hset(store.keys.settings(1), 'gen', 'g1');
  return {
    found, written, store,
    /** `report`: what the worker does with a finding written (audit, alert), run first; throwing, the round fails as a worker dying there would. */
    async round(now: () => number = Date.now, report?: (f: Finding, isNew: boolean) => Promise<void>) {
      const { round, status, cursors } = await store.beginRound(1, 60_000);
      // As the worker's task: the round's end (its cursors) is written also when the round failed.
      try {
        await runRound({
          userId: 1, round, ownerIds, client, store, retired, now, status, cursors, onRenderClock: (map) => { toRender = map; },
          onFinding: async (f, isNew) => { await report?.(f, isNew); written.push(structuredClone(f)); if (isNew) found.push(f); },
        });
      } finally {
        await store.endRound(1, round, status, cursors, { nowMs: now() });
      }
    },
    async cursor<T>(field: string): Promise<T | null> {
      return JSON.parse((await redis.client.hget(store.keys.cursors(1), field)) ?? 'null') as T | null;
    },
    /** Writes a cursor's stored text as is (what another version, or a damaged write, may have left). */
    async writeCursor(field: string, text: string) {
      await redis.client.hset(store.keys.cursors(1), field, text);
    },
    /** Moves a cursor to another field, as a version that named it otherwise would have left it. */
    async renameCursor(from: string, to: string) {
      const key = store.keys.cursors(1);
      const value = await redis.client.hget(key, from);
      if (value !== null) await redis.client.multi().hdel(key, from).hset(key, to, value).exec();
    },
  };
}

/**
 * A Render simulator account (`label` names its key) with one web service named `serviceName`, on a
 * private Redis, and rounds over its workspace (roundsInProcess); both stopped when the test ends.
 */
export async function oneServiceRounds(t: ExecutionContext, label: string, serviceName: string) {
  const r = await startTestRedis();
  const render = await startRenderSimulator();
  t.teardown(async () => { await render.close(); await r.stop(); });
  const apiKey = `rnd_${label}${'k'.repeat(20)}`;
  render.addAccount({ apiKey, workspaces: [{ name: `${label} ws` }] });
  const plain = createRenderClient({ baseUrl: render.url, apiKey });
  const [owner] = await plain.listOwners();
  const { service } = await plain.createService({
    type: 'web_service', name: serviceName, ownerId: owner!.id, repo: `https://github.com/${label}/${serviceName}`, branch: 'main', autoDeploy: 'no',
    serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
  });
  return { render, service, rounds: await roundsInProcess(r, { baseUrl: render.url, apiKey }, [owner!.id]) };
}

/**
 * Rounds over a simulator account's workspace (`label` names its key) on one clock with the simulator's
 * (Render's timestamps) and the client's notes of its audited reads, moved by hand (`advance`): rounds an
 * hour apart, the Security page's longest interval, without an hour passing. `create` makes a web service;
 * `opts.beforeRequest` stands for the rounds' budget share (as in roundsInProcess). `skew(ms)` sets the
 * rounds' clock (the worker's, `worker`) that far ahead of Render's (`clock`), or behind it (negative).
 */
export async function roundsOnClock(t: ExecutionContext, label: string, opts: Pick<RenderClientOptions, 'beforeRequest'> = {}) {
  let nowMs = Date.now();
  let skewMs = 0;
  const clock = () => nowMs;
  const worker = () => nowMs + skewMs;
  const r = await startTestRedis();
  // Deploys stay where they start: a deploy going live writes app lines of its own.
  const render = await startRenderSimulator({ now: clock, manualDeploys: true });
  t.teardown(async () => { await render.close(); await r.stop(); });
  const apiKey = `rnd_${label}${'k'.repeat(Math.max(30 - label.length, 20))}`;
  render.addAccount({ apiKey, workspaces: [{ name: `${label} ws` }] });
  const plain = createRenderClient({ baseUrl: render.url, apiKey });
  const [owner] = await plain.listOwners();
  const rounds = await roundsInProcess(r, { baseUrl: render.url, apiKey, ...opts }, [owner!.id], worker);
  return {
    render, redis: r, rounds, ownerId: owner!.id, found: rounds.found, clock, worker, plain, apiKey,
    async create(name: string, envVars: Array<{ key: string; value: string }> = []) {
      const { service } = await plain.createService({
        type: 'web_service', name, ownerId: owner!.id, repo: `https://github.com/${label}/${name}`, branch: 'main', autoDeploy: 'no', envVars,
        serviceDetails: { runtime: 'node', plan: 'starter', region: 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
      });
      return service!;
    },
    advance(ms: number) { nowMs += ms; },
    skew(ms: number) { skewMs = ms; },
    round: () => rounds.round(worker),
    /** The round's status as written (lastRunAt, skipped stretches…). */
    status: () => rounds.store.getStatus(1),
  };
}
