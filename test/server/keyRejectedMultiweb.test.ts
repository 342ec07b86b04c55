import test from 'ava';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { loadConfig } from '../../server/config/env.js';
import { createLogger } from '../../server/logger.js';
import { startWeb, type WebProcess } from '../../server/web.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { envFor } from '../helpers/processes.js';
import { freePort } from '../helpers/ports.js';
import { Agent } from '../helpers/agent.js';
import { signedInWithKey } from '../helpers/pipeline.js';
import { waitUntil } from '../helpers/wait.js';

// The session cache across web processes (server/sessions/cache.ts). A mark made on one process (Render
// refused the key on a call there) must be seen by another, serving the same cookie from its cache, for a
// request sent after the refusal was answered (keyRejected.ts). Redis may deliver the writer's answer before
// the other process's invalidation, so the mark is fenced (store.ts markKeyRejected: dropEverywhere), as
// sign-outs and cleared keys are; unfenced, a process whose link from Redis was slow answered from its copy.

const quiet = () => createLogger({ level: 'silent', destination: new Writable({ write(_c, _e, cb) { cb(); } }) });
const LAG_MS = 120;

let stack: Stack;
let plain: WebProcess; // a second process on the same Redis
let lagged: WebProcess; // a third, whose link from Redis is LAG_MS slow
let proxy: { url: string; close(): Promise<void> };

/** A TCP proxy to Redis whose answers (Redis → process) arrive `lagMs` late, in order; requests pass at once. */
async function laggingRedis(redisUrl: string, lagMs: number): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(redisUrl);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => { setTimeout(() => { if (!client.destroyed) client.write(chunk); }, lagMs); });
    const end = () => { setTimeout(() => { client.destroy(); upstream.destroy(); }, lagMs); };
    upstream.on('close', end);
    upstream.on('error', end);
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(redisUrl);
  url.port = String((server.address() as AddressInfo).port);
  url.hostname = '127.0.0.1';
  return {
    url: url.toString(),
    close: async () => { for (const s of sockets) s.destroy(); await new Promise<void>((r) => server.close(() => r())); },
  };
}

test.before(async () => {
  stack = await startStack();
  plain = await startWeb({ config: loadConfig(envFor(stack.config, { PORT: String(await freePort()) })), logger: quiet(), host: '127.0.0.1' });
  proxy = await laggingRedis(stack.config.redisUrl, LAG_MS);
  lagged = await startWeb({ config: loadConfig(envFor(stack.config, { PORT: String(await freePort()), REDIS_URL: proxy.url })), logger: quiet(), host: '127.0.0.1' });
});
test.after.always(async () => {
  await lagged?.close(2_000).catch(() => {});
  await plain?.close(2_000).catch(() => {});
  await proxy?.close();
  await stack?.close();
});

const on = (web: WebProcess, agent: Agent) => {
  const other = new Agent(web.url);
  for (const [k, v] of agent.jar) other.jar.set(k, v);
  other.csrfToken = agent.csrfToken;
  return other;
};

/** Read the status on `web` until its cache holds the session (two reads: a miss fills, a hit follows). */
async function warm(web: WebProcess, agent: Agent): Promise<void> {
  await waitUntil('cache active', async () => web.deps.sessions !== undefined, 5_000, 10);
  for (let i = 0; i < 3; i++) {
    const res = await on(web, agent).get('/api/render/status');
    if (res.status !== 200 || !res.json.verified) throw new Error(`warm: ${res.status} ${res.text}`);
  }
}

test.serial('a mark made on one process is seen at once by another process that had the session cached', async (t) => {
  for (let i = 0; i < 12; i++) {
    const { agent, apiKey } = await signedInWithKey(stack, `pkmw-plain-${i}`);
    await warm(plain, agent);
    stack.render.revokeKey(apiKey);
    const refused = await agent.get('/api/render/services');
    t.is(refused.json.error?.code, 'render_key_invalid');
    const status = await on(plain, agent).get('/api/render/status');
    t.is(typeof status.json.rejectedAt, 'string', `user ${i}: the other process shows the mark at once`);
    t.false(status.json.verified);
  }
});

test.serial('control: a key cleared on one process is seen at once by a process whose link from Redis is slow (the clear is fenced)', async (t) => {
  const { agent } = await signedInWithKey(stack, 'pkmw-clear');
  await warm(lagged, agent);
  t.is((await agent.post('/api/render/clear-credentials')).status, 200);
  const status = await on(lagged, agent).get('/api/render/status');
  t.false(status.json.configured, 'the clear is answered only once every process dropped its copy');
});

test.serial('a mark made on one process is seen by a process whose link from Redis is slow, for a read sent after the refusal was answered', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'pkmw-lag');
  await warm(lagged, agent);
  stack.render.revokeKey(apiKey);
  const refused = await agent.get('/api/render/services');
  t.is(refused.json.error?.code, 'render_key_invalid');
  const status = await on(lagged, agent).get('/api/render/status');
  t.is(typeof status.json.rejectedAt, 'string', 'the other process answered from the copy it had before the mark');
  t.false(status.json.verified);
  // And a little later it does (the invalidation arrived): the window is the link's lag.
  await new Promise((r) => setTimeout(r, LAG_MS * 3));
  t.is(typeof (await on(lagged, agent).get('/api/render/status')).json.rejectedAt, 'string');
});
