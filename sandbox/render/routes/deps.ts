import type { SimClock } from '../clock.js';
import type { DeployEngine } from '../deploy-engine.js';
import { ApiError } from '../errors.js';
import type { Recorder } from '../records.js';
import type { SpecValidator } from '../spec-schemas.js';
import type { SimState } from '../state.js';

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
