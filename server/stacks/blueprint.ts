import { z } from 'zod';
import { blueprintServices, declaredKeys } from './blueprintServices.js';

export { isEmptyBlueprint } from './blueprintServices.js';
import { STACKS, StackDetectionError, type DetectedStack, type StackName } from './types.js';
import { SERVICE_TYPE_PRESETS, serviceTypeOfBlueprint } from './serviceTypes.js';
import { cronScheduleProblem } from '../deployments/cron.js';
import { firstControl } from './lines.js';
import { sameRepo } from '../render/serviceNames.js';
import type { AutoDeploy } from '../render/types.js';
import { isBranchName } from '../deployments/input.js';

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
  dockerContext: z.string().optional(),
  dockerCommand: z.string().optional(),
  schedule: z.string().optional(),
  rootDir: z.string().optional(),
  repo: z.string().optional(),
});

/**
 * The stack the blueprint's first deployable service declares (web service, static site, background
 * worker, private service, or cron job with a valid schedule), or null if it declares none we can use.
 * `repo` is the repository the file was read from (`owner/name`): a service that names another in its
 * `repo:` is built from that one on Render, so it says nothing about this repository's code and is
 * skipped (without `repo`, every service that names one is). `branch` is the branch the deploy builds (the
 * form's, the API's, else the repository's default): a service's `branch:` is compared with it, never used
 * instead of it (branchNote); without it, the service's `branch:` is named as not applied.
 */
export function stackFromBlueprint(raw: string, repo?: string, branch?: string): DetectedStack | null {
  // Linear-time reader of the services block; null when the file is not plain block-style YAML.
  const services = blueprintServices(raw);
  for (const entry of services ?? []) {
    if (entry === 'not a mapping') continue;
    // Entries the checks below skip anyway, skipped before zod: a failed safeParse builds an error
    // (~1.5 µs), and a 256 KiB file holds ~25,000 tiny entries (`- name: 1`), ~40 ms of CPU in all.
    if (typeof entry.type !== 'string' || !(isStack(entry.runtime) || isStack(entry.env))) continue;
    const svc = serviceSchema.safeParse(entry);
    if (!svc.success) continue;
    // "If omitted, uses the repo containing the render.yaml file" (spec/render.yaml.json): one naming
    // another repository (Render's own example file names render-examples/webdis) is that one's service.
    // Deployed from this repository, its rootDir and commands ran against code they were not written for.
    if (svc.data.repo !== undefined && !(repo !== undefined && sameRepo(svc.data.repo, repo))) continue;
    const runtime = svc.data.runtime ?? svc.data.env;
    if (!runtime || !(STACKS as readonly string[]).includes(runtime)) continue;
    const serviceType = serviceTypeOfBlueprint(svc.data.type, runtime);
    if (!serviceType) continue;
    const stack = runtime as StackName;
    let cron: { schedule: string } | Record<string, never> = {};
    if (serviceType === 'cron_job') {
      if (svc.data.schedule === undefined || cronScheduleProblem(svc.data.schedule) !== null) continue;
      cron = { schedule: svc.data.schedule.trim() };
    }
    if ((stack === 'static') !== (serviceType === 'static_site')) continue; // e.g. a worker with runtime static
    const { buildCommand, startCommand } = svc.data;
    if (stack !== 'static' && stack !== 'docker' && (buildCommand === undefined || startCommand === undefined)) continue;
    // The service is the one deployed from here on: its paths are judged only now. A service skipped above
    // (a cron job with no valid schedule, a node one without a start command) is not deployed, and a path of
    // its outside the repository refused the deploy of the service after it.
    // A monorepo's service lives in rootDir: Render runs its commands there, and nothing outside it is
    // the service's (render.com/docs/monorepo-support). Created without it, the commands ran at the root.
    const rootDir = rootDirOf(svc.data.rootDir);
    const inDir = rootDir ? { rootDir } : {};
    const label = (svc.data.name && isPrintable(svc.data.name) ? ` "${svc.data.name}"` : '') + (rootDir ? ` in ${rootDir}/` : '');
    const what = SERVICE_TYPE_PRESETS[serviceType].label.toLowerCase();
    const auto = autoDeployOf(entry);
    const branchSaid = branchNote(entry.branch, branch);
    const applied = new Set([...auto.applied, ...(branchSaid === null ? [] : ['branch'])]);
    const fieldNotes = `${auto.note}${branchSaid ?? ''}${notApplied(declaredKeys(entry), applied)}`;
    const autoDeploy = auto.autoDeploy ? { autoDeploy: auto.autoDeploy } : {};
    if (stack === 'static') {
      return {
        stack, serviceType: 'static_site', runtime: 'static', ...inDir, ...autoDeploy,
        buildCommand: buildCommand ?? '', startCommand: null, publishPath: inRepo('staticPublishPath', svc.data.staticPublishPath) ?? 'public',
        reason: `render.yaml declares the static site${label}.${fieldNotes}`,
      };
    }
    if (stack === 'docker') {
      return {
        // dockerCommand replaces the image's CMD on Render (sent as such: serviceDetails.ts).
        stack, serviceType, runtime: 'docker', buildCommand: '', startCommand: svc.data.dockerCommand?.trim() || null, ...cron, ...inDir, ...autoDeploy,
        dockerfilePath: inRepo('dockerfilePath', svc.data.dockerfilePath) ?? './Dockerfile',
        // The directory the image is built from: a Dockerfile's COPY lines are relative to it.
        ...(svc.data.dockerContext?.trim() ? { dockerContext: inRepo('dockerContext', svc.data.dockerContext.trim()) } : {}),
        reason: `render.yaml declares the Docker ${what}${label}.${fieldNotes}`,
      };
    }
    return {
      stack, serviceType, runtime, ...cron, ...inDir, ...autoDeploy,
      buildCommand: buildCommand ?? '', startCommand: startCommand ?? null, // both given (above)
      reason: `render.yaml declares the ${runtime} ${what}${label}${'schedule' in cron ? `, on the schedule "${cron.schedule}"` : ''}.${fieldNotes}`,
    };
  }
  return null;
}

