import type Koa from 'koa';
import type { AppDeps } from '../deps.js';
import { errors } from '../errors.js';

/**
 * Log lines on the SSE stream (`GET /api/events?logs=<deployment id>`): a stream follows at most one
 * deployment, which must be the caller's (anyone else's id is a 404, like a missing one). The lines
 * come from the one poller per deployment (server/deployments/logTail.ts) over the owner's channel.
 */
export async function followedDeployment(ctx: Koa.Context, deps: AppDeps, userId: number): Promise<string | null> {
  // The only parameters: "?logs[]=<id>" is one named "logs[]", and ignored it streamed without the lines asked for.
  if (Object.keys(ctx.query).some((name) => name !== 'logs' && name !== 'opened')) {
    throw errors.validation('The live stream takes logs=<deployment id> and, from the UI, opened=address.');
  }
  const { logs: raw, opened } = ctx.query;
  if (opened !== undefined && (opened !== 'address' || raw === undefined)) throw errors.validation('opened: address, with logs=<deployment id>');
  if (raw === undefined) return null;
  if (typeof raw !== 'string' || raw.length > 64) throw errors.validation('logs: one deployment id');
  const rec = await deps.deployments.getForUser(raw, userId);
  // Recorded as the deployment routes record it (a cross-tenant probe when the id is someone else's).
  if (!rec) { await deps.security.notFound(ctx, 'deployment', { id: raw, openedFromAddress: opened === 'address' }); throw errors.notFound('Deployment'); }
  return rec.id;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** The SSE `logs` event for a published message, only for the followed deployment; fields whitelisted. */
export function logsEvent(message: string, deploymentId: string): string | null {
  try {
    const m = JSON.parse(message) as Record<string, unknown>;
    if (m?.type !== 'logs' || m.deploymentId !== deploymentId || !Array.isArray(m.lines)) return null;
    const lines = (m.lines as Array<Record<string, unknown>>).filter((l) => l && typeof l.id === 'string' && typeof l.message === 'string').map((l) => ({
      id: l.id, timestamp: str(l.timestamp), message: l.message, phase: l.phase === 'runtime' ? 'runtime' : 'build', type: str(l.type), level: str(l.level),
    }));
    const partial = m.partial === true;
    const ended = m.ended === 'gone' ? { ended: 'gone' } : {};
    return lines.length || partial || m.ended === 'gone' ? JSON.stringify({ type: 'logs', deploymentId, lines, partial, ...ended }) : null;
  } catch {
    return null;
  }
}
