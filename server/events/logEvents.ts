import type Koa from 'koa';
import type { AppDeps } from '../deps.js';
import { z } from 'zod';
import { errors } from '../errors.js';

/**
 * Log lines on the SSE stream (`GET /api/events?logs=<deployment id>`): a stream follows at most one
 * deployment, which must be the caller's (anyone else's id is a 404, like a missing one). The lines
 * come from the one poller per deployment (server/deployments/logTail.ts) over the owner's channel.
 */
/**
 * The stream's query: nothing else ("?logs[]=<id>" is a parameter named "logs[]", and ignored it streamed
 * without the lines asked for). Validated by the route (validate), so the document lists what it takes.
 */
export const EventsQuery = z.object({
  logs: z.string().max(64, 'logs: one deployment id').optional()
    .describe('One of the caller\'s deployment ids: the stream also carries its new log lines (logs events). Anyone else\'s id, or an unknown one, is a 404.'),
  opened: z.literal('address').optional()
    .describe('The UI only, with logs: the id came from the page address (a 404 is then noted as an address opened, not a probe).'),
}).strict().refine((q) => q.opened === undefined || q.logs !== undefined, 'opened: address, with logs=<deployment id>');

/** The deployment whose lines the stream follows (null: none asked), the caller's own: else a 404 (recorded as the deployment routes record it). */
export async function followedDeployment(ctx: Koa.Context, deps: AppDeps, userId: number, query: z.infer<typeof EventsQuery>): Promise<string | null> {
  const { logs: raw, opened } = query;
  if (raw === undefined) return null;
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
