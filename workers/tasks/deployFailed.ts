import type { DeploymentFailure, DeploymentRecord, DeploymentStatus } from '../../server/deployments/types.js';

/** A step ended the deployment with a reason the user can act on; `fields`: what it found, written with the end. */
export class DeployFailed extends Error {
  constructor(public readonly failure: DeploymentFailure, public readonly status: DeploymentStatus = 'failed', public readonly fields: Partial<DeploymentRecord> = {}) {
    super(failure.message);
  }
}
