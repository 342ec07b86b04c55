import { instanceOf, type Recorder } from './records.js';
import type { DeployRec, SimState } from './state.js';
import type { DeployStatus } from './types.js';

/**
 * What a moving deploy leaves behind, apart from its status: build log lines as Render prints
 * them (cloning, build command, upload, "Your service is live") and service events
 * (build_started/ended, pre_deploy_started/ended, deploy_started/ended, server_available).
 */
interface DeployNarrator {
  /** The deploy just entered an active phase. */
  entered(d: DeployRec, phase: DeployStatus): void;
  /** The deploy finished `phase` successfully and moves on. */
  passed(d: DeployRec, phase: DeployStatus): void;
  /** The deploy went live. */
  wentLive(d: DeployRec): void;
  /** The deploy stops in its current phase with a failure or `canceled`. */
  stopped(d: DeployRec, status: DeployStatus): void;
}

const STATUS_CODE = { succeeded: 2, failed: 3, canceled: 4 } as const; // the deprecated integer `status`
type Outcome = keyof typeof STATUS_CODE;

export function createDeployNarrator(state: SimState, rec: Recorder): DeployNarrator {
  const svcOf = (d: DeployRec) => state.services.get(d.serviceId);
  const log = (d: DeployRec, message: string, level = 'info') =>
    rec.log({ resourceId: d.serviceId, ownerId: svcOf(d)?.ownerId ?? null, message, type: 'build', level });
  const env = (d: DeployRec) => (svcOf(d)?.details.envSpecificDetails ?? {}) as Record<string, string | undefined>;

  const trigger = (d: DeployRec) => ({
    firstBuild: d.firstBuild,
    envUpdated: false,
    manual: false,
    deployedByRender: false,
    clearCache: d.clearCache,
    rollback: d.rollbackTargetId !== null,
    ...(d.rollbackTargetId ? { rollbackTargetDeployId: d.rollbackTargetId } : {}),
  });
  const ended = (outcome: Outcome) => ({
    status: STATUS_CODE[outcome],
    reason: outcome === 'failed' ? { failure: { evicted: false, nonZeroExit: 1 } } : {},
  });
  const phaseEnded = (d: DeployRec, phase: DeployStatus, outcome: Outcome) => {
    if (phase === 'build_in_progress') {
      rec.event(d.serviceId, 'build_ended', { buildId: d.buildId, buildStatus: outcome, ...ended(outcome) });
    } else if (phase === 'pre_deploy_in_progress') {
      rec.event(d.serviceId, 'pre_deploy_ended', { deployCommandExecutionId: d.preDeployId, deployId: d.id, preDeployStatus: outcome, ...ended(outcome) });
    }
  };
  const uploaded = (d: DeployRec) => {
    log(d, '==> Uploading build...');
    log(d, '==> Uploaded in 2.1s. Compression took 0.8s');
    log(d, '==> Build successful 🎉');
  };

  return {
    entered(d, phase) {
      const svc = svcOf(d);
      const e = env(d);
      if (phase === 'build_in_progress') {
        rec.event(d.serviceId, 'build_started', { buildId: d.buildId, trigger: trigger(d) });
        if (svc?.repo) {
          log(d, `==> Cloning from ${svc.repo}`);
          log(d, `==> Checking out commit ${d.commit?.id ?? 'HEAD'} in branch ${svc.branch ?? 'main'}`);
        }
        if (e.dockerfilePath !== undefined) log(d, `==> Building Docker image from ${e.dockerfilePath || './Dockerfile'}`);
        else log(d, `==> Running build command '${e.buildCommand ?? (typeof svc?.details.buildCommand === 'string' ? svc.details.buildCommand : '')}'...`);
      } else if (phase === 'pre_deploy_in_progress') {
        rec.event(d.serviceId, 'pre_deploy_started', { deployCommandExecutionId: d.preDeployId, deployId: d.id });
        log(d, `==> Running pre-deploy command '${e.preDeployCommand ?? ''}'...`);
      } else if (phase === 'update_in_progress') {
        rec.event(d.serviceId, 'deploy_started', { deployId: d.id, trigger: trigger(d) });
        if (d.image) log(d, `==> Pulling image ${d.image.ref}...`);
        log(d, '==> Deploying...');
        if (e.startCommand) log(d, `==> Running '${e.startCommand}'`);
      }
    },
    passed(d, phase) {
      phaseEnded(d, phase, 'succeeded');
      if (phase === 'build_in_progress') uploaded(d);
    },
    wentLive(d) {
      const svc = svcOf(d);
      if (svc?.type === 'web_service' || svc?.type === 'private_service') {
        rec.log({ resourceId: d.serviceId, ownerId: svc.ownerId, message: 'Server listening on port 10000', type: 'app', instance: instanceOf(d.serviceId) });
      }
      log(d, '==> Your service is live 🎉');
      // Static sites have no update phase, so their deploy starts and ends together.
      if (!d.phases.includes('update_in_progress')) rec.event(d.serviceId, 'deploy_started', { deployId: d.id, trigger: trigger(d) });
      rec.event(d.serviceId, 'deploy_ended', { deployId: d.id, deployStatus: 'succeeded', ...ended('succeeded') });
      rec.event(d.serviceId, 'server_available', {});
    },
    stopped(d, status) {
      const outcome: Outcome = status === 'canceled' ? 'canceled' : 'failed';
      // A deploy canceled while queued never started: it has no build log (and must not write into the running one's).
      if (status === 'canceled') { if (d.status !== 'queued') log(d, '==> Deploy canceled'); } else if (status === 'build_failed') {
        log(d, 'error: build command exited with code 1', 'error');
        log(d, '==> Build failed 😞', 'error');
      } else if (status === 'pre_deploy_failed') log(d, '==> Pre-deploy command failed with exit status 1', 'error');
      else {
        log(d, '==> Exited with status 1', 'error');
        log(d, '==> Deploy failed: the service did not become healthy', 'error');
      }
      phaseEnded(d, d.status, outcome);
      if (d.status !== 'created' && d.status !== 'queued') {
        rec.event(d.serviceId, 'deploy_ended', { deployId: d.id, deployStatus: outcome, ...ended(outcome) });
      }
    },
  };
}
