import { loadConfig, type AppConfig } from '../../server/config/env.js';

export interface AppEnvInput {
  port: number;
  secretKeyHex: string;
  redisUrl: string;
  redisPrefix: string;
  github: { clientId: string; clientSecret: string; oauthUrl: string; apiUrl: string };
  renderApiUrl: string;
  workerConcurrency?: number;
}

/**
 * The environment a production web or worker process would get, pointed at the bench's private Redis
 * and simulators. NODE_ENV=production so production code paths run (GitHub retries and write pacing,
 * info-level access log); plain http on loopback, so no Secure cookies and no proxy trust.
 */
export function appEnv(i: AppEnvInput): Record<string, string> {
  return {
    NODE_ENV: 'production',
    PORT: String(i.port),
    BASE_URL: `http://127.0.0.1:${i.port}`,
    HTTPS_ONLY: 'false',
    TRUST_PROXY: 'false',
    SECRET_KEY: i.secretKeyHex,
    REDIS_URL: i.redisUrl,
    REDIS_PREFIX: i.redisPrefix,
    GITHUB_CLIENT_ID: i.github.clientId,
    GITHUB_CLIENT_SECRET: i.github.clientSecret,
    GITHUB_OAUTH_URL: i.github.oauthUrl,
    GITHUB_API_URL: i.github.apiUrl,
    RENDER_API_URL: i.renderApiUrl,
    // The load generators are runaway scripts by design: the anomaly detector would throttle them.
    ANOMALY_DETECTION: 'false',
    LOG_LEVEL: 'info',
    WORKER_CONCURRENCY: String(i.workerConcurrency ?? 50),
  };
}

/** The same configuration, parsed here, for the parts of the bench that use the server's own modules. */
export const configOf = (env: Record<string, string>): AppConfig => loadConfig(env);
