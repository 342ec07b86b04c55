import type Router from '@koa/router';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import type { AuditPage } from '../audit/auditLog.js';
import type { AuditDetail, AuditEntry } from '../audit/types.js';
import { requireUser } from '../middleware/context.js';
import { validate } from '../middleware/validate.js';
import { documented, view } from '../openapi/describe.js';
import { queryWholeNumber } from '../middleware/queryNumber.js';

/** Whitelisted fields only (ids, logins, statuses, routes, reasons): never free text. */
const AuditDetailView = z.object({
  login: z.string(), ip: z.string(), uaHash: z.string(), route: z.string(), method: z.string(), deploymentId: z.string(), serviceId: z.string(),
  status: z.string(), lifecycleAction: z.string(), reason: z.string(), securityEvent: z.string(), resource: z.string(),
  durationMs: z.number(), retryAfterSec: z.number(), count: z.number(), tool: z.string(), changes: z.array(z.string()),
}).partial();
// A field added to AuditDetail must be added above too (else this line stops compiling), or the document would refuse it.
const detailCovered: Exclude<keyof AuditDetail, keyof z.infer<typeof AuditDetailView>> extends never ? true : never = true;
void detailCovered;

const AuditPageView = view('AuditPage', z.object({
  entries: z.array(z.object({
    seq: z.number().int(), at: z.string(), action: z.string(), outcome: z.enum(['success', 'failure', 'denied', 'detected']),
    /** Whitelisted fields only (ids, logins, statuses, routes, reasons): never free text. */
    detail: AuditDetailView,
  })),
  nextCursor: z.string().nullable(),
  chainValid: z.boolean(),
  integrity: z.object({
    valid: z.boolean(), checkedFrom: z.number().int().nullable(), checkedTo: z.number().int().nullable(), retainedFrom: z.number().int().nullable(),
    problem: z.object({ seq: z.number().int(), kind: z.string(), message: z.string() }).nullable(),
  }),
}));

/** Date.parse rolls a day past the month's end over (2026-02-31 is 2026-03-03): the date must read back unchanged. */
function isCalendarDate(day: string): boolean {
  const ms = Date.parse(`${day}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === day;
}

// An empty parameter (?limit=&cursor=) means "not given".
const blankIsAbsent = (v: unknown) => (v === '' ? undefined : v);
const AuditQuery = z.object({
  limit: queryWholeNumber({ min: 1, max: 100, default: 50 }, { blankIsAbsent: true }),
  // A nextCursor is the seq of an entry, 1 or more: 0 read as "no cursor" and answered the newest page.
  cursor: z.preprocess(blankIsAbsent, z.string().regex(/^[1-9]\d{0,11}$/, 'cursor must be the nextCursor of a previous page').optional()),
  until: z.preprocess(blankIsAbsent, z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'until must be a date like 2026-12-01')
    .refine(isCalendarDate, 'until must be a real date').optional()),
}).strict(); // a parameter not taken ("?untill=", "?cursor[]=") is refused: dropped, it answered the newest page

/** What the caller sees of an entry: no chain internals, no user id (it is always theirs). */
function presentEntry(e: AuditEntry) {
  return { seq: e.seq, at: e.at, action: e.action, outcome: e.outcome, detail: e.detail };
}

/** What was checked for this page: the stretch between two signed anchors, and the first problem in it. */
function presentIntegrity(page: AuditPage) {
  const v = page.verdict;
  return {
    valid: v.valid, checkedFrom: v.from, checkedTo: v.to, retainedFrom: page.retainedFrom,
    problem: v.valid ? null : { seq: v.seq, kind: v.problem, message: v.message },
  };
}

/**
 * GET /api/audit: the caller's own trail, newest first, a page at a time (limit ≤ 100, cursor from
 * the previous page, or `until` a date). Each page is verified from the signed checkpoint below it
 * to the one above it (or the signed head), so a call costs the same however long the history is.
 */
export function auditRoutes(router: Router, { audit }: Pick<AppDeps, 'audit'>) {
  router.get('/api/audit', documented({ summary: 'The caller\'s audit trail, newest first, each page verified against the signed chain', tag: 'audit', responses: { 200: AuditPageView } }), requireUser(), validate({ query: AuditQuery }), async (ctx) => {
    const q = ctx.input.query;
    const userId = ctx.state.user.id;
    const cursor = q.cursor ?? (q.until ? await audit.cursorAfter({ userId }, Date.parse(`${q.until}T00:00:00Z`) + 86_400_000) : null);
    const page = await audit.page({ userId }, { limit: q.limit, cursor });
    const integrity = presentIntegrity(page);
    if (!integrity.valid) ctx.state.log.error({ userId, seq: integrity.problem?.seq, problem: integrity.problem?.kind }, 'audit chain does not verify');
    ctx.body = { entries: page.entries.map(presentEntry), nextCursor: page.nextCursor, chainValid: integrity.valid, integrity } satisfies z.infer<typeof AuditPageView>;
  });
}
