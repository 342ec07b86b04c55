import { startOpsEnv, type OpsEnv, type ChildWeb } from './cluster.js';
import { startTrackingProxy, type TrackingProxy } from './trackingProxy.js';

export interface ProxiedPair { env: OpsEnv; a: ChildWeb; b: ChildWeb; proxy: TrackingProxy; close(): Promise<void> }

/**
 * Two real web processes on one Redis, B reaching it through a proxy that can hold what Redis sends
 * B's session tracking connection; `webEnv` for both.
 */
export async function startProxiedPair(webEnv: Record<string, string>): Promise<ProxiedPair> {
  const env = await startOpsEnv();
  const proxy = await startTrackingProxy(env.redis.url, `${env.redis.prefix}:sess:`);
  const [a, b] = await Promise.all([env.spawnWeb({ env: webEnv }), env.spawnWeb({ env: { ...webEnv, REDIS_URL: proxy.url } })]);
  return { env, a, b, proxy, async close() { proxy.release(); await env.close(); await proxy.close(); } };
}
