import { randomBytes } from 'node:crypto';
import { newId } from './clock.js';
import { ApiError, badRequest } from './errors.js';
import { isObject } from './router.js';
import type { SpecValidator } from './spec-schemas.js';
import type { ServiceRec, SimState } from './state.js';
import { assertSpec } from './routes/deps.js';
import { trimRuns } from '../text.js';

/**
 * Turns a `servicePOST` body into a stored service, and applies `servicePATCH` bodies.
 * Defaults follow the spec ("plan defaults to starter", "region defaults to oregon",
 * "numInstances defaults to 1") and the real web-service body quoted in docs/render-api.md §5.2.
 */

type ServiceType = ServiceRec['type'];
type Obj = Record<string, unknown>;

const POST_DETAILS: Record<ServiceType, string> = {
  web_service: 'webServiceDetailsPOST',
  static_site: 'staticSiteDetailsPOST',
  private_service: 'privateServiceDetailsPOST',
  background_worker: 'backgroundWorkerDetailsPOST',
  cron_job: 'cronJobDetailsPOST',
};

const PATCH_DETAILS: Record<ServiceType, string> = {
  web_service: 'webServiceDetailsPATCH',
  static_site: 'staticSiteDetailsPATCH',
  private_service: 'privateServiceDetailsPATCH',
  background_worker: 'backgroundWorkerDetailsPATCH',
  cron_job: 'cronJobDetailsPATCH',
};

const CONTAINER_RUNTIMES = new Set(['docker', 'image']);

interface NewServiceInput {
  body: Obj;
  id: string;
  seq: number;
  nowUs: number;
}

/** Validates a POST /services body (throws 400) and builds the record; envVars are set by the caller. */
export function buildService(spec: SpecValidator, state: SimState, { body, id, seq, nowUs }: NewServiceInput): ServiceRec {
  assertSpec(spec.check('servicePOST', body));
  const type = body.type as ServiceType;
  const details: Obj = isObject(body.serviceDetails) ? body.serviceDetails : {};
  assertSpec(spec.check(POST_DETAILS[type], details).map((e) => ({ message: `serviceDetails.${e.message}` })));

  const repo = typeof body.repo === 'string' ? body.repo : null;
  const image = isObject(body.image) ? (body.image as unknown as NonNullable<ServiceRec['image']>) : null;
  if (!repo && !image) throw badRequest('either repo or image must be provided');
  if (repo && !/^https?:\/\/[^\s/]+\/[^\s]+$/.test(repo)) throw badRequest(`invalid repo URL: ${repo}`);
  const name = String(body.name).trim();
  if (!name) throw badRequest('name must not be empty');

  const runtime = type === 'static_site' ? null : (textOf(details.runtime) ?? textOf(details.env) ?? (image ? 'image' : ''));
  const region = typeof details.region === 'string' ? details.region : 'oregon';
  const slug = slugify(name);
  const host = uniqueHost(state, slug);

  const svc: ServiceRec = {
    seq,
    id,
    ownerId: String(body.ownerId),
    name,
    type,
    repo,
    branch: repo ? (typeof body.branch === 'string' ? body.branch : 'main') : null,
    image,
    autoDeploy: body.autoDeploy === 'no' ? 'no' : 'yes',
    rootDir: typeof body.rootDir === 'string' ? body.rootDir : '',
    buildFilter: isObject(body.buildFilter) ? (body.buildFilter as ServiceRec['buildFilter']) : null,
    environmentId: typeof body.environmentId === 'string' ? body.environmentId : null,
    notifyOnFail: 'default',
    slug,
    createdUs: nowUs,
    updatedUs: nowUs,
    suspended: 'not_suspended',
    suspenders: [],
    details: {},
    envVars: [],
  };
  svc.details = type === 'static_site'
    ? staticDetails(details, host)
    : serverDetails(type, details, runtime ?? 'node', region, id, host);
  return svc;
}

/**
 * A pull request's preview of `parent` (what Render makes when previews are on and a PR opens): a service
 * of its own, of the parent's type, owner, repo and settings, on the PR's branch, whose details point at the
 * parent in `parentServer`. The name is the simulator's choice (`<parent>-pr-<n>`).
 */
