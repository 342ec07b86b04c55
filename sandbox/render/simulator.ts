import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { addAccount } from './accounts.js';
import { createApiHandler } from './api-handler.js';
import { createClock, newId, parseTimeUs } from './clock.js';
import { createControlHandler } from './control.js';
import { createDeployEngine } from './deploy-engine.js';
import { createFaultSet } from './faults.js';
import { createRequestHolds } from './request-holds.js';
import { createSleeper, send } from './http.js';
import { createRateLimiter, resolveRateLimits } from './rate-limits.js';
import { createRecorder, instanceOf } from './records.js';
import { createRouter } from './router.js';
import { auditLogRoutes } from './routes/audit-logs.js';
import { blueprintRoutes } from './routes/blueprints.js';
import { deployRoutes } from './routes/deploys.js';
import type { RouteDeps } from './routes/deps.js';
import { envGroupRoutes } from './routes/env-groups.js';
import { envVarRoutes } from './routes/env-vars.js';
import { secretFileRoutes } from './routes/secret-files.js';
import { customDomainRoutes } from './routes/custom-domains.js';
import { eventRoutes } from './routes/events.js';
import { logRoutes } from './routes/logs.js';
import { ownerRoutes } from './routes/owners.js';
import { serviceRoutes } from './routes/services.js';
import { buildPreview } from './service-builder.js';
import { sharedSpecValidator } from './spec-schemas.js';
import { createState, nextSeq, restoreState, snapshotState, type SimState } from './state.js';
import { createJsonStateFile } from '../persist.js';
import type { DeployPhase, RenderSimOptions, RenderSimulator, SimCall, SimStats } from './types.js';

const DEFAULT_PHASE_MS = 40;

