import type { SimClock } from '../clock.js';
import type { DeployEngine } from '../deploy-engine.js';
import { ApiError } from '../errors.js';
import type { Recorder } from '../records.js';
import type { SpecValidator } from '../spec-schemas.js';
import type { ServiceRec, SimState } from '../state.js';
import { requireService } from '../access.js';
import type { HandlerResult, RequestContext, RouteDef } from '../router.js';

/** What every route module receives (no globals: one set per simulator). */
export interface RouteDeps {
  state: SimState;
  clock: SimClock;
  engine: DeployEngine;
  recorder: Recorder;
  spec: SpecValidator;
  freePlanAllowed: boolean;
}

/** Throws a 400 listing the spec violations, if any. */
export function assertSpec(errors: Array<{ message: string }>): void {
  if (errors.length > 0) throw new ApiError(400, errors.map((e) => e.message).join('; '));
}

/** A route under one of the caller's services: its handler gets the service (404/403 otherwise, docs/render-api.md §3). */
export function serviceRoute(
  state: SimState, method: string, route: string, handler: (svc: ServiceRec, ctx: RequestContext) => HandlerResult | Promise<HandlerResult>,
): RouteDef {
  return { method, route, handler: (ctx) => handler(requireService(state, ctx.account, ctx.params.serviceId ?? ''), ctx) };
}
