import type { DeploymentRecord, DetectedStackSummary } from '../../server/deployments/types.js';
import { SERVICE_TYPE_PRESETS, type ServiceTypeName } from '../../server/stacks/serviceTypes.js';
import { DeployFailed } from './deployFailed.js';

/**
 * The service type to create: the one chosen in the form, else the detected one. Refuses (before any
 * Render write) a combination Render cannot run: a server type for a plain static site, a build
 * command for a Docker service (Render takes none), a start command for a static site (none runs), a start command missing, a cron job without a schedule, or the free plan for a type that has none.
 */
export function withServiceType(rec: DeploymentRecord, detected: DetectedStackSummary): DetectedStackSummary {
  const chosen = rec.request.serviceType ?? null;
  const serviceType = (chosen ?? detected.serviceType) as ServiceTypeName;
  const preset = SERVICE_TYPE_PRESETS[serviceType];
  if (!preset) throw new DeployFailed({ code: 'service_type_unknown', message: `Unknown service type ${serviceType}.` });
  const schedule = rec.request.schedule ?? (serviceType === 'cron_job' ? detected.schedule ?? null : null);
  const summary: DetectedStackSummary = { ...detected, serviceType, schedule: serviceType === 'cron_job' ? schedule : null };
  if (chosen && chosen !== detected.serviceType) summary.reason = `${detected.reason} Deployed as a ${preset.label.toLowerCase()}, as chosen in the form.`;
  if (serviceType === 'static_site') {
    // The route refuses a start command with a static site chosen in the form; one the repository makes a static
    // site (its render.yaml, detection) would be created with the command dropped: Render runs nothing for it.
    if (rec.request.startCommand) {
      throw new DeployFailed({ code: 'start_command_not_supported', message: 'This repository deploys as a static site, which Render serves from its built files and runs no start command for. Nothing was created; deploy without a start command, or choose "Web service" to run it.' });
    }
    if (detected.serviceType !== 'static_site') summary.publishPath = detected.publishPath ?? 'public';
    return summary;
  }
  if (detected.runtime === 'static') {
    throw new DeployFailed({ code: 'service_type_mismatch', message: `This repository is a plain static site (no server to run), so it cannot be a ${preset.label.toLowerCase()}. Deploy it as a static site, or add a server (package.json, a Dockerfile…).` });
  }
  if (detected.runtime === 'docker' && rec.request.buildCommand) {
    // Render builds a Docker service's image from its Dockerfile and takes no build command for it
    // (serviceDetails.ts): sent nowhere, it would only be shown as if it ran.
    throw new DeployFailed({ code: 'build_command_not_supported', message: 'This repository is built from its Dockerfile, which Render runs instead of a build command. Nothing was created; put the build step in the Dockerfile, or deploy without a build command.' });
  }
  if (preset.needsStartCommand && detected.runtime !== 'docker' && !summary.startCommand) {
    throw new DeployFailed({ code: 'start_command_missing', message: `A ${preset.label.toLowerCase()} needs a start command and none was detected: enter one in the deploy form.` });
  }
  if (preset.needsSchedule && !summary.schedule) {
    throw new DeployFailed({ code: 'schedule_missing', message: 'A cron job needs a schedule: enter one in the deploy form (e.g. "0 3 * * *").' });
  }
  if (!preset.freePlan && rec.request.plan === 'free') {
    throw new DeployFailed({ code: 'plan_not_allowed', message: `Render has no free instance type for a ${preset.label.toLowerCase()}: deploy again with the Starter plan or above.` });
  }
  return summary;
}
