import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AppConfig } from '../../server/config/env.js';

const WORKER_MAIN = fileURLToPath(new URL('./workerMain.ts', import.meta.url));

/** The environment that reproduces a stack's config in another process. */
export function envFor(config: AppConfig, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOG_LEVEL: 'info',
    PORT: String(config.port), BASE_URL: config.baseUrl, SECRET_KEY: config.secretKey.toString('hex'),
    REDIS_URL: config.redisUrl, REDIS_PREFIX: config.redisPrefix,
    GITHUB_CLIENT_ID: config.github.clientId, GITHUB_CLIENT_SECRET: config.github.clientSecret,
    GITHUB_OAUTH_URL: config.github.oauthUrl, GITHUB_API_URL: config.github.apiUrl, RENDER_API_URL: config.renderApiUrl,
    ...extra,
  };
}

export interface ChildWorker { proc: ChildProcess; output: string[]; kill(signal?: NodeJS.Signals): Promise<number | null> }

/** Start a worker as a real child process (node --import tsx), resolved once it is consuming jobs. */
export async function spawnWorker(config: AppConfig, options: object, extraEnv: Record<string, string> = {}): Promise<ChildWorker> {
  const output: string[] = [];
  const proc = fork(WORKER_MAIN, [], {
    env: { ...envFor(config, extraEnv), TEST_WORKER_OPTIONS: JSON.stringify(options) },
    execArgv: ['--import=tsx'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  proc.stdout!.on('data', (d) => output.push(String(d)));
  proc.stderr!.on('data', (d) => output.push(String(d)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start: ${output.join('')}`)), 20_000);
    proc.once('message', () => { clearTimeout(timer); resolve(); });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`worker exited ${code}: ${output.join('')}`)); });
  });
  return {
    proc, output,
    kill(signal = 'SIGKILL') {
      return new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill(signal);
      });
    },
  };
}
