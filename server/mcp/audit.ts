import type Koa from 'koa';
import type { RateLimiterRedis } from 'rate-limiter-flexible';
import type { AppDeps } from '../deps.js';
import { countOccurrence, createLimiter } from '../security/rateLimits.js';

/**
 * Failed tool calls audited one by one, per user, tool and reason, within the window; past that, one
 * entry each time the count doubles (10, 20, 40 … for 5), carrying the count.
 */
export const FAILED_TOOL_CALLS = { threshold: 5, windowSec: 900 };

const limiters = new WeakMap<AppDeps, RateLimiterRedis>();
const failedCalls = (deps: AppDeps) => {
  let limiter = limiters.get(deps);
  if (!limiter) {
    limiter = createLimiter(deps.redis, deps.config.redisPrefix, 'mcp-tool-failed', { points: FAILED_TOOL_CALLS.threshold, durationSec: FAILED_TOOL_CALLS.windowSec });
    limiters.set(deps, limiter);
  }
  return limiter;
};

/**
 * A tool call's `mcp_tool` entry (tool name, outcome, the error code as reason; never arguments), in the
 * user's chain and the global one. A call that succeeded (it ran its route, within that route's limits)
 * has its entry; one of a tool that only reads, in the user's chain only: read routes have no limit of
 * their own (a REST read writes no entry at all), and 100 calls a POST would flood the global chain as
 * failed calls did. Failed calls are aggregated as failed sign-ins are (server/security/layer.ts): one
 * POST /mcp carries up to 100 calls, and those its tool's schema refuses reach no route, so no limit: an
 * entry each let one token push every other user's entries and the security events out of the global
 * chain, which is trimmed by count. Counted per tool and reason, so a few mistakes still show each.
 * A count Redis cannot give is written as a first failure: an entry too many, never one lost.
 */
export async function auditToolCall(deps: AppDeps, ctx: Koa.Context, userId: number, tool: { name: string; readOnly: boolean }, reason: string | undefined, ok: boolean): Promise<void> {
  if (ok) {
    await deps.security.recordAudit(ctx, { userId, action: 'mcp_tool', outcome: 'success', detail: { tool: tool.name }, ...(tool.readOnly ? { userOnly: true } : {}) });
    return;
  }
  const { threshold } = FAILED_TOOL_CALLS;
  const count = await countOccurrence(failedCalls(deps), `user:${userId}:${tool.name}:${reason ?? ''}`).catch(() => 0);
  if (count > threshold && !isThresholdDoubled(count, threshold)) return;
  await deps.security.recordAudit(ctx, {
    userId, action: 'mcp_tool', outcome: 'failure', detail: { tool: tool.name, ...(reason ? { reason } : {}), ...(count > threshold ? { count } : {}) },
  });
}

/** `count` is the threshold times a power of two: 5, 10, 20, 40 … for a threshold of 5 (as server/security/layer.ts counts failed sign-ins). */
function isThresholdDoubled(count: number, threshold: number): boolean {
  const times = count / threshold;
  return Number.isInteger(times) && (times & (times - 1)) === 0;
}
