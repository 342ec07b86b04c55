import { z } from 'zod';
import { blueprintServices } from './blueprintServices.js';
import { STACKS, type DetectedStack, type StackName } from './types.js';
import { SERVICE_TYPE_PRESETS, serviceTypeOfBlueprint } from './serviceTypes.js';
import { cronScheduleProblem } from '../deployments/cron.js';
import { firstControl } from './lines.js';

// Just the fields we read from the repository's render.yaml; Render's own
// POST /blueprints/validate is the judge of the whole file.
const serviceSchema = z.object({
  type: z.string(),
  name: z.string().optional(),
  runtime: z.string().optional(),
  env: z.string().optional(), // deprecated alias of runtime
  buildCommand: z.string().optional(),
  startCommand: z.string().optional(),
  staticPublishPath: z.string().optional(),
  dockerfilePath: z.string().optional(),
  schedule: z.string().optional(),
});

/**
 * The stack the blueprint's first deployable service declares (web service, static site, background
 * worker, private service, or cron job with a valid schedule), or null if it declares none we can use.
 */
export function stackFromBlueprint(raw: string): DetectedStack | null {
  // Linear-time reader of the services block; null when the file is not plain block-style YAML.
  const services = blueprintServices(raw);
  for (const entry of services ?? []) {
    if (entry === 'not a mapping') continue;
    const svc = serviceSchema.safeParse(entry);
    if (!svc.success) continue;
    const runtime = svc.data.runtime ?? svc.data.env;
    if (!runtime || !(STACKS as readonly string[]).includes(runtime)) continue;
    const serviceType = serviceTypeOfBlueprint(svc.data.type, runtime);
    if (!serviceType) continue;
    const stack = runtime as StackName;
    const label = svc.data.name && isPrintable(svc.data.name) ? ` "${svc.data.name}"` : '';
    const what = SERVICE_TYPE_PRESETS[serviceType].label.toLowerCase();
    let cron: { schedule: string } | Record<string, never> = {};
    if (serviceType === 'cron_job') {
      if (svc.data.schedule === undefined || cronScheduleProblem(svc.data.schedule) !== null) continue;
      cron = { schedule: svc.data.schedule.trim() };
    }
    if ((stack === 'static') !== (serviceType === 'static_site')) continue; // e.g. a worker with runtime static
    if (stack === 'static') {
      return {
        stack, serviceType: 'static_site', runtime: 'static',
        buildCommand: svc.data.buildCommand ?? '', startCommand: null, publishPath: svc.data.staticPublishPath ?? 'public',
        reason: `render.yaml declares the static site${label}.`,
      };
    }
    if (stack === 'docker') {
      return {
        stack, serviceType, runtime: 'docker', buildCommand: '', startCommand: null, ...cron,
        dockerfilePath: svc.data.dockerfilePath ?? './Dockerfile',
        reason: `render.yaml declares the Docker ${what}${label}.`,
      };
    }
    if (svc.data.buildCommand === undefined || svc.data.startCommand === undefined) continue;
    return {
      stack, serviceType, runtime, ...cron,
      buildCommand: svc.data.buildCommand, startCommand: svc.data.startCommand,
      reason: `render.yaml declares the ${runtime} ${what}${label}${'schedule' in cron ? `, on the schedule "${cron.schedule}"` : ''}.`,
    };
  }
  return null;
}

/**
 * Whether a name from the repository can be quoted to the user as is: no control characters (a
 * terminal escape, a line break) and no bidirectional overrides, which could make the sentence lie.
 */
function isPrintable(name: string): boolean {
  return firstControl(name) === null;
}
