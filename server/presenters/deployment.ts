import type { DeploymentRecord } from '../deployments/types.js';
import { isTerminal } from '../deployments/types.js';

/** What a client may see of a deployment: never the session ref or the key fingerprint. */
export function presentDeployment(rec: DeploymentRecord) {
  return {
    id: rec.id,
    kind: rec.kind,
    status: rec.status,
    finished: isTerminal(rec.status),
    request: {
      githubRepo: rec.request.githubRepo,
      serviceName: rec.request.serviceName,
      branch: rec.request.branch,
      ownerId: rec.request.ownerId,
      region: rec.request.region || null,
      plan: rec.request.plan || null,
      envVarKeys: rec.request.envVarKeys,
      buildCommand: rec.request.buildCommand,
      startCommand: rec.request.startCommand,
      serviceType: rec.request.serviceType ?? null,
      schedule: rec.request.schedule ?? null,
    },
    stack: rec.stack,
    commitSha: rec.commitSha,
    renderCommitId: rec.renderCommitId ?? null,
    serviceId: rec.serviceId,
    deployId: rec.deployId,
    dashboardUrl: rec.dashboardUrl,
    serviceUrl: rec.serviceUrl,
    failure: rec.failure,
    replacedBy: rec.replacedBy ? { deploymentId: rec.replacedBy.deploymentId, deployId: rec.replacedBy.deployId, at: rec.replacedBy.at } : null,
    serviceDeleted: Boolean(rec.serviceDeletedAt),
    timeline: rec.timeline.map((t) => ({ status: t.status, at: t.at, source: t.source, note: t.note ?? null })),
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt,
    finishedAt: rec.finishedAt,
  };
}
