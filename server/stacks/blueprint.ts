import { z } from 'zod';
import { blueprintServices } from './blueprintServices.js';
import { STACKS, type DetectedStack, type StackName } from './types.js';

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
});

/** The stack the blueprint's first web service declares, or null if it declares none we can use. */
export function stackFromBlueprint(raw: string): DetectedStack | null {
  // Linear-time reader of the services block; null when the file is not plain block-style YAML.
  const services = blueprintServices(raw);
  for (const entry of services ?? []) {
    if (entry === 'not a mapping') continue;
    const svc = serviceSchema.safeParse(entry);
    if (!svc.success || svc.data.type !== 'web') continue;
    const runtime = svc.data.runtime ?? svc.data.env;
    if (!runtime || !(STACKS as readonly string[]).includes(runtime)) continue;
    const stack = runtime as StackName;
    const label = svc.data.name ? ` "${svc.data.name}"` : '';
    if (stack === 'static') {
      return {
        stack, serviceType: 'static_site', runtime: 'static',
        buildCommand: svc.data.buildCommand ?? '', startCommand: null, publishPath: svc.data.staticPublishPath ?? 'public',
        reason: `render.yaml declares the static site${label}.`,
      };
    }
    if (stack === 'docker') {
      return {
        stack, serviceType: 'web_service', runtime: 'docker', buildCommand: '', startCommand: null,
        dockerfilePath: svc.data.dockerfilePath ?? './Dockerfile',
        reason: `render.yaml declares the Docker web service${label}.`,
      };
    }
    if (svc.data.buildCommand === undefined || svc.data.startCommand === undefined) continue;
    return {
      stack, serviceType: 'web_service', runtime,
      buildCommand: svc.data.buildCommand, startCommand: svc.data.startCommand,
      reason: `render.yaml declares the ${runtime} web service${label}.`,
    };
  }
  return null;
}
