import { bucketOf } from '../../server/render/budget.js';
import type { RenderCallInfo } from '../../server/render/transport.js';
import type { WorkerContext } from '../context.js';

/**
 * Takes a Render budget slot now, for a call a step is about to make. Returns the slot: a step that
 * must know it was given before a write of its own awaits it (createService.ts: a creation marked sent).
 */
export type TakeAhead = (call: RenderCallInfo) => Promise<void>;

/**
 * A job run's share of the caller's Render budget (server/render/budget.ts). Each call takes its slot
 * as it goes out (the client's beforeRequest), unless a step took it ahead: with a Redis command the
 * step sends anyway, so the take shares that command's round trip instead of making one of its own
 * (a write and a wake-up of the worker's, bench/README `pipeline`). The next call of the same bucket
 * uses the slot taken ahead, and meets its BudgetExhausted there. A slot taken ahead and never used
 * (the deployment ended meanwhile) is spent all the same: the budget errs only on the safe side.
 */
export function createRunBudget(ctx: Pick<WorkerContext, 'budget'>, keyFingerprint: string) {
  const ahead = new Map<string, Promise<void>>();
  const bucket = (call: RenderCallInfo) => { const { name, scope } = bucketOf(call); return `${name} ${scope}`; };
  return {
    beforeRequest(call: RenderCallInfo): Promise<void> {
      const key = bucket(call);
      const taken = ahead.get(key);
      if (!taken) return ctx.budget.acquireOrThrow(keyFingerprint, call);
      ahead.delete(key);
      return taken;
    },
    takeAhead: ((call) => {
      const key = bucket(call);
      const before = ahead.get(key);
      if (before) return before;
      const taken = ctx.budget.acquireOrThrow(keyFingerprint, call);
      taken.catch(() => undefined); // met by the call that uses it, if one does
      ahead.set(key, taken);
      return taken;
    }) as TakeAhead,
  };
}
