/** Render API simulator: a stand-in for api.render.com/v1 for tests and sandbox mode. */
export { startRenderSimulator } from './simulator.js';
export { DEFAULT_RATE_LIMITS } from './rate-limits.js';
export type {
  AppendLogOptions,
  BuildFailureMatch,
  BuildFailureStatus,
  DeployPhase,
  DeployStatus,
  FaultRule,
  RateLimitBucket,
  RateLimitConfig,
  RateLimitWindow,
  RenderSimOptions,
  RenderSimulator,
  SimAccount,
  SimAccountInput,
  SimCall,
  SimStats,
  SimWorkspace,
} from './types.js';
