import { formatUs } from './clock.js';
import type { AuditRec, DeployRec, EnvGroupRec, EnvVarRec, EventRec, LogRec, ServiceRec, WorkspaceRec } from './state.js';

/** Response shapes of the spec, built field by field. Unset optional fields are JSON null, as Render sends them. */

const DASHBOARD_KIND: Record<ServiceRec['type'], string> = {
  web_service: 'web',
  static_site: 'static',
  private_service: 'pserv',
  background_worker: 'worker',
  cron_job: 'cron',
};

export function presentService(s: ServiceRec) {
  return {
    id: s.id,
    autoDeploy: s.autoDeploy,
    branch: s.branch,
    buildFilter: s.buildFilter,
    createdAt: formatUs(s.createdUs),
    dashboardUrl: `https://dashboard.render.com/${DASHBOARD_KIND[s.type]}/${s.id}`,
    environmentId: s.environmentId,
    imagePath: s.image?.imagePath ?? null,
    name: s.name,
    notifyOnFail: s.notifyOnFail,
    ownerId: s.ownerId,
    registryCredential: null,
    repo: s.repo,
    rootDir: s.rootDir,
    slug: s.slug,
    suspended: s.suspended,
    suspenders: [...s.suspenders],
    type: s.type,
    updatedAt: formatUs(s.updatedUs),
    serviceDetails: structuredClone(s.details),
  };
}

export function presentDeploy(d: DeployRec) {
  return {
    id: d.id,
    commit: d.commit ? { ...d.commit } : null,
    image: d.image ? { ...d.image } : null,
    status: d.status,
    trigger: d.trigger,
    startedAt: d.startedUs === null ? null : formatUs(d.startedUs),
    finishedAt: d.finishedUs === null ? null : formatUs(d.finishedUs),
    createdAt: formatUs(d.createdUs),
    updatedAt: formatUs(d.updatedUs),
  };
}

export function presentOwner(w: WorkspaceRec) {
  const base = { id: w.id, name: w.name, email: w.email, type: w.type, ipAllowList: [] as never[] };
  return w.type === 'user' ? { ...base, twoFactorAuthEnabled: false } : base;
}

export function presentEnvVar(e: EnvVarRec) {
  return { key: e.key, value: e.value };
}

export function presentLog(l: LogRec) {
  return {
    id: l.id,
    message: l.message,
    timestamp: formatUs(l.us),
    labels: Object.entries(l.labels).map(([name, value]) => ({ name, value })),
  };
}

export function presentAudit(a: AuditRec) {
  return {
    id: a.id,
    timestamp: formatUs(a.us),
    event: a.event,
    status: a.status,
    actor: { ...a.actor },
    metadata: { ...a.metadata },
  };
}

export function presentEvent(e: EventRec) {
  return { id: e.id, timestamp: formatUs(e.us), serviceId: e.serviceId, type: e.type, details: structuredClone(e.details) };
}

/** `envGroupMeta`: the group and the services linked to it, no values (the list's items). */
export function presentEnvGroupMeta(g: EnvGroupRec, services: ReadonlyMap<string, ServiceRec>) {
  const links = g.serviceIds.map((id) => services.get(id)).filter((x): x is ServiceRec => x !== undefined)
    .map((x) => ({ id: x.id, name: x.name, type: DASHBOARD_KIND[x.type] }));
  return { id: g.id, name: g.name, ownerId: g.ownerId, createdAt: formatUs(g.createdUs), updatedAt: formatUs(g.updatedUs), serviceLinks: links };
}

/** `envGroup`: the meta with its env vars' values and secret files' contents (an audited read). */
export function presentEnvGroup(g: EnvGroupRec, services: ReadonlyMap<string, ServiceRec>) {
  return {
    ...presentEnvGroupMeta(g, services),
    envVars: g.envVars.map(presentEnvVar),
    secretFiles: g.secretFiles.map((f) => ({ name: f.name, content: f.content })),
  };
}