/**
 * The fields of a Blueprint service (spec/render.yaml.json) that a deploy through this app does not apply:
 * it creates one service from the detected stack and the form's choices (plan, region, branch, env vars).
 * A render.yaml that declares them (a DATABASE_URL fromDatabase, a generateValue secret, a migration in
 * preDeployCommand) went live without them, the reason saying only what was used. autoDeploy,
 * autoDeployTrigger and branch are here for a value this app does not take (autoDeployOf, branchNote).
 */
const NOT_APPLIED = [
  'envVars', 'preDeployCommand', 'autoDeploy', 'autoDeployTrigger', 'buildFilter', 'disk', 'plan', 'region', 'branch',
  'numInstances', 'scaling', 'healthCheckPath', 'domain', 'domains', 'previews', 'pullRequestPreviewsEnabled', 'previewPlan',
  'initialDeployHook', 'maxShutdownDelaySeconds', 'maintenanceMode', 'ipAllowList', 'renderSubdomainPolicy', 'registryCredential', 'headers', 'routes',
] as const;

/** The sentence that says which of NOT_APPLIED the service declares and were not `applied` ('' for none): names from the list above, never the file's text. */
function notApplied(keys: ReadonlySet<string>, applied: ReadonlySet<string>): string {
  const named = NOT_APPLIED.filter((k) => keys.has(k) && !applied.has(k));
  if (named.length === 0) return '';
  const list = named.length === 1 ? named[0] : `${named.slice(0, -1).join(', ')} and ${named.at(-1)}`;
  return ` Its ${list} in render.yaml ${named.length === 1 ? 'is' : 'are'} not applied by this deploy (Deploy as Blueprint applies the whole file).`;
}

const TRIGGERS: Record<string, AutoDeploy> = { off: 'no', commit: 'yes', checksPass: 'no' };
const TRIGGER_NOTES: Record<string, string> = {
  off: ' Auto-deploy is off, as its autoDeployTrigger in render.yaml says.',
  checksPass: ' Its autoDeployTrigger checksPass cannot be set through Render\'s API, so auto-deploy is off: a push deploys nothing until you redeploy, or turn auto-deploy on in the service\'s settings (then every push deploys, checks passed or not).',
};

/**
 * The service's auto-deploy as POST /services takes it (`yes|no`: the create body has no
 * autoDeployTrigger, spec/render-openapi.json servicePOST), from its autoDeployTrigger (`off|commit|
 * checksPass`), else its autoDeploy (a boolean); `applied` the fields taken, `note` what the reason says of
 * it. checksPass ("wait for the branch to be green") cannot be asked for, so the service is created with
 * auto-deploy off: on, every push deployed, checks passed or not. A value the schema does not allow is
 * not taken (Render's validation refuses the file before a deploy creates anything), and stays named as
 * not applied in what the form shows.
 */