export function buildPreview(state: SimState, parent: ServiceRec, { pullRequest, branch, id, seq, nowUs }: { pullRequest: number; branch: string; id: string; seq: number; nowUs: number }): ServiceRec {
  const name = `${parent.name}-pr-${pullRequest}`;
  const slug = slugify(name);
  const details: Obj = { ...structuredClone(parent.details), parentServer: { id: parent.id, name: parent.name } };
  const host = uniqueHost(state, slug);
  if ('url' in details) details.url = parent.type === 'private_service' ? `${host}:10000` : `https://${host}.onrender.com`;
  // Its own instance: its own SSH address, no share of the parent's disk, and no previews of its own.
  if ('sshAddress' in details) details.sshAddress = `${id}@ssh.${String(details.region)}.render.com`;
  delete details.disk;
  if ('previews' in details) Object.assign(details, { previews: { generation: 'off' }, pullRequestPreviewsEnabled: 'no' });
  return {
    ...structuredClone(parent),
    seq, id, name, slug, branch,
    createdUs: nowUs, updatedUs: nowUs,
    suspended: 'not_suspended', suspenders: [],
    details,
    customDomains: [],
  };
}

function envSpecific(runtime: string, details: Obj): Obj {
  const given: Obj = isObject(details.envSpecificDetails) ? details.envSpecificDetails : {};
  const pre = typeof details.preDeployCommand === 'string' && details.preDeployCommand ? { preDeployCommand: details.preDeployCommand } : {};
  if (CONTAINER_RUNTIMES.has(runtime)) {
    return {
      dockerCommand: typeof given.dockerCommand === 'string' ? given.dockerCommand : '',
      dockerContext: typeof given.dockerContext === 'string' ? given.dockerContext : '.',
      dockerfilePath: typeof given.dockerfilePath === 'string' ? given.dockerfilePath : './Dockerfile',
      ...pre,
    };
  }
  if (typeof given.buildCommand !== 'string' || typeof given.startCommand !== 'string') {
    throw badRequest(`serviceDetails.envSpecificDetails must include buildCommand and startCommand for runtime ${runtime}`);
  }
  return { buildCommand: given.buildCommand, startCommand: given.startCommand, ...pre };
}

function previewsOf(details: Obj): { previews: Obj; pullRequestPreviewsEnabled: string } {
  const pr = details.pullRequestPreviewsEnabled === 'yes' ? 'yes' : 'no';
  const previews = isObject(details.previews) ? { ...details.previews } : { generation: pr === 'yes' ? 'automatic' : 'off' };
  return { previews, pullRequestPreviewsEnabled: pr };
}

function serverDetails(type: ServiceType, d: Obj, runtime: string, region: string, id: string, host: string): Obj {
  const base: Obj = {
    buildPlan: 'starter',
    env: runtime,
    envSpecificDetails: envSpecific(runtime, d),
    plan: typeof d.plan === 'string' ? d.plan : 'starter',
    region,
    runtime,
  };
  if (type === 'cron_job') return { ...base, schedule: d.schedule, lastSuccessfulRunAt: null };
  Object.assign(base, {
    numInstances: typeof d.numInstances === 'number' ? d.numInstances : 1,
    maxShutdownDelaySeconds: typeof d.maxShutdownDelaySeconds === 'number' ? d.maxShutdownDelaySeconds : 30,
    sshAddress: `${id}@ssh.${region}.render.com`,
    ...previewsOf(d),
  });
  if (isObject(d.autoscaling)) base.autoscaling = d.autoscaling;
  if (isObject(d.disk)) base.disk = { id: newId('dsk'), name: d.disk.name, sizeGB: d.disk.sizeGB ?? 1, mountPath: d.disk.mountPath };
  if (type === 'background_worker') return base;
  base.openPorts = [{ port: 10000, protocol: 'TCP' }];
  if (type === 'private_service') return { ...base, url: `${host}:10000` };
  return {
    ...base,
    healthCheckPath: typeof d.healthCheckPath === 'string' ? d.healthCheckPath : '',
    ipAllowList: Array.isArray(d.ipAllowList) ? d.ipAllowList : [],
    maintenanceMode: isObject(d.maintenanceMode) ? d.maintenanceMode : { enabled: false, uri: '' },
    renderSubdomainPolicy: typeof d.renderSubdomainPolicy === 'string' ? d.renderSubdomainPolicy : 'enabled',
    url: `https://${host}.onrender.com`,
  };
}

