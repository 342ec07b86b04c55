import type { Logger } from '../logger.js';
import type { AuditLog } from './auditLog.js';

/**
 * The worker's WorkerContext.onFinished, as an audit entry in the owner's trail: which deployment,
 * its final status and how long it took. Fire and forget: a failed audit write is logged and never
 * fails the job (the deployment record itself is already final).
 */
export function auditDeployFinished(audit: AuditLog, logger: Logger) {
  return (status: string, durationMs: number, deployment: { deploymentId: string; userId: number }): void => {
    audit.append({
      userId: deployment.userId, action: 'deploy_finished', outcome: status === 'live' || status === 'deactivated' ? 'success' : 'failure',
      detail: { deploymentId: deployment.deploymentId, status, durationMs: Math.max(0, Math.round(durationMs)) },
    }).catch((err: Error) => logger.error({ err: { message: err.message }, deploymentId: deployment.deploymentId }, 'audit append failed'));
  };
}