function autoDeployOf(entry: Record<string, unknown>): { autoDeploy?: AutoDeploy; applied: string[]; note: string } {
  const trigger = entry.autoDeployTrigger;
  const flag = typeof entry.autoDeploy === 'boolean' ? (entry.autoDeploy ? 'yes' : 'no') : undefined;
  if (typeof trigger === 'string' && Object.hasOwn(TRIGGERS, trigger)) {
    const autoDeploy = TRIGGERS[trigger]!;
    // autoDeploy beside it is taken when it says the same; else the trigger decides, and it is named as not applied.
    const applied = ['autoDeployTrigger', ...(flag === autoDeploy ? ['autoDeploy'] : [])];
    return { autoDeploy, applied, note: TRIGGER_NOTES[trigger] ?? '' };
  }
  if (flag === undefined) return { applied: [], note: '' };
  return { autoDeploy: flag, applied: ['autoDeploy'], note: flag === 'no' ? ' Auto-deploy is off, as its autoDeploy in render.yaml says.' : '' };
}

/**
 * What the reason says of the service's `branch:`, given the branch the deploy builds: '' when they are the
 * same (the service is created on it), a sentence naming both when not, null when either is unknown or not a
 * name (then `branch` is named as not applied). The deploy builds the branch it was asked for, never the
 * file's: that branch's files are the ones detected (render.yaml among them), verified and pinned to a commit,
 * and what the form showed; the user picks the other to deploy that one.
 */
function branchNote(declared: unknown, deployed: string | undefined): string | null {
  if (typeof declared !== 'string' || declared === '' || deployed === undefined) return null;
  if (declared === deployed) return '';
  const building = quotable(deployed) ? `"${deployed}", the branch asked for` : 'the branch asked for';
  return quotable(declared)
    ? ` Its branch in render.yaml is "${declared}": this deploy builds ${building} (deploy "${declared}" to build that one).`
    : ` Its branch in render.yaml is another one: this deploy builds ${building}.`;
}

/** A branch name the reason may quote: one this app deploys (no quotes, controls or invisible characters), of a readable length. */
const quotable = (name: string): boolean => name.length <= 100 && isBranchName(name);

const isStack = (value: unknown): boolean => typeof value === 'string' && (STACKS as readonly string[]).includes(value);

/**
 * render.yaml's rootDir as Render takes it, relative to the repository's root ("./apps/api/" is
 * "apps/api"); undefined for none or the root itself. One that is not a directory inside the repository
 * (absolute, or climbing out with "..") is refused: Render could not build from it.
 */
function rootDirOf(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  let dir = raw.trim();
  while (dir.startsWith('./')) dir = dir.slice(2);
  while (dir.endsWith('/')) dir = dir.slice(0, -1);
  if (dir === '' || dir === '.') return undefined;
  if (dir.startsWith('/') || dir.split('/').some((s) => s === '..' || s === '.' || s === '')) {
    throw new StackDetectionError(`render.yaml's rootDir ${JSON.stringify(raw.slice(0, 80))} is not a directory inside the repository. Make it a path from the repository's root, such as apps/api.`);
  }
  return dir;
}

/**
 * A path render.yaml gives relative to the repository's root (Render's Blueprint spec says so of
 * dockerfilePath, dockerContext and staticPublishPath), as written; one that leaves the repository
 * (absolute, or with a ".." segment) is refused as rootDir is: it was sent to Render as written, a
 * Docker build from "../../etc/passwd" or a static site publishing "../../etc".
 */
function inRepo(field: 'dockerfilePath' | 'dockerContext' | 'staticPublishPath', raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const path = raw.trim();
  if (path.startsWith('/') || path.split('/').some((s) => s === '..')) {
    throw new StackDetectionError(`render.yaml's ${field} ${JSON.stringify(raw.slice(0, 80))} is not inside the repository. Make it a path from the repository's root, such as ${field === 'dockerfilePath' ? './Dockerfile' : field === 'dockerContext' ? '.' : 'dist'}.`);
  }
  return path;
}

/**
 * Whether a name from the repository can be quoted to the user as is: no control characters (a
 * terminal escape, a line break) and no bidirectional overrides, which could make the sentence lie.
 */
function isPrintable(name: string): boolean {
  return firstControl(name) === null;
}
