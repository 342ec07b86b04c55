import { z } from 'zod';
import type { Deploy, Service } from '../render/types.js';
import { view } from '../openapi/describe.js';
import { isFailedOnRender, isInProgressOnRender } from '../deployments/renderStatus.js';
import { dashboardUrlOf, withoutUserInfo } from '../render/serviceNames.js';

/** A service's latest deploy, as Render reports it. */
export const DeploySummaryView = view('DeploySummary', z.object({
  id: z.string(), status: z.string().nullable(), commitId: z.string().nullable(), trigger: z.string().nullable(),
  createdAt: z.string().nullable(), finishedAt: z.string().nullable(),
}));
type PresentedDeploySummary = z.infer<typeof DeploySummaryView>;

/**
 * What a service card says, from the service and its latest deploy: a service whose newest build broke
 * is `deploy_failed` (Render keeps serving the previous deploy, but the last change did not ship).
 */
const SERVICE_STATES = ['suspended', 'not_deployed', 'deploying', 'live', 'deploy_failed', 'deploy_canceled', 'unknown'] as const;
type ServiceState = (typeof SERVICE_STATES)[number];

export const ServiceView = view('Service', z.object({
  id: z.string(),
  name: z.string(),
  type: z.string(),
  ownerId: z.string(),
  repo: z.string().nullable(),
  branch: z.string().nullable(),
  suspended: z.boolean(),
  state: z.enum(SERVICE_STATES),
  latestDeploy: DeploySummaryView.nullable(),
  /**
   * Whether any deploy of the service has been live (its URL serves something): null when not looked up.
   * A service whose newest build failed may still serve an older deploy; one whose builds all failed serves nothing.
   */
  beenLive: z.boolean().nullable(),
  dashboardUrl: z.string().nullable(),
  /** A pull request's preview (Render lists them with the services): the service it previews; null for any other. */
  previewOf: z.object({ id: z.string(), name: z.string() }).nullable(),
  url: z.string().nullable(),
  region: z.string().nullable(),
  plan: z.string().nullable(),
  runtime: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
}), 'A Render service of the caller (a whitelist of what Render reports).');
export type PresentedService = z.infer<typeof ServiceView>;

/** Render's optional strings as the views have them: a non-empty string, else null. */
/** A string field of Render's answer, or null when it is none (missing, empty, or not a string: Render is not trusted to keep to its spec). */
export const text = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);

function stateOf(suspended: boolean, latest: Deploy | null | undefined): ServiceState {
  if (suspended) return 'suspended';
  if (latest === undefined) return 'unknown';
  if (latest === null) return 'not_deployed';
  const s = latest.status ?? '';
  if (isInProgressOnRender(s)) return 'deploying';
  if (isFailedOnRender(s)) return 'deploy_failed';
  if (s === 'canceled') return 'deploy_canceled';
  if (s === 'live' || s === 'deactivated') return 'live';
  return 'unknown';
}

function presentDeploySummary(d: Deploy): PresentedDeploySummary {
  return {
    id: d.id, status: text(d.status), commitId: text(d.commit?.id), trigger: text(d.trigger),
    createdAt: text(d.createdAt), finishedAt: text(d.finishedAt),
  };
}

/** The service a pull request preview previews (its `serviceDetails.parentServer`); null for any other service. */
export function previewOf(s: Service): { id: string; name: string } | null {
  const p = (s.serviceDetails as { parentServer?: { id?: unknown; name?: unknown } | null } | undefined)?.parentServer;
  const id = text(p?.id);
  return id ? { id, name: text(p?.name) ?? id } : null;
}

/** A deploy that is or was live: Render keeps serving the live one whatever builds fail after it. */
export const wasLive = (d: Deploy | null | undefined): boolean => d?.status === 'live' || d?.status === 'deactivated';

/**
 * A whitelist of a Render service: anything Render adds later (or details such as env-specific
 * commands, disks, IP allow lists) never reaches the browser or the cache by accident.
 * `latest` is the service's newest deploy (null: it has none; undefined: not looked up); `beenLive`
 * whether any deploy of it has been live, when known (else what `latest` alone tells).
 */
export function presentService(s: Service, latest?: Deploy | null, beenLive?: boolean): PresentedService {
  const details = (s.serviceDetails ?? {}) as Record<string, unknown>;
  const suspended = s.suspended === 'suspended';
  return {
    id: s.id,
    name: s.name,
    type: s.type,
    ownerId: s.ownerId,
    repo: s.repo ? withoutUserInfo(s.repo) : null,
    branch: text(s.branch),
    suspended,
    state: stateOf(suspended, latest),
    latestDeploy: latest ? presentDeploySummary(latest) : null,
    beenLive: beenLive ?? (latest === undefined ? null : latest === null ? false : wasLive(latest) ? true : null),
    dashboardUrl: dashboardUrlOf(s.dashboardUrl),
    previewOf: previewOf(s),
    url: text(details.url),
    region: text(details.region),
    plan: text(details.plan),
    runtime: text(details.runtime) ?? text(details.env),
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}
