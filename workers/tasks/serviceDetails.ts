import type { ServicePOST } from '../../server/render/types.js';
import type { components } from '../../server/render/schema.js';
import type { DeploymentRecord } from '../../server/deployments/types.js';

type Schemas = components['schemas'];
type Details = NonNullable<ServicePOST['serviceDetails']>;

/**
 * `serviceDetails` of POST /services for the deployment's service type, per the vendored spec
 * (docs/render-api.md, "Service types"): static sites take a build command and publish path; web
 * services, private services and background workers a runtime, plan, region and build/start (or
 * Docker) details; cron jobs the same plus their schedule, with the full `envSpecificDetails` (the
 * spec's cron variant requires dockerCommand, dockerContext and dockerfilePath together).
 */
export function serviceDetailsFor(rec: DeploymentRecord): Details {
  const stack = rec.stack!;
  if (stack.serviceType === 'static_site') {
    const site: Schemas['staticSiteDetailsPOST'] = { buildCommand: stack.buildCommand, publishPath: stack.publishPath ?? 'public' };
    return site;
  }
  const docker = stack.runtime === 'docker';
  const dockerfilePath = stack.dockerfilePath ?? './Dockerfile';
  const dockerContext = stack.dockerContext ?? '.'; // render.yaml's, else the root
  const runtime = stack.runtime as Schemas['serviceRuntime'];
  const plan = rec.request.plan as Schemas['paidPlan'];
  const region = rec.request.region as Schemas['region'];
  if (stack.serviceType === 'cron_job') {
    const cron: Schemas['cronJobDetailsPOST'] = {
      runtime, plan, region, schedule: stack.schedule ?? '',
      envSpecificDetails: docker
        ? { dockerCommand: stack.startCommand ?? '', dockerContext, dockerfilePath }
        : { buildCommand: stack.buildCommand || 'true', startCommand: stack.startCommand ?? 'true' },
    };
    return cron;
  }
  // A Docker service's start command, given by the user, is Render's dockerCommand: it replaces the image's CMD.
  const envSpecificDetails: Schemas['envSpecificDetailsPOST'] = docker
    ? { dockerfilePath, dockerContext, ...(stack.startCommand ? { dockerCommand: stack.startCommand } : {}) }
    : { buildCommand: stack.buildCommand || 'true', startCommand: stack.startCommand ?? 'true' };
  const server: Schemas['webServiceDetailsPOST'] | Schemas['backgroundWorkerDetailsPOST'] | Schemas['privateServiceDetailsPOST'] = {
    runtime, plan: plan as Schemas['plan'], region, envSpecificDetails,
  };
  return server;
}
