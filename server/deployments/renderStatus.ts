import type { DeployStatus } from '../render/types.js';
import type { DeploymentStatus } from './types.js';

/**
 * Render's deploy-status vocabulary (docs/render-api.md §6.1), in one place: what each of Render's
 * statuses is as a deployment status here, which ones a cancel can still stop, and how a failure
 * reads. The deploy task (workers/tasks/deployTask.ts), the cancel use case (cancel.ts) and the
 * service card (server/presenters/service.ts) read it.
 */
export const RENDER_TO_STATUS: Readonly<Record<string, DeploymentStatus>> = {
  created: 'created',
  queued: 'render_queued',
  build_in_progress: 'build_in_progress',
  pre_deploy_in_progress: 'pre_deploy_in_progress',
  update_in_progress: 'update_in_progress',
  live: 'live',
  deactivated: 'deactivated', // it went live, then a newer deploy replaced it (between two of our checks)
  build_failed: 'build_failed',
  update_failed: 'update_failed',
  pre_deploy_failed: 'pre_deploy_failed',
  canceled: 'canceled',
};

/** What a deployment that ended in one of Render's failure statuses tells its owner. */
export const FAILURE_TEXT: Partial<Record<DeploymentStatus, string>> = {
  build_failed: 'The build failed on Render. The build log below shows the failing step.',
  update_failed: 'Render built the service but it did not start (health check or crash). See the deploy log.',
  pre_deploy_failed: 'The pre-deploy command failed on Render. See the deploy log.',
  canceled: 'The deploy was canceled.',
};

/** Render's statuses of a deploy that has not ended (queued behind another included), e.g. for a deploy list's status filter. */
export const IN_PROGRESS_ON_RENDER: readonly DeployStatus[] = ['created', 'queued', 'build_in_progress', 'pre_deploy_in_progress', 'update_in_progress'];
const IN_PROGRESS = new Set<string>(IN_PROGRESS_ON_RENDER);
const FAILED = new Set(['build_failed', 'update_failed', 'pre_deploy_failed']);

/** A deploy Render has not finished: a cancel can still stop it (§6.4), a service card says "deploying". */
export const isInProgressOnRender = (renderStatus: string | null | undefined): boolean => IN_PROGRESS.has(renderStatus ?? '');
/** A deploy that failed on Render (a cancel is not a failure). */
export const isFailedOnRender = (renderStatus: string | null | undefined): boolean => FAILED.has(renderStatus ?? '');
