import { randomBytes } from 'node:crypto';
import { fakeSha, formatUs, newId, type SimClock } from './clock.js';
import { createDeployNarrator } from './deploy-narration.js';
import type { Recorder } from './records.js';
import { deploysOf, nextSeq, type DeployRec, type ServiceRec, type SimState } from './state.js';
import type { BuildFailureMatch, BuildFailureStatus, DeployPhase, DeployStatus, RenderSimOptions } from './types.js';
import { withoutTrailingSlashes } from '../text.js';

/**
 * The deploy state machine of docs/render-api.md §6.1: created → build_in_progress →
 * [pre_deploy_in_progress] → update_in_progress → live, one active deploy per service, later ones
 * `queued` (FIFO), the previous `live` one `deactivated` when a new one goes live.
 */

export const IN_PROGRESS: ReadonlySet<DeployStatus> = new Set(['created', 'build_in_progress', 'pre_deploy_in_progress', 'update_in_progress']);
/** Per the Render CLI (docs/render-api.md §6.1). */
export const CANCELABLE = IN_PROGRESS;

const FAILURE_OF: Partial<Record<DeployStatus, BuildFailureStatus>> = {
  build_in_progress: 'build_failed',
  pre_deploy_in_progress: 'pre_deploy_failed',
  update_in_progress: 'update_failed',
};

interface DeployRequest {
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
  /** Deploys of matching services that enter `phase` stay in it until the returned release is called; then they move on at once. */
  hold(match: BuildFailureMatch, phase: DeployPhase): () => void;
  hasActive(serviceId: string): boolean;
  /** Stops the timers of one service's deploys (service deleted). */
  dropService(serviceId: string): void;
  stopAll(): void;
  /** Restarts the phase timers of deploys that were in progress when the state was saved. */
  resumeAll(): void;
}

interface DeployEngineOptions {
  phaseMs: Record<DeployPhase, number>;
  manual: boolean;
  /** Called after every status change (the sandbox saves its state then). */
  onChange?: () => void;
  commitOf?: RenderSimOptions['commitOf'];
  commitOnBranch?: RenderSimOptions['commitOnBranch'];
}

export function createDeployEngine(state: SimState, clock: SimClock, rec: Recorder, opts: DeployEngineOptions): DeployEngine {
  const setStatus = (d: DeployRec, status: DeployStatus) => {
    d.status = status;
    d.updatedUs = clock.nowUs();
    opts.onChange?.();
  };

  const narrator = createDeployNarrator(state, rec);
  // A test that must see a phase holds it instead of betting that its observer looks within the phase's time.
  const holds = new Set<{ match: BuildFailureMatch; phase: DeployPhase; held: Set<DeployRec> }>();
  const holdOf = (d: DeployRec) => {
    const svc = state.services.get(d.serviceId);
    for (const h of holds) if (svc && h.phase === d.status && matches(h.match, svc)) return h;
    return null;
  };

  const schedule = (d: DeployRec) => {
    if (opts.manual || !IN_PROGRESS.has(d.status)) return;
    const hold = holdOf(d);
    if (hold) {
      hold.held.add(d);
      return;
    }
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

  const goLive = (d: DeployRec) => {
    for (const other of deploysOf(state, d.serviceId)) {
      if (other !== d && other.status === 'live') setStatus(other, 'deactivated');
    }
    narrator.wentLive(d);
    finish(d, 'live');
  };

  function advance(d: DeployRec): boolean {
    if (!IN_PROGRESS.has(d.status)) return false;
    if (d.timer) clearTimeout(d.timer);
    d.timer = null;
    const current = d.status;
    if (d.failWith && FAILURE_OF[current] === d.failWith) {
      narrator.stopped(d, d.failWith);
      finish(d, d.failWith);
      return true;
    }
    const next = d.phases[d.phases.indexOf(current) + 1];
    if (current !== 'created') narrator.passed(d, current);
    if (!next) {
      goLive(d);
      return true;
    }
    setStatus(d, next);
    if (d.startedUs === null) d.startedUs = d.updatedUs;
    narrator.entered(d, next);
    schedule(d);
    return true;
  }

  const hasAny = (serviceId: string) => deploysOf(state, serviceId).length > 0;
  const hasActive = (serviceId: string) => deploysOf(state, serviceId).some((x) => IN_PROGRESS.has(x.status));

  const takeFailure = (svc: ServiceRec, phases: DeployStatus[]): BuildFailureStatus | null => {
    for (const rule of state.buildFailures) {
      if (rule.remaining <= 0 || !matches(rule.match, svc)) continue;
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
        const sha = req.commitId ?? opts.commitOf?.(svc.repo, svc.branch) ?? fakeSha();
        commit = { id: sha, message: commitMessage(svc.name), createdAt: formatUs(nowUs) };
      }
      const skipBuild = Boolean(image) || req.deployMode === 'deploy_only';
      const env = (svc.details.envSpecificDetails ?? {}) as Record<string, string | undefined>;
      const phases: DeployStatus[] = ['created'];
      if (!skipBuild) phases.push('build_in_progress');
      const hasUpdate = svc.type !== 'static_site';
      // A named commit the branch does not have: the build's checkout fails (see docs/render-api.md §6.3).
      const missing = !skipBuild && req.commitId !== undefined && svc.repo !== null && opts.commitOnBranch?.(svc.repo, svc.branch, req.commitId) === false;
      const failWith = missing ? 'build_failed' : takeFailure(svc, hasUpdate ? [...phases, 'update_in_progress'] : phases);
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
      narrator.stopped(d, 'canceled');
      finish(d, 'canceled');
    },
    hold(match, phase) {
      const h = { match: { ...match }, phase, held: new Set<DeployRec>() };
      holds.add(h);
      return () => {
        holds.delete(h);
        for (const d of h.held) if (d.status === phase) advance(d);
        h.held.clear();
      };
    },
    hasActive,
    dropService(serviceId) {
      for (const d of deploysOf(state, serviceId)) {
        if (d.timer) clearTimeout(d.timer);
        d.timer = null;
      }
    },
    stopAll() {
      holds.clear();
      for (const d of state.deploys.values()) {
        if (d.timer) clearTimeout(d.timer);
        d.timer = null;
      }
    },
    resumeAll() {
      for (const d of state.deploys.values()) if (!d.timer) schedule(d);
    },
  };
}

function matches(m: BuildFailureMatch, svc: ServiceRec): boolean {
  if (m.serviceId && m.serviceId !== svc.id) return false;
  if (m.serviceName && m.serviceName !== svc.name) return false;
  return !m.repo || normalizeRepo(m.repo) === normalizeRepo(svc.repo ?? '');
}

function normalizeRepo(repo: string): string {
  const trimmed = repo.trim().toLowerCase().replace(/\.git$/, '');
  return withoutTrailingSlashes(trimmed).replace(/^https?:\/\/(www\.)?github\.com\//, '');
}

const MESSAGES = ['Fix typo in README', 'Update dependencies', 'Add health check endpoint', 'Refactor config loading', 'Bump version'];

function commitMessage(name: string): string {
  return `${MESSAGES[name.length % MESSAGES.length]} (${name})`;
}
