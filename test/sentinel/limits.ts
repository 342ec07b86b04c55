import { RENDER_DOCUMENTED_LIMITS, budgetFrom } from '../../server/render/budget.js';

/** Render's limits, but a logs bucket large enough that a 10% share reads a 500-line loop in a few rounds. */
export const BUDGET_FOR_TESTS = budgetFrom({ ...RENDER_DOCUMENTED_LIMITS, logs: { limit: 300, windowMs: 60_000 } });
