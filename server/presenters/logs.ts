import { z } from 'zod';
import { view } from '../openapi/describe.js';

const LogPhase = z.enum(['build', 'runtime']);

export const LogLineView = view('LogLine', z.object({
  id: z.string(), timestamp: z.string(), message: z.string(), phase: LogPhase, type: z.string().nullable(), level: z.string().nullable(),
}));

/** GET /api/render/deployments/:id/logs (server/deployments/logs.ts LogPage must satisfy it). */
export const LogPageView = view('LogPage', z.object({
  logs: z.array(LogLineView),
  hasMore: z.boolean(),
  nextCursor: z.string().nullable(),
  phases: z.array(LogPhase),
  deployStatus: z.string().nullable(),
}), 'A page of a deployment\'s log lines, oldest first; pass nextCursor back for earlier ones.');
export type LogPageView = z.infer<typeof LogPageView>;