function staticDetails(d: Obj, host: string): Obj {
  return {
    buildCommand: typeof d.buildCommand === 'string' ? d.buildCommand : '',
    buildPlan: 'starter',
    ipAllowList: Array.isArray(d.ipAllowList) ? d.ipAllowList : [],
    publishPath: typeof d.publishPath === 'string' ? d.publishPath : 'public',
    renderSubdomainPolicy: typeof d.renderSubdomainPolicy === 'string' ? d.renderSubdomainPolicy : 'enabled',
    url: `https://${host}.onrender.com`,
    ...previewsOf(d),
  };
}

/** Validates and applies a PATCH body (throws 400); returns whether the name changed. */
export function applyServicePatch(spec: SpecValidator, svc: ServiceRec, body: Obj): { renamed: boolean } {
  assertSpec(spec.check('servicePATCH', body));
  if (body.serviceDetails !== undefined) {
    assertSpec(spec.check(PATCH_DETAILS[svc.type], body.serviceDetails).map((e) => ({ message: `serviceDetails.${e.message}` })));
  }
  if (typeof body.repo === 'string' && !/^https?:\/\/[^\s/]+\/[^\s]+$/.test(body.repo)) throw badRequest(`invalid repo URL: ${body.repo}`);
  if (typeof body.name === 'string' && !body.name.trim()) throw badRequest('name must not be empty');
  const renamed = typeof body.name === 'string' && body.name !== svc.name;
  if (typeof body.name === 'string') svc.name = body.name.trim();
  if (body.autoDeploy === 'yes' || body.autoDeploy === 'no') svc.autoDeploy = body.autoDeploy;
  if (typeof body.repo === 'string') svc.repo = body.repo;
  if (typeof body.branch === 'string') svc.branch = body.branch;
  if (typeof body.rootDir === 'string') svc.rootDir = body.rootDir;
  if (isObject(body.buildFilter)) svc.buildFilter = body.buildFilter as ServiceRec['buildFilter'];
  if (isObject(body.image)) svc.image = body.image as unknown as NonNullable<ServiceRec['image']>;
  if (isObject(body.serviceDetails)) {
    for (const [k, v] of Object.entries(body.serviceDetails)) {
      if (k === 'envSpecificDetails' && isObject(v)) {
        svc.details.envSpecificDetails = { ...(svc.details.envSpecificDetails as Obj | undefined), ...v };
      } else if (k === 'preDeployCommand') {
        svc.details.envSpecificDetails = { ...(svc.details.envSpecificDetails as Obj | undefined), preDeployCommand: v };
      } else if (k === 'runtime') {
        svc.details.runtime = v;
        svc.details.env = v;
      } else {
        svc.details[k] = v;
      }
    }
  }
  return { renamed };
}

export function assertPlanAllowed(details: Obj, type: ServiceType, freePlanAllowed: boolean, hasPaymentInfo: boolean): void {
  if (type === 'static_site') return; // static sites have no instance type
  const plan = typeof details.plan === 'string' ? details.plan : 'starter';
  if (plan === 'free') {
    if (!freePlanAllowed) throw badRequest('free instance types cannot be created through the API');
    return;
  }
  if (!hasPaymentInfo) throw new ApiError(402, 'payment information is required to create a service on a paid instance type');
}

function slugify(name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return trimRuns(slug, '-') || 'service';
}

/** Hostname prefix, with a random suffix when another service already has it (as onrender.com does). */
function uniqueHost(state: SimState, slug: string): string {
  const taken = new Set<string>();
  for (const s of state.services.values()) {
    const url = (s.details.url as string | undefined) ?? '';
    const m = /^(?:https:\/\/)?([^.:]+)/.exec(url);
    if (m?.[1]) taken.add(m[1]);
  }
  return taken.has(slug) ? `${slug}-${randomBytes(2).toString('hex')}` : slug;
}

/** A string field of a request body, or undefined for anything else. */
function textOf(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
