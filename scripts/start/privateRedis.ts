import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** Beside the pid file: where the running server answers (a new free port each run). */
const URL_FILE = 'redis.url';

/** True when something at `url` answers PING. */
export async function redisAnswers(url: string): Promise<boolean> {
  let probe: Redis;
  try { probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 }); } catch { return false; }
  probe.on('error', () => {});
  try { await probe.connect(); return (await probe.ping()) === 'PONG'; } catch { return false; } finally { probe.disconnect(); }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

interface PrivateRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * A redis-server of our own on a free loopback port, its data (AOF) in `dir`: never whatever happens
 * to answer on 6379. Its own process group, so Ctrl-C reaches only us and we stop it last, after the
 * web and worker have written their final state.
 */
export async function startPrivateRedis(dir: string): Promise<PrivateRedis> {
  mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, 'redis.pid');
  const pid = livePid(pidFile);
  if (pid) throw new Error(`A redis-server from an earlier run (pid ${pid}) still uses ${dir}. Stop it (kill ${pid}) and run npm start again.`);
  const port = await freePort();
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--pidfile', pidFile, '--logfile', 'redis.log',
    '--appendonly', 'yes', '--maxmemory-policy', 'noeviction',
  ], { stdio: 'ignore', detached: true });
  const spawnError = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    child.once('spawn', () => resolve(null));
    child.once('error', resolve);
  });
  if (spawnError) {
    throw new Error(spawnError.code === 'ENOENT'
      ? 'redis-server is not installed. Install Redis (apt-get install redis-server, brew install redis) or set REDIS_URL.'
      : `Could not start redis-server: ${spawnError.message}`);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    const outcome = await Promise.race([redisAnswers(url).then((ok) => (ok ? 'up' : 'down')), exited.then(() => 'exited')]);
    if (outcome === 'up') break;
    if (outcome === 'exited') throw new Error(`redis-server stopped at start; see ${join(dir, 'redis.log')}.`);
    if (attempt >= 200) {
      child.kill('SIGTERM');
      throw new Error(`redis-server did not answer on port ${port}; see ${join(dir, 'redis.log')}.`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // Where it answers, for `npm run admin` (runningPrivateRedis): the port is a new one each run.
  writeFileSync(join(dir, URL_FILE), url);
  return {
    url,
    port,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      rmSync(join(dir, URL_FILE), { force: true });
      child.kill('SIGTERM'); // redis-server writes its AOF and exits
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => { timer = setTimeout(r, 10_000); })]);
      clearTimeout(timer);
    },
  };
}

/**
 * The URL of the private redis-server npm start runs with its data in `dir`, while it runs (its pid
 * file names a live process); null otherwise. The operator CLI reads the same Redis this way.
 */
export function runningPrivateRedis(dir: string): string | null {
  const urlFile = join(dir, URL_FILE);
  if (!livePid(join(dir, 'redis.pid')) || !existsSync(urlFile)) return null;
  return readFileSync(urlFile, 'utf8').trim() || null;
}

function livePid(pidFile: string): number | null {
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}
