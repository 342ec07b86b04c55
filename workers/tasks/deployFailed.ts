import type { DeploymentFailure, DeploymentStatus } from '../../server/deployments/types.js';

/** A step ended the deployment with a reason the user can act on. */
export class DeployFailed extends Error {
  constructor(public readonly failure: DeploymentFailure, public readonly status: DeploymentStatus = 'failed') {
    super(failure.message);
  }
}
