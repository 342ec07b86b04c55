import type Router from '@koa/router';
import { z } from 'zod';
import type { AuditLog } from '../audit/auditLog.js';
import type { AuditEntry } from '../audit/types.js';
import { getSession } from '../sessions/middleware.js';
import { requireUser } from '../middleware/security.js';
import { validateQuery } from '../middleware/validate.js';

// An empty parameter (?limit=&cursor=) means "not given".
const blankIsAbsent = (v: unknown) => (v === '' ? undefined : v);
const AuditQuery = z.object({
  limit: z.preprocess(blankIsAbsent, z.coerce.number().int().min(1).max(100).default(50)),
  cursor: z.preprocess(blankIsAbsent, z.string().regex(/^\d{1,12}$/, 'cursor must be the nextCursor of a previous page').optional()),
});

/** What the caller sees of an entry: no chain internals, no user id (it is always theirs). */
function presentEntry(e: AuditEntry) {
  return { seq: e.seq, at: e.at, action: e.action, outcome: e.outcome, detail: e.detail };
}

/** GET /api/audit: the caller's own trail, newest first, and whether their chain verifies. */
export function auditRoutes(router: Router, audit: AuditLog) {
  router.get('/api/audit', requireUser(), validateQuery(AuditQuery), async (ctx) => {
    const q = ctx.state.query as z.infer<typeof AuditQuery>;
    const userId = getSession(ctx).user!.id;
    const [page, verdict] = await Promise.all([
      audit.listForUser(userId, { limit: q.limit, cursor: q.cursor ?? null }),
      audit.verifyChain({ userId }),
    ]);
    if (!verdict.valid) ctx.state.log.error({ userId, seq: verdict.seq, problem: verdict.problem }, 'audit chain does not verify');
    ctx.body = { entries: page.entries.map(presentEntry), nextCursor: page.nextCursor, chainValid: verdict.valid };
  });
}
