/**
 * Deployment statuses as people read them: a label, a tone (colour) and an icon, so colour is never
 * the only cue. Mirrors server/deployments/types.ts.
 */
import { h } from './dom.js';

const STATUS = {
  queued: ['Queued', 'progress'],
  verifying: ['Verifying repository', 'progress'],
  detecting: ['Detecting stack', 'progress'],
  creating_service: ['Creating service', 'progress'],
  triggering_deploy: ['Starting deploy', 'progress'],
  created: ['Deploy created', 'progress'],
  render_queued: ['Queued on Render', 'progress'],
  build_in_progress: ['Building', 'progress'],
  pre_deploy_in_progress: ['Running pre-deploy', 'progress'],
  update_in_progress: ['Deploying', 'progress'],
  live: ['Live', 'success'],
  deactivated: ['Deactivated', 'neutral'],
  build_failed: ['Build failed', 'failure'],
  update_failed: ['Deploy failed', 'failure'],
  pre_deploy_failed: ['Pre-deploy failed', 'failure'],
  canceled: ['Canceled', 'neutral'],
  failed: ['Failed', 'failure'],
  credentials_revoked: ['Stopped: key removed', 'neutral'],
  // Not a deploy status: what a finished deployment shows once its service is gone from Render.
  service_deleted: ['Service deleted', 'neutral'],
};

const ICONS = { progress: '◔', success: '✓', failure: '✕', neutral: '■' };

export const TERMINAL = new Set(['live', 'deactivated', 'build_failed', 'update_failed', 'pre_deploy_failed', 'canceled', 'failed', 'credentials_revoked']);
export const isTerminal = (status) => TERMINAL.has(status);

export function statusLabel(status) {
  return STATUS[status]?.[0] ?? String(status).replaceAll('_', ' ');
}

export function statusTone(status) {
  return STATUS[status]?.[1] ?? 'neutral';
}

/** A status pill: icon + words, with data-status for styling and tests. */
export function statusBadge(status, props = {}) {
  const tone = statusTone(status);
  return h('span', { class: `badge badge--${tone}`, dataset: { status, tone }, ...props },
    h('span', { class: `badge__icon${tone === 'progress' ? ' badge__icon--spin' : ''}`, 'aria-hidden': 'true' }, ICONS[tone]),
    h('span', { class: 'badge__text' }, statusLabel(status)));
}

/** Update a badge made by statusBadge in place (keeps its id and focus). */
export function setBadge(badge, status) {
  const tone = statusTone(status);
  badge.className = `badge badge--${tone}`;
  badge.dataset.status = status;
  badge.dataset.tone = tone;
  const [icon, text] = badge.children;
  icon.className = `badge__icon${tone === 'progress' ? ' badge__icon--spin' : ''}`;
  icon.textContent = ICONS[tone];
  text.textContent = statusLabel(status);
}

/** A Render service as its card shows it (server/presenters/service.ts decides the state). */
const SERVICE_STATES = {
  live: ['Live', 'success', '●'],
  deploying: ['Deploying', 'progress', '◔'],
  deploy_failed: ['Deploy failed', 'failure', '✕'],
  deploy_canceled: ['Deploy canceled', 'neutral', '■'],
  suspended: ['Suspended', 'neutral', '❚❚'],
  not_deployed: ['Never deployed', 'neutral', '○'],
  unknown: ['Status unknown', 'neutral', '?'],
};

export function serviceStateBadge(state) {
  const [label, tone, icon] = SERVICE_STATES[state] ?? SERVICE_STATES.unknown;
  return h('span', { class: `badge badge--${tone}`, dataset: { state, tone }, 'data-testid': 'service-state' },
    h('span', { class: `badge__icon${tone === 'progress' ? ' badge__icon--spin' : ''}`, 'aria-hidden': 'true' }, icon),
    h('span', { class: 'badge__text' }, label));
}

/** The phases a deploy goes through, in order, and the statuses that belong to each. */
export const STEPS = [
  { key: 'queue', label: 'Queued', statuses: ['queued'] },
  { key: 'verify', label: 'Verify repo', statuses: ['verifying'] },
  { key: 'detect', label: 'Detect stack', statuses: ['detecting'] },
  { key: 'start', label: 'Start on Render', statuses: ['creating_service', 'triggering_deploy'] },
  { key: 'build', label: 'Build', statuses: ['created', 'render_queued', 'build_in_progress'] },
  { key: 'deploy', label: 'Deploy', statuses: ['pre_deploy_in_progress', 'update_in_progress'] },
  { key: 'live', label: 'Live', statuses: ['live'] },
];

const FAILED_AT = { build_failed: 'build', update_failed: 'deploy', pre_deploy_failed: 'deploy' };

/**
 * Steps this deployment does not go through, which would otherwise read "done" once it is past them:
 * a redeploy or rollback starts at the trigger (workers/tasks/deployTask.ts: no repository check, no
 * detection; a redeploy naming a commit does check that commit on GitHub, which counts as verified),
 * and Render publishes a static site straight after its build (no pre-deploy or update phase). Known
 * from the record, not from statuses missing in the timeline: a short Render phase can pass between
 * two looks and still have happened.
 */
export function skippedSteps(deployment) {
  const skipped = new Set();
  const reached = new Set((deployment.timeline ?? []).map((t) => t.status).concat(deployment.status));
  const went = (key) => STEPS.find((s) => s.key === key).statuses.some((st) => reached.has(st));
  if (deployment.kind && deployment.kind !== 'deploy') {
    if (!went('verify') && !deployment.request?.commitSha) skipped.add('verify');
    if (!went('detect')) skipped.add('detect');
  }
  const type = deployment.stack?.serviceType ?? deployment.request?.serviceType;
  if (type === 'static_site' && !went('deploy') && !FAILED_AT[deployment.status]) skipped.add('deploy');
  return skipped;
}

/**
 * Where a deployment stands: index of the current step and whether it failed there.
 * For an ending that is not tied to a phase (canceled, failed…), the last phase reached.
 */
export function stepState(deployment) {
  const index = (status) => STEPS.findIndex((s) => s.statuses.includes(status));
  const { status } = deployment;
  if (status === 'live' || status === 'deactivated') return { current: STEPS.length - 1, outcome: 'done' };
  if (!isTerminal(status)) return { current: Math.max(0, index(status)), outcome: 'running' };
  const fixed = FAILED_AT[status] ? STEPS.findIndex((s) => s.key === FAILED_AT[status]) : -1;
  if (fixed >= 0) return { current: fixed, outcome: 'failed' };
  let reached = 0;
  for (const entry of deployment.timeline ?? []) reached = Math.max(reached, index(entry.status));
  return { current: reached, outcome: statusTone(status) === 'failure' ? 'failed' : 'stopped' };
}
