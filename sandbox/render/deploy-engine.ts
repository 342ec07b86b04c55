import { randomBytes } from 'node:crypto';
import { fakeSha, formatUs, newId, type SimClock } from './clock.js';
import { instanceOf, type Recorder } from './records.js';
import { deploysOf, nextSeq, type DeployRec, type ServiceRec, type SimState } from './state.js';
import type { BuildFailureStatus, DeployPhase, DeployStatus } from './types.js';

/**
 * The deploy state machine of REFERENCE §6.1: created → build_in_progress →
 * [pre_deploy_in_progress] → update_in_progress → live, one active deploy per service, later ones
 * `queued` (FIFO), the previous `live` one `deactivated` when a new one goes live.
 */

export const IN_PROGRESS: ReadonlySet<DeployStatus> = new Set(['created', 'build_in_progress', 'pre_deploy_in_progress', 'update_in_progress']);
/** Per the Render CLI (REFERENCE §6.1). */
export const CANCELABLE = IN_PROGRESS;
const TERMINAL: ReadonlySet<DeployStatus> = new Set(['live', 'deactivated', 'build_failed', 'update_failed', 'pre_deploy_failed', 'canceled']);

const FAILURE_OF: Partial<Record<DeployStatus, BuildFailureStatus>> = {
  build_in_progress: 'build_failed',
  pre_deploy_in_progress: 'pre_deploy_failed',
  update_in_progress: 'update_failed',
};

export interface DeployRequest {
  trigger: string;
  commitId?: string;
  clearCache?: boolean;
  deployMode?: 'deploy_only' | 'build_and_deploy';
  /** Roll back to this deploy's commit/image. */
  rollbackOf?: DeployRec;
}

export interface DeployEngine {
  /** Creates a deploy; it starts now or is queued behind the active one. */
  create(service: ServiceRec, req: DeployRequest): DeployRec;
  /** One phase forward; false when the deploy is queued or already finished. */
  advance(deployId: string): boolean;
  cancel(deploy: DeployRec): void;
  hasActive(serviceId: string): boolean;
  /** Stops the timers of one service's deploys (service deleted). */
  dropService(serviceId: string): void;
  stopAll(): void;
}

export interface DeployEngineOptions {
  phaseMs: Record<DeployPhase, number>;
  manual: boolean;
}

