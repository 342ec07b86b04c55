import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** Render's service types (the spec's `serviceType` enum), in the order the deploy form offers them. */
export const SERVICE_TYPES = ['web_service', 'background_worker', 'cron_job', 'private_service', 'static_site'] as const;
export type ServiceTypeName = (typeof SERVICE_TYPES)[number];

/** One preset per type in templates/types/: what the form says about it and the rules a request must follow. */
const serviceTypeSchema = z.object({
  type: z.enum(SERVICE_TYPES),
  label: z.string().min(1),
  /** The render.yaml `type:` of this kind of service (static sites are `type: web` with `runtime: static`). */
  blueprintType: z.enum(['web', 'worker', 'cron', 'pserv']).nullable(),
  /** Render refuses the free instance type for workers, cron jobs and private services. */
  freePlan: z.boolean(),
  /** Static sites have no instance type at all. */
  hasPlan: z.boolean(),
  needsSchedule: z.boolean(),
  needsStartCommand: z.boolean(),
  description: z.string().min(1),
}).strict();
type ServiceTypePreset = z.infer<typeof serviceTypeSchema>;

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      if (statSync(join(dir, 'package.json')).isFile()) return dir;
    } catch { /* keep climbing */ }
    const up = dirname(dir);
    if (up === dir) throw new Error('service types: package root (package.json) not found');
    dir = up;
  }
}

/** Read once at start (five small files; request validation needs them synchronously). A broken preset fails loudly. */
function readPresets(): Record<ServiceTypeName, ServiceTypePreset> {
  const dir = join(packageRoot(), 'templates', 'types');
  const out: Partial<Record<ServiceTypeName, ServiceTypePreset>> = {};
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    const parsed = serviceTypeSchema.safeParse(JSON.parse(readFileSync(join(dir, name), 'utf8')));
    if (!parsed.success) throw new Error(`templates/types/${name}: ${z.prettifyError(parsed.error)}`);
    if (`${parsed.data.type}.json` !== name) throw new Error(`templates/types/${name}: type "${parsed.data.type}" does not match the file name`);
    out[parsed.data.type] = parsed.data;
  }
  for (const t of SERVICE_TYPES) if (!out[t]) throw new Error(`templates/types/${t}.json is missing`);
  return out as Record<ServiceTypeName, ServiceTypePreset>;
}

export const SERVICE_TYPE_PRESETS: Readonly<Record<ServiceTypeName, ServiceTypePreset>> = readPresets();

/** The service type a render.yaml `type:` declares (null for types we do not deploy: keyvalue, redis…). */
export function serviceTypeOfBlueprint(type: string, runtime: string | undefined): ServiceTypeName | null {
  if (type === 'web' && runtime === 'static') return 'static_site';
  return SERVICE_TYPES.find((t) => SERVICE_TYPE_PRESETS[t].blueprintType === type) ?? null;
}
