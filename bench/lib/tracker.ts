import { Redis } from 'ioredis';
import { isTerminal, type DeploymentStatus } from '../../server/deployments/types.js';
import type { Cleanup } from './cleanup.js';

/** What the tracker knows about one deployment, from the live-update messages the store publishes. */
export interface Tracked {
  status: DeploymentStatus;
  /** Epoch ms (the record's updatedAt) at which each status was first seen. */
  at: Partial<Record<DeploymentStatus, number>>;
  finishedAt?: number;
}

const WATCHED: ReadonlySet<string> = new Set(['created', 'render_queued', 'build_in_progress', 'pre_deploy_in_progress', 'update_in_progress']);

/**
 * Follows every deployment's status through the per-user pub/sub channels (one PSUBSCRIBE), so the bench
 * sees progress without polling the product. Counts how many are being watched on Render right now.
 */
export async function trackDeployments(cleanup: Cleanup, redisUrl: string, prefix: string) {
  const sub = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const byId = new Map<string, Tracked>();
  let watching = 0;
  let finished = 0;
  let peakWatching = 0;
  sub.on('pmessage', (_pattern, _channel, message: string) => {
    let m: { type?: string; id?: string; status?: DeploymentStatus; updatedAt?: string };
    try { m = JSON.parse(message); } catch { return; }
    if (m.type !== 'deployment' || !m.id || !m.status) return;
    const at = m.updatedAt ? Date.parse(m.updatedAt) : Date.now();
    let t = byId.get(m.id);
    if (t?.finishedAt !== undefined) return; // a terminal record never changes again
    const was = t !== undefined && WATCHED.has(t.status);
    if (!t) { t = { status: m.status, at: {} }; byId.set(m.id, t); }
    t.status = m.status;
    t.at[m.status] ??= at;
    const now = WATCHED.has(m.status);
    if (was && !now) watching--;
    if (!was && now) { watching++; peakWatching = Math.max(peakWatching, watching); }
    if (isTerminal(m.status)) { t.finishedAt = at; finished++; }
  });
  await sub.psubscribe(`${prefix}:events:*`);
  cleanup.add('deployment tracker', () => { sub.disconnect(); });
  return {
    get: (id: string) => byId.get(id),
    all: () => byId,
    watching: () => watching,
    peakWatching: () => peakWatching,
    finished: () => finished,
    finishedOf: (ids: readonly string[]) => ids.filter((id) => byId.get(id)?.finishedAt !== undefined).length,
  };
}

export type DeploymentTracker = Awaited<ReturnType<typeof trackDeployments>>;