export function createDeployEngine(state: SimState, clock: SimClock, rec: Recorder, opts: DeployEngineOptions): DeployEngine {
  const setStatus = (d: DeployRec, status: DeployStatus) => {
    d.status = status;
    d.updatedUs = clock.nowUs();
  };

  const service = (d: DeployRec) => state.services.get(d.serviceId);

  const buildLog = (d: DeployRec, message: string, level = 'info') => {
    const svc = service(d);
    rec.log({ resourceId: d.serviceId, ownerId: svc?.ownerId ?? null, message, type: 'build', level });
  };

  const triggerDetails = (d: DeployRec) => ({
    firstBuild: d.firstBuild,
    envUpdated: false,
    manual: false,
    deployedByRender: false,
    clearCache: d.clearCache,
    rollback: d.rollbackTargetId !== null,
    ...(d.rollbackTargetId ? { rollbackTargetDeployId: d.rollbackTargetId } : {}),
    ...(d.commit && d.trigger === 'new_commit' ? { newCommit: d.commit.id } : {}),
  });
  const OUTCOME: Partial<Record<DeployStatus, { name: string; code: number }>> = {
    live: { name: 'succeeded', code: 2 },
    canceled: { name: 'canceled', code: 4 },
  };
  const outcome = (status: DeployStatus) => OUTCOME[status] ?? { name: 'failed', code: 3 };
  const failureReason = (status: DeployStatus) => (outcome(status).name === 'failed' ? { failure: { evicted: false, nonZeroExit: 1 } } : {});

  /** Service events for leaving `phase` with `status` (the next phase's status, or a terminal one). */
  const phaseEnded = (d: DeployRec, phase: DeployStatus, status: DeployStatus) => {
    const o = outcome(status === 'live' || IN_PROGRESS.has(status) ? 'live' : status);
    if (phase === 'build_in_progress') {
      rec.event(d.serviceId, 'build_ended', { buildId: d.buildId, buildStatus: o.name, status: o.code, reason: failureReason(status) });
    } else if (phase === 'pre_deploy_in_progress') {
      rec.event(d.serviceId, 'pre_deploy_ended', { deployCommandExecutionId: d.preDeployId, deployId: d.id, preDeployStatus: o.name, status: o.code, reason: failureReason(status) });
    }
  };

  const schedule = (d: DeployRec) => {
    if (opts.manual || !IN_PROGRESS.has(d.status)) return;
    const ms = opts.phaseMs[d.status as DeployPhase];
    if (ms <= 0) {
      advance(d);
      return;
    }
    d.timer = setTimeout(() => { d.timer = null; advance(d); }, ms);
    d.timer.unref();
  };

  const startNextQueued = (serviceId: string) => {
    const all = deploysOf(state, serviceId);
    if (all.some((x) => IN_PROGRESS.has(x.status))) return;
    const next = all.filter((x) => x.status === 'queued').sort((a, b) => a.seq - b.seq)[0];
    if (!next) return;
    setStatus(next, 'created');
    buildLog(next, `==> Starting deploy ${next.id} (was queued)`);
    schedule(next);
  };

  const finish = (d: DeployRec, status: DeployStatus) => {
    if (d.timer) clearTimeout(d.timer);
    d.timer = null;
    setStatus(d, status);
    d.finishedUs = d.updatedUs;
    if (d.startedUs === null) d.startedUs = d.updatedUs;
    startNextQueued(d.serviceId);
  };

  const enterPhase = (d: DeployRec, phase: DeployStatus) => {
    const svc = service(d);
    const env = (svc?.details.envSpecificDetails ?? {}) as Record<string, string | undefined>;
    const details = (svc?.details ?? {}) as Record<string, unknown>;
    if (phase === 'build_in_progress') rec.event(d.serviceId, 'build_started', { buildId: d.buildId, trigger: triggerDetails(d) });
    if (phase === 'pre_deploy_in_progress') rec.event(d.serviceId, 'pre_deploy_started', { deployCommandExecutionId: d.preDeployId, deployId: d.id });
    if (phase === 'update_in_progress') rec.event(d.serviceId, 'deploy_started', { deployId: d.id, trigger: triggerDetails(d) });
    if (phase === 'build_in_progress') {
      if (svc?.repo) {
        buildLog(d, `==> Cloning from ${svc.repo}`);
        buildLog(d, `==> Checking out commit ${d.commit?.id ?? 'HEAD'} in branch ${svc.branch ?? 'main'}`);
      }
      if (env.dockerfilePath !== undefined) {
        buildLog(d, `==> Building Docker image from ${env.dockerfilePath || './Dockerfile'}`);
      } else {
        const cmd = env.buildCommand ?? (details.buildCommand as string | undefined) ?? '';
        buildLog(d, `==> Running build command '${cmd}'...`);
      }
    } else if (phase === 'pre_deploy_in_progress') {
      buildLog(d, '==> Uploading build...');
      buildLog(d, '==> Build successful 🎉');
      buildLog(d, `==> Running pre-deploy command '${env.preDeployCommand ?? ''}'...`);
    } else if (phase === 'update_in_progress') {
      if (d.phases.includes('build_in_progress') && !d.phases.includes('pre_deploy_in_progress')) {
        buildLog(d, '==> Uploading build...');
        buildLog(d, '==> Uploaded in 2.1s. Compression took 0.8s');
        buildLog(d, '==> Build successful 🎉');
      }
      if (d.image) buildLog(d, `==> Pulling image ${d.image.ref}...`);
      buildLog(d, '==> Deploying...');
      if (env.startCommand) buildLog(d, `==> Running '${env.startCommand}'`);
    }
  };

  /** Events for a deploy that stops in its current phase (failure or cancel). */
  const endEvents = (d: DeployRec, status: DeployStatus) => {
    const phase = d.status;
    if (phase === 'build_in_progress' || phase === 'pre_deploy_in_progress') phaseEnded(d, phase, status);
    if (phase !== 'created' && phase !== 'queued') {
      const o = outcome(status);
      rec.event(d.serviceId, 'deploy_ended', { deployId: d.id, deployStatus: o.name, status: o.code, reason: failureReason(status) });
    }
  };

  const goLive = (d: DeployRec) => {
    for (const other of deploysOf(state, d.serviceId)) {
      if (other !== d && other.status === 'live') setStatus(other, 'deactivated');
    }
    const svc = service(d);
    const instance = instanceOf(d.serviceId);
    if (svc?.type === 'web_service' || svc?.type === 'private_service') {
      rec.log({ resourceId: d.serviceId, ownerId: svc.ownerId, message: 'Server listening on port 10000', type: 'app', instance });
    }
    buildLog(d, '==> Your service is live 🎉');
    if (!d.phases.includes('update_in_progress')) rec.event(d.serviceId, 'deploy_started', { deployId: d.id, trigger: triggerDetails(d) });
    rec.event(d.serviceId, 'deploy_ended', { deployId: d.id, deployStatus: 'succeeded', status: 2, reason: {} });
    rec.event(d.serviceId, 'server_available', {});
    finish(d, 'live');
  };

  const fail = (d: DeployRec, status: BuildFailureStatus) => {
    endEvents(d, status);
    if (status === 'build_failed') {
      buildLog(d, 'error: build command exited with code 1', 'error');
      buildLog(d, '==> Build failed 😞', 'error');
    } else if (status === 'pre_deploy_failed') {
      buildLog(d, '==> Pre-deploy command failed with exit status 1', 'error');
    } else {
      buildLog(d, '==> Exited with status 1', 'error');
      buildLog(d, '==> Deploy failed: the service did not become healthy', 'error');
    }
    finish(d, status);
  };

  function advance(d: DeployRec): boolean {
    if (!IN_PROGRESS.has(d.status)) return false;
    if (d.timer) clearTimeout(d.timer);
    d.timer = null;
    const current = d.status;
    if (d.failWith && FAILURE_OF[current] === d.failWith) {
      fail(d, d.failWith);
      return true;
    }
    const next = d.phases[d.phases.indexOf(current) + 1];
    phaseEnded(d, current, next ?? 'live');
    if (!next) {
      goLive(d);
      return true;
    }
    setStatus(d, next);
    if (d.startedUs === null) d.startedUs = d.updatedUs;
    enterPhase(d, next);
    schedule(d);
    return true;
  }

  const hasAny = (serviceId: string) => deploysOf(state, serviceId).length > 0;
  const hasActive = (serviceId: string) => deploysOf(state, serviceId).some((x) => IN_PROGRESS.has(x.status));

  const takeFailure = (svc: ServiceRec, phases: DeployStatus[]): BuildFailureStatus | null => {
    for (const rule of state.buildFailures) {
      if (rule.remaining <= 0) continue;
      const m = rule.match;
      if (m.serviceId && m.serviceId !== svc.id) continue;
      if (m.serviceName && m.serviceName !== svc.name) continue;
      if (m.repo && normalizeRepo(m.repo) !== normalizeRepo(svc.repo ?? '')) continue;
      const phase = Object.entries(FAILURE_OF).find(([, f]) => f === rule.status)?.[0] as DeployStatus;
      if (rule.status !== 'pre_deploy_failed' && !phases.includes(phase)) continue;
      rule.remaining -= 1;
      return rule.status;
    }
    return null;
  };

  return {
    create(svc, req) {
      const nowUs = clock.nowUs();
      const source = req.rollbackOf;
      const image = source ? source.image : svc.image
        ? { ref: svc.image.imagePath, sha: `sha256:${randomBytes(32).toString('hex')}` }
        : null;
      let commit: DeployRec['commit'] = null;
      if (source) commit = source.commit;
      else if (svc.repo) {
        const sha = req.commitId ?? fakeSha();
        svc.headSha = sha;
        commit = { id: sha, message: commitMessage(svc.name), createdAt: formatUs(nowUs) };
      }
      const skipBuild = Boolean(image) || req.deployMode === 'deploy_only';
      const env = (svc.details.envSpecificDetails ?? {}) as Record<string, string | undefined>;
      const phases: DeployStatus[] = ['created'];
      if (!skipBuild) phases.push('build_in_progress');
      const hasUpdate = svc.type !== 'static_site';
      const failWith = takeFailure(svc, hasUpdate ? [...phases, 'update_in_progress'] : phases);
      if (env.preDeployCommand || failWith === 'pre_deploy_failed') phases.push('pre_deploy_in_progress');
      if (hasUpdate) phases.push('update_in_progress');
      const active = hasActive(svc.id);
      const d: DeployRec = {
        seq: nextSeq(state),
        id: newId('dep'),
        serviceId: svc.id,
        status: active ? 'queued' : 'created',
        trigger: req.trigger,
        commit,
        image,
        createdUs: nowUs,
        updatedUs: nowUs,
        startedUs: null,
        finishedUs: null,
        phases,
        failWith,
        timer: null,
        buildId: newId('bld'),
        preDeployId: newId('dce'),
        clearCache: req.clearCache ?? false,
        firstBuild: !hasAny(svc.id),
        rollbackTargetId: source?.id ?? null,
      };
      state.deploys.set(d.id, d);
      if (!active) schedule(d);
      return d;
    },
    advance(deployId) {
      const d = state.deploys.get(deployId);
      return d ? advance(d) : false;
    },
    cancel(d) {
      buildLog(d, '==> Deploy canceled');
      endEvents(d, 'canceled');
      finish(d, 'canceled');
    },
    hasActive,
    dropService(serviceId) {
      for (const d of deploysOf(state, serviceId)) {
        if (d.timer) clearTimeout(d.timer);
        d.timer = null;
      }
    },
    stopAll() {
      for (const d of state.deploys.values()) {
        if (d.timer) clearTimeout(d.timer);
        d.timer = null;
      }
    },
  };
}

export function isTerminal(status: DeployStatus): boolean {
  return TERMINAL.has(status);
}

function normalizeRepo(repo: string): string {
  return repo.trim().toLowerCase().replace(/\.git$/, '').replace(/\/+$/, '').replace(/^https?:\/\/(www\.)?github\.com\//, '');
}

const MESSAGES = ['Fix typo in README', 'Update dependencies', 'Add health check endpoint', 'Refactor config loading', 'Bump version'];

function commitMessage(name: string): string {
  return `${MESSAGES[name.length % MESSAGES.length]} (${name})`;
}
