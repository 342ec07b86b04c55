import type { Redis } from 'ioredis';
import type { AppConfig } from './config/env.js';
import type { Clock } from './clock.js';
import type { MetricsSink } from './deps.js';
import { createGitHubClient, type GitHubClient } from './github/client.js';
import { createRenderClient, type RenderCallInfo, type RenderCallOutcome, type RenderClient } from './render/client.js';
import { createServiceCache, type ServiceCache } from './render/serviceCache.js';

/** What a call site decides about one Render client: its deadline, its budget, its own counting. */
interface RenderCallOptions {
  /** Per request; default 10 s (workers pass their own). */
  timeoutMs?: number;
  /** Awaited before every request: the per-key budget (which share, how long to wait) is the caller's. */
  beforeRequest?: (call: RenderCallInfo) => Promise<void>;
  /** After every exchange, besides the process's Render metrics. */
  afterResponse?: (call: RenderCallOutcome) => void;
  /** The key's fingerprint: Render refusing the key (401) names it on the error (render/errors.ts refusedKeyOf). */
  keyFingerprint?: string;
}

/** The caller's clients for GitHub and Render, and the service list cache: built once per process. */
export interface UpstreamClients {
  /**
   * A client on the caller's GitHub token (the token is used for this client only, never kept here).
   * `writesPacedByCaller`: the caller paces this client's writes (the commit-status worker), the client does not.
   */
  github(token: string, options?: { writesPacedByCaller?: boolean }): GitHubClient;
  /** A client on the caller's Render key, reporting every call to the process's metrics. */
  render(apiKey: string, options?: RenderCallOptions): RenderClient;
  /** The caller's Render service list, cached per user and key across processes. */
  serviceCache: ServiceCache;
}

interface UpstreamArgs {
  config: Pick<AppConfig, 'github' | 'renderApiUrl' | 'redisPrefix'>;
  redis: Redis;
  metrics?: MetricsSink;
  /** The age of a cached service list; default the system clock. */
  clock?: Clock;
}

const DEFAULT_RENDER_TIMEOUT_MS = 10_000;

/**
 * The one factory for upstream clients (issue 16), built in the composition root (`buildDeps`): every
 * route, worker task and poller gets its GitHub and Render clients here, so the retry policy
 * (`config.github.retries`, GITHUB_RETRIES), base URLs and metrics hooks are decided in one place.
 * Connections are pooled per process, not per client: Render's transport shares one keep-alive agent
 * (server/render/transport.ts) and so does GitHub's (server/github/transport.ts).
 */
export function createUpstreamClients(args: UpstreamArgs): UpstreamClients {
  const { config, metrics } = args;
  return {
    github: (token, options) => createGitHubClient({
      apiUrl: config.github.apiUrl, token, retries: config.github.retries,
      // Unset: the client's own default (paced when it retries); a caller that paces its writes turns it off.
      ...(options?.writesPacedByCaller ? { pacedWrites: false } : {}),
    }),

    render(apiKey, options = {}) {
      const { afterResponse } = options;
      const onRenderCall = metrics?.onRenderCall;
      return createRenderClient({
        baseUrl: config.renderApiUrl,
        apiKey,
        timeoutMs: options.timeoutMs ?? DEFAULT_RENDER_TIMEOUT_MS,
        beforeRequest: options.beforeRequest,
        ...(options.keyFingerprint === undefined ? {} : { keyFingerprint: options.keyFingerprint }),
        afterResponse: afterResponse && onRenderCall ? (call) => { afterResponse(call); onRenderCall(call); } : afterResponse ?? onRenderCall,
      });
    },

    serviceCache: createServiceCache({ redis: args.redis, prefix: config.redisPrefix, clock: args.clock }),
  };
}
