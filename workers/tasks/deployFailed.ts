import type { DeploymentFailure, DeploymentRecord, DeploymentStatus } from '../../server/deployments/types.js';

/** A step ended the deployment with a reason the user can act on; `fields`: what it found, written with the end. */
export class DeployFailed extends Error {
  readonly failure: DeploymentFailure;
  readonly status: DeploymentStatus;
  readonly fields: Partial<DeploymentRecord>;
  constructor(failure: DeploymentFailure, status: DeploymentStatus = 'failed', fields: Partial<DeploymentRecord> = {}) {
    super(failure.message);
    this.failure = failure;
    this.status = status;
    this.fields = fields;
  }
}