/** Starts the Render API simulator on 127.0.0.1 (docs/render-api.md §19). */
export async function startRenderSimulator(opts: RenderSimOptions = {}): Promise<RenderSimulator> {
  const clock = createClock(opts.now);
  const state: SimState = createState();
  const saved = opts.stateFile ? createJsonStateFile(opts.stateFile, () => snapshotState(state)) : null;
  const loaded = saved?.load();
  if (loaded) {
    try { Object.assign(state, restoreState(loaded)); } catch (err) { throw new Error(`${opts.stateFile}: ${(err as Error).message}`, { cause: err }); }
  }
  const changed = () => saved?.changed();
  const recorder = createRecorder(state, clock);
  const phaseMs: Record<DeployPhase, number> = {
    created: opts.phaseMs?.created ?? DEFAULT_PHASE_MS,
    build_in_progress: opts.phaseMs?.build_in_progress ?? DEFAULT_PHASE_MS,
    pre_deploy_in_progress: opts.phaseMs?.pre_deploy_in_progress ?? DEFAULT_PHASE_MS,
    update_in_progress: opts.phaseMs?.update_in_progress ?? DEFAULT_PHASE_MS,
  };
  const engine = createDeployEngine(state, clock, recorder, { phaseMs, manual: opts.manualDeploys ?? false, onChange: changed, commitOf: opts.commitOf, commitOnBranch: opts.commitOnBranch });
  const faults = createFaultSet();
  const holds = createRequestHolds();
  const limiter = createRateLimiter(resolveRateLimits(opts.rateLimits), () => clock.nowMs());
  const sleeper = createSleeper();
  const calls: SimCall[] = [];
  const counters = { requests: 0, rateLimited: 0, seq: 0, byRoute: new Map<string, number>() };
  const hung = new Set<ServerResponse>();

  const deps: RouteDeps = { state, clock, engine, recorder, spec: sharedSpecValidator(), freePlanAllowed: opts.freePlanAllowed ?? true };
  const router = createRouter([
    ...ownerRoutes(deps),
    ...serviceRoutes(deps),
    ...deployRoutes(deps),
    ...envVarRoutes(deps),
    ...envGroupRoutes(deps),
    ...secretFileRoutes(deps),
    ...customDomainRoutes(deps),
    ...eventRoutes(deps),
    ...logRoutes(deps),
    ...auditLogRoutes(deps),
    ...blueprintRoutes(deps),
  ]);
  const handleApi = createApiHandler({ state, clock, router, faults, holds, limiter, sleeper, latencyMs: opts.latencyMs ?? 0, calls, maxCalls: opts.maxCalls ?? 10_000, counters, hung });
  const handleControl = createControlHandler(() => sim);

  const server = createServer((req, res) => {
    // Simpler than listing which requests write; a world that did not change is not rewritten.
    if (saved) res.once('finish', changed);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    const handle = path === '/v1' || path.startsWith('/v1/')
      ? handleApi(req, res, path.slice(3) || '/', url.searchParams)
      : path === '/__control' || path.startsWith('/__control/')
        ? handleControl(req, res, path.slice('/__control'.length) || '/')
        : Promise.resolve(send(res, 404, { message: 'not found' }));
    handle.catch((err: unknown) => {
      process.stderr.write(`render simulator: ${(err as Error).stack ?? String(err)}\n`);
      send(res, 500, { message: 'internal server error' });
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;

  const dropHung = () => {
    for (const res of hung) res.socket?.destroy();
    hung.clear();
  };

  const sim: RenderSimulator = {
    url: `${base}/v1`,
    controlUrl: `${base}/__control`,
    restored: Boolean(loaded),
    addAccount: (input) => { const account = addAccount(state, input); changed(); return account; },
    revokeKey(apiKey) {
      state.keys.delete(apiKey);
      state.revokedKeys.add(apiKey);
      changed();
    },
    setWorkspaces(accountId, workspaceIds, rename = {}) {
      const account = state.accounts.get(accountId);
      if (!account) throw new Error(`setWorkspaces: no account ${accountId}`);
      for (const id of [...workspaceIds, ...Object.keys(rename)]) if (!state.workspaces.has(id)) throw new Error(`setWorkspaces: no workspace ${id}`);
      account.workspaceIds = [...workspaceIds];
      for (const [id, name] of Object.entries(rename)) state.workspaces.get(id)!.name = name;
      changed();
    },
    setFault: (rule) => faults.add(rule),
    clearFault: (id) => faults.remove(id),
    clearFaults: () => faults.clear(),
    holdRequest: (rule) => holds.add(rule),
    failBuilds(match, status, count = 1) {
      if (!['build_failed', 'update_failed', 'pre_deploy_failed'].includes(status)) throw new Error(`failBuilds: unknown status ${status}`);
      state.buildFailures.push({ match: { ...match }, status, remaining: count });
      changed();
    },
    holdPhase: (match, phase) => engine.hold(match, phase),
    addPreview(parentServiceId, { pullRequest, branch }) {
      const parent = state.services.get(parentServiceId);
      if (!parent) throw new Error(`addPreview: unknown service ${parentServiceId}`);
      if (parent.type === 'cron_job') throw new Error('addPreview: cron jobs have no previews');
      if (!parent.repo) throw new Error('addPreview: pull request previews are of services built from a repository');
      const preview = buildPreview(state, parent, { pullRequest, branch: branch ?? `pr-${pullRequest}`, id: newId('srv'), seq: nextSeq(state), nowUs: clock.nowUs() });
      state.services.set(preview.id, preview);
      changed();
      return preview.id;
    },
    advanceDeploy(deployId) {
      if (!state.deploys.has(deployId)) throw new Error(`advanceDeploy: unknown deploy ${deployId}`);
      engine.advance(deployId);
      changed();
    },
    appendLog(resourceId, message, logOpts = {}) {
      const svc = state.services.get(resourceId);
      const type = logOpts.type ?? 'app';
      recorder.log({
        resourceId,
        ownerId: svc?.ownerId ?? null,
        message,
        type,
        level: logOpts.level ?? 'info',
        ...(svc && type === 'app' ? { instance: instanceOf(svc.id) } : {}),
        ...(logOpts.timestamp ? { us: parseTimeUs(logOpts.timestamp) ?? undefined } : {}),
      });
      changed();
    },
    addAuditEvent(ownerId, event, metadata = {}, auditOpts = {}) {
      if (!state.workspaces.has(ownerId)) throw new Error(`addAuditEvent: unknown owner ${ownerId}`);
      if (!event) throw new Error('addAuditEvent: event is required');
      const actor = [...state.accounts.values()].find((a) => a.workspaceIds.includes(ownerId)) ?? null;
      recorder.audit({ ownerId, event, actor, actorType: auditOpts.actorType ?? 'user', metadata, status: auditOpts.status });
      changed();
    },
    setAuditLogAccess(apiKey, allowed) {
      const account = state.accounts.get(state.keys.get(apiKey) ?? '');
      if (!account) throw new Error('setAuditLogAccess: unknown API key');
      account.auditLogs = allowed;
      changed();
    },
    addServiceEvent(serviceId, type, details = {}) {
      if (!state.services.has(serviceId)) throw new Error(`addServiceEvent: unknown service ${serviceId}`);
      if (!type) throw new Error('addServiceEvent: type is required');
      recorder.event(serviceId, type, details);
      changed();
    },
    configureDns(name) {
      const dns = (state.dnsReady ??= []);
      if (!dns.includes(name)) dns.push(name);
      changed();
    },
    calls,
    stats(): SimStats {
      return { requests: counters.requests, rateLimited: counters.rateLimited, byRoute: Object.fromEntries(counters.byRoute) };
    },
    reset() {
      engine.stopAll();
      Object.assign(state, createState());
      faults.clear();
      holds.releaseAll();
      limiter.reset();
      calls.length = 0;
      counters.requests = 0;
      counters.rateLimited = 0;
      counters.byRoute.clear();
      dropHung();
      changed();
    },
    async close() {
      engine.stopAll();
      saved?.close();
      sleeper.cancelAll();
      holds.releaseAll();
      dropHung();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
  // Deploys that were moving when the state was saved move on from where they were.
  if (loaded) engine.resumeAll();
  return sim;
}
