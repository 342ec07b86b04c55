import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

export interface TestRedis {
  /** redis:// URL to hand to the code under test. */
  url: string;
  /** A key prefix unique to this test file, so a shared REDIS_URL never mixes runs. */
  prefix: string;
  /** Start the same server again on the same port (restart tests). No-op for a shared server. */
  restart(opts?: { downMs?: number }): Promise<void>;
  /** Take the server away until bringUp() (private servers only; no data survives without persistence). */
  takeDown(): Promise<void>;
  /** Start the server again on the same port after takeDown(). */
  bringUp(): Promise<void>;
  /** Stop the server's process (SIGSTOP) until thaw(): connections stay open and nothing answers, as across a network partition. */
  freeze(): void;
  thaw(): void;
  /** Stop the server (private servers only). */
  stop(): Promise<void>;
  /** Plain client for assertions (scans, raw reads). */
  client: Redis;
}

/**
 * A real Redis for one test file. When REDIS_URL is set it is used as is (with a unique prefix);
 * otherwise a private `redis-server` is started on a free loopback port and removed afterwards.
 */
export async function startTestRedis(opts: { persistence?: boolean } = {}): Promise<TestRedis> {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const shared = process.env.REDIS_URL;
  if (shared) {
    const client = new Redis(shared, { maxRetriesPerRequest: 2 });
    return {
      url: shared, prefix, client,
      async restart() { throw new Error('restart needs a private redis-server (unset REDIS_URL)'); },
      async takeDown() { throw new Error('takeDown needs a private redis-server (unset REDIS_URL)'); },
      async bringUp() { throw new Error('bringUp needs a private redis-server (unset REDIS_URL)'); },
      freeze() { throw new Error('freeze needs a private redis-server (unset REDIS_URL)'); },
      thaw() { throw new Error('thaw needs a private redis-server (unset REDIS_URL)'); },
      async stop() { client.disconnect(); },
    };
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'orch-redis-'));
  let proc: ChildProcess | undefined;
  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
      '--appendonly', opts.persistence ? 'yes' : 'no', '--appendfsync', 'always',
      '--maxmemory-policy', 'noeviction', '--loglevel', 'warning'];
    proc = spawn('redis-server', args, { stdio: 'ignore' });
    proc.on('error', (err) => { throw new Error(`cannot start redis-server (is it installed?): ${err.message}`); });
    const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {}); // refused until the server is up: expected while polling
    for (let i = 0; i < 200; i++) {
      try { await probe.connect(); await probe.ping(); probe.disconnect(); return; } catch { await sleep(25); }
    }
    throw new Error('redis-server did not answer within 5 s');
  };
  await launch();
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { maxRetriesPerRequest: null });
  client.on('error', () => {}); // restart tests take the server away on purpose
  return {
    url, prefix, client,
    async restart({ downMs = 0 } = {}) {
      await killAndWait(proc);
      if (downMs) await sleep(downMs);
      await launch();
    },
    takeDown: () => killAndWait(proc),
    // Only after takeDown(): a second redis-server on the port would fail to bind and exit, leaving `proc`
    // naming it while the running one, no longer tracked, outlives stop() and keeps the test process alive.
    bringUp: async () => { if (!proc || proc.exitCode !== null || proc.signalCode !== null) await launch(); },
    freeze: () => { proc?.kill('SIGSTOP'); },
    thaw: () => { proc?.kill('SIGCONT'); },
    async stop() {
      client.disconnect();
      await killAndWait(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function killAndWait(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(); // already gone: 'exit' will not come again
  return new Promise((resolve) => { proc.once('exit', () => resolve()); proc.kill('SIGKILL'); });
}

function sleep(ms: number) { return new Promise((r) => setTimeout(r, ms)); }

/** A command a client sent, and the write it went out in (commands of one auto-pipelined write share it). */
export interface SentCommand { name: string; args: string[]; write: object }

/**
 * Every command `redis` sends from now until the test ends, in order. A command sent on its own is a
 * write of its own; those in one auto-pipelined batch share the `stream` ioredis hands to sendCommand.
 */
export function recordCommands(redis: Redis, t: { teardown(fn: () => void): void }): SentCommand[] {
  const sent: SentCommand[] = [];
  const original = redis.sendCommand.bind(redis);
  type Args = Parameters<typeof original>;
  redis.sendCommand = (command: Args[0], stream?: Args[1]) => {
    sent.push({ name: command.name, args: command.args.map(String), write: stream ?? {} });
    return original(command, stream);
  };
  t.teardown(() => { redis.sendCommand = original; });
  return sent;
}
