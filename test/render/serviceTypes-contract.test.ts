// Issue 15: the POST /services body the worker builds for each service type validates against Render's
// spec: the whole request through the contract server, and serviceDetails against its own type's
// variant (the spec's oneOf overlaps, so the contract server alone would accept a wrong variant).
import test from 'ava';
import { serviceDetailsFor } from '../../workers/tasks/serviceDetails.js';
import type { DeploymentRecord, DetectedStackSummary } from '../../server/deployments/types.js';
import type { ServiceType } from '../../server/render/types.js';
import { createSpecValidator } from '../../sandbox/render/spec-schemas.js';
import * as fx from './support/fixtures.js';
import { clientFor, startServer } from './support/harness.js';

const VARIANT: Record<ServiceType, string> = {
  web_service: 'webServiceDetailsPOST', static_site: 'staticSiteDetailsPOST', private_service: 'privateServiceDetailsPOST',
  background_worker: 'backgroundWorkerDetailsPOST', cron_job: 'cronJobDetailsPOST',
};
const sim = createSpecValidator();

function record(serviceType: ServiceType, runtime: string, extra: Partial<DetectedStackSummary> = {}): DeploymentRecord {
  const stack: DetectedStackSummary = {
    stack: runtime, runtime, serviceType, buildCommand: runtime === 'docker' ? '' : 'npm ci', startCommand: runtime === 'docker' ? null : 'node run.js',
    reason: '', fromBlueprint: false, schedule: serviceType === 'cron_job' ? '0 3 * * *' : null, publishPath: serviceType === 'static_site' ? 'dist' : null, ...extra,
  };
  return { request: { plan: 'starter', region: 'frankfurt' }, stack } as unknown as DeploymentRecord;
}

for (const type of Object.keys(VARIANT) as ServiceType[]) {
  for (const runtime of type === 'static_site' ? ['static'] : ['node', 'docker']) {
    test(`${type} (${runtime}): serviceDetails match the spec`, async (t) => {
      const details = serviceDetailsFor(record(type, runtime));
      t.deepEqual(sim.check(VARIANT[type], details), [], JSON.stringify(details));
      const server = await startServer(t, () => ({ status: 201, json: { service: fx.service(), deployId: fx.DEPLOY_ID } }));
      await clientFor(server).createService({ type, name: 'x', ownerId: fx.OWNER_ID, repo: 'https://github.com/a/b', autoDeploy: 'yes', serviceDetails: details });
      t.deepEqual(server.violations, []);
      if (type === 'cron_job') t.is((details as { schedule: string }).schedule, '0 3 * * *');
      if (type === 'static_site') t.is((details as { publishPath: string }).publishPath, 'dist');
      if (runtime === 'docker' && type !== 'static_site') t.like(details, { runtime: 'docker', envSpecificDetails: { dockerfilePath: './Dockerfile' } });
    });
  }
}
