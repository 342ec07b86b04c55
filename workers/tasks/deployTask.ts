import { DelayedError, type Job } from 'bullmq';
import { RenderApiError, type RenderClient } from '../../server/render/client.js';
import { BudgetExhausted } from '../../server/render/budget.js';
import { GitHubError, type GitHubClient } from '../../server/github/client.js';
import { detectStack, StackDetectionError } from '../../server/stacks/detect.js';
import { repoFilesFromGitHub } from '../../server/stacks/fromGitHub.js';
import { isTerminal, type DeploymentRecord, type DeploymentStatus, type DeploymentFailure } from '../../server/deployments/types.js';
import type { DeployJobData } from '../../server/queues/deployQueue.js';
import type { Deploy } from '../../server/render/types.js';
import { loadCredentials, type JobCredentials } from './credentials.js';
import { DeployFailed } from './deployFailed.js';
import { createOrAdoptService, serviceListChanged } from './createService.js';
import type { WorkerContext } from '../context.js';
import { verifiedRecord } from './verifyJob.js';
import { withServiceType } from './serviceType.js';
import { requestCommitStatus } from './commitStatus.js';
import { delayJob } from './delayJob.js';
import { RecordTamperedError } from '../../server/deployments/integrity.js';

const RENDER_TO_STATUS: Record<string, DeploymentStatus> = {
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

const FAILURE_TEXT: Partial<Record<DeploymentStatus, string>> = {
  build_failed: 'The build failed on Render. The build log below shows the failing step.',
  update_failed: 'Render built the service but it did not start (health check or crash). See the deploy log.',
  pre_deploy_failed: 'The pre-deploy command failed on Render. See the deploy log.',
  canceled: 'The deploy was canceled.',
};

/**
 * One deployment, as a resumable state machine. Each run reloads the record and continues from its
 * status; every fact Render hands back (service id, deploy id) is recorded before the next call, so a
 * worker killed anywhere resumes without creating a second service. Waiting (deploy progress, the
 * per-key budget, Render's Retry-After) is a delayed job, never a held worker slot.
 */
export async function runDeployJob(ctx: WorkerContext, job: Job<DeployJobData>, token: string | undefined): Promise<void> {
  // Integrity first (verifyJob.ts): an unsigned or altered record or job is refused before any call.
  const rec = await verifiedRecord(ctx, job);
  if (!rec || isTerminal(rec.status)) return; // vanished, refused, or already over
  const { id: deploymentId, userId } = rec;
  await ctx.enqueuer.started({ deploymentId, userId });
  const log = ctx.logger.child({ deploymentId, userId, attempt: job.attemptsMade + 1 });

  const creds = await loadCredentials(ctx, rec);
  if (!creds) {
    await ctx.deployments.transition(rec.id, 'credentials_revoked', 'orchestrator', {
      failure: { code: 'credentials_revoked', message: 'Your session ended or the Render key was cleared, so this deploy was stopped. Sign in, connect your key and deploy again.' },
    });
    ctx.onFinished?.('credentials_revoked', ctx.clock.now() - Date.parse(rec.createdAt), { deploymentId: rec.id, userId: rec.userId });
    return;
  }
  const render = ctx.upstream.render(creds.renderKey, {
    timeoutMs: ctx.renderTimeoutMs,
    beforeRequest: (call) => ctx.budget.acquireOrThrow(rec.keyFingerprint, call),
  });

  try {
    const waitMs = await advance(ctx, rec, render, creds);
    if (waitMs !== null) await delayJob(job, token, waitMs);
    await deployEnded(ctx, rec.id, creds);
  } catch (err) {
    if (err instanceof DelayedError) throw err;
    // The record was altered in Redis while this run held it: refused as at the start, no further call.
    if (err instanceof RecordTamperedError) {
      if (await verifiedRecord(ctx, job)) throw sanitizeForQueue(err); // intact again: retry normally
      return;
    }
    if (err instanceof BudgetExhausted) return delayJob(job, token, err.retryAfterMs + jitter(250));
    if (err instanceof RenderApiError && err.kind === 'rate_limited') return delayJob(job, token, (err.retryAfterMs ?? 10_000) + jitter(500));
    const failure = classify(err);
    if (failure) {
      await finish(ctx, rec.id, failure.status, failure.failure);
      await deployEnded(ctx, rec.id, creds);
      return;
    }
    // Transient (5xx, network, timeout, malformed answer): BullMQ retries with jittered backoff.
    const finalAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    log.warn({ kind: (err as { kind?: string }).kind ?? 'unknown', finalAttempt }, 'deploy step failed; will retry');
    if (finalAttempt) {
      await finish(ctx, rec.id, 'failed', { code: 'upstream_unavailable', message: `Render or GitHub kept failing (${safeMessage(err)}). Try again later.` });
      await deployEnded(ctx, rec.id, creds);
      return;
    }
    throw sanitizeForQueue(err);
  }
}

/** Run steps until the deployment must wait (returns ms) or is over (null). */
async function advance(ctx: WorkerContext, start: DeploymentRecord, render: RenderClient, creds: JobCredentials): Promise<number | null> {
  let rec: DeploymentRecord | null = start;
  for (let guard = 0; rec && guard < 10; guard++) {
    ctx.crashPoint?.('step');
    switch (rec.status) {
      case 'queued':
      case 'verifying':
        rec = rec.kind === 'deploy' ? await verifyRepo(ctx, rec, creds) : await ctx.deployments.transition(rec.id, 'triggering_deploy', 'orchestrator');
        break;
      case 'detecting':
        rec = await detect(ctx, rec, render, creds);
        break;
      case 'creating_service':
        rec = await createOrAdoptService(ctx, rec, render);
        break;
      case 'triggering_deploy':
        rec = await triggerDeploy(ctx, rec, render);
        break;
      default:
        if (isTerminal(rec.status)) return null;
        return watch(ctx, rec, render);
    }
  }
  return null;
}

async function verifyRepo(ctx: WorkerContext, rec: DeploymentRecord, creds: JobCredentials) {
  if (rec.status === 'queued') {
    const moved = await ctx.deployments.transition(rec.id, 'verifying', 'orchestrator');
    if (!moved) return null;
    rec = moved;
  }
  if (!creds.githubToken) throw new DeployFailed({ code: 'github_token_missing', message: 'Your GitHub authorization is missing. Sign in again.' }, 'credentials_revoked');
  const gh = githubFor(ctx, creds);
  const [owner, name] = rec.request.githubRepo.split('/') as [string, string];
  let repo;
  try {
    repo = await gh.getRepo(owner, name);
  } catch (err) {
    if (err instanceof GitHubError && (err.kind === 'not_found' || err.kind === 'forbidden')) {
      throw new DeployFailed({ code: 'repo_not_found', message: `GitHub repository ${rec.request.githubRepo} was not found, or your GitHub account cannot see it.` });
    }
    throw err;
  }
  const branch = rec.request.branch ?? repo.defaultBranch;
  let head;
  try {
    head = await gh.getBranchHead(owner, name, branch);
  } catch (err) {
    if (err instanceof GitHubError && err.kind === 'not_found') {
      throw new DeployFailed({ code: 'branch_not_found', message: `Branch "${branch}" does not exist in ${rec.request.githubRepo}.` });
    }
    throw err;
  }
  return ctx.deployments.transition(rec.id, 'detecting', 'orchestrator', { commitSha: head.sha, request: { ...rec.request, branch } }, `Branch ${branch} at ${head.sha.slice(0, 7)}`);
}

async function detect(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient, creds: JobCredentials) {
  const gh = githubFor(ctx, creds);
  const [owner, name] = rec.request.githubRepo.split('/') as [string, string];
  const files = await repoFilesFromGitHub(gh, owner, name, rec.request.branch!);
  let stack;
  try {
    stack = await detectStack(files);
  } catch (err) {
    if (err instanceof StackDetectionError && (rec.request.buildCommand && rec.request.startCommand)) {
      stack = null; // the user told us how to build and run it
    } else throw err;
  }
  if (stack?.blueprint) {
    const result = await render.validateBlueprint(rec.request.ownerId, stack.blueprint);
    if (!result.valid) {
      const problems = (result.errors ?? []).slice(0, 5).map((e) => `${e.path ? `${e.path}: ` : ''}${e.error}`).join('; ');
      throw new DeployFailed({ code: 'invalid_blueprint', message: `The repository's render.yaml is not valid: ${problems || 'Render rejected it'}. Fix it and deploy again.` });
    }
  }
  const summary = withServiceType(rec, {
    stack: stack?.stack ?? 'custom',
    runtime: stack?.runtime ?? 'node',
    serviceType: stack?.serviceType ?? 'web_service',
    buildCommand: rec.request.buildCommand ?? stack?.buildCommand ?? '',
    startCommand: rec.request.startCommand ?? stack?.startCommand ?? null,
    reason: stack?.reason ?? 'Build and start commands given with the request.',
    fromBlueprint: Boolean(stack?.blueprint),
    publishPath: stack?.publishPath ?? null,
    dockerfilePath: stack?.dockerfilePath ?? null,
    schedule: stack?.schedule ?? null,
  });
  const next = await ctx.deployments.transition(rec.id, 'creating_service', 'orchestrator', { stack: summary }, `Detected ${summary.stack}: ${summary.reason}`);
  // Only asked for here: the status job posts it, so this slot never waits on GitHub's pacing.
  if (next) await requestCommitStatus(ctx, next, 'pending');
  return next;
}

/** Ask for a deploy once: a retry first adopts a deploy made since the last request. */
async function triggerDeploy(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient) {
  const serviceId = rec.serviceId!;
  // A deploy Render started for this deployment already (our earlier request whose answer was lost,
  // or the first deploy of a service whose creation we adopted) is taken over, not doubled.
  const since = rec.deployRequestedAt ? Date.parse(rec.deployRequestedAt) - 2_000 : Date.parse(rec.createdAt);
  const recent = await render.listDeploys(serviceId, { limit: 5 });
  const adopted = recent.find((d) => d.createdAt && Date.parse(d.createdAt) >= since && (rec.kind !== 'rollback' || d.trigger === 'rollback'));
  if (adopted) return recordDeploy(ctx, rec, adopted);
  const marked = await ctx.deployments.update(rec.id, { deployRequestedAt: new Date(ctx.clock.now()).toISOString() });
  if (!marked) return null;
  if (rec.kind === 'rollback' && rec.rollbackToDeployId) {
    return recordDeploy(ctx, marked, await render.rollbackDeploy(serviceId, rec.rollbackToDeployId));
  }
  // Deploy exactly the commit that was verified and detected, not whatever the branch points at by now.
  const result = await render.triggerDeploy(serviceId, { clearCache: rec.request.clearCache ? 'clear' : 'do_not_clear', ...(rec.commitSha ? { commitId: rec.commitSha } : {}) });
  ctx.crashPoint?.('deploy_triggered');
  if (result.kind === 'created') return recordDeploy(ctx, marked, result.deploy);
  // 202 with an empty body: Render queued it behind a running deploy. Find it; else the next check will.
  const queued = await render.findQueuedDeploy(serviceId);
  if (queued) return recordDeploy(ctx, marked, queued);
  return ctx.deployments.transition(rec.id, 'render_queued', 'render', {}, 'Queued behind a running deploy');
}

/** What we keep of a deploy Render told us about: its id and the commit it builds. */
const deployFields = (deploy: Deploy, rec: DeploymentRecord): Partial<DeploymentRecord> =>
  ({ deployId: deploy.id, renderCommitId: deploy.commit?.id ?? rec.renderCommitId ?? null });

function recordDeploy(ctx: WorkerContext, rec: DeploymentRecord, deploy: Deploy) {
  const status = RENDER_TO_STATUS[deploy.status ?? 'created'] ?? 'created';
  if (isTerminal(status)) return finish(ctx, rec.id, status, failureFor(status), deployFields(deploy, rec));
  return ctx.deployments.transition(rec.id, status, 'render', deployFields(deploy, rec));
}

/** One look at the deploy; returns how long to wait before the next, or null when it is over. */
async function watch(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient): Promise<number | null> {
  const started = Date.parse(rec.deployRequestedAt ?? rec.createdAt);
  if (ctx.clock.now() - started > ctx.watch.maxMs) {
    await finish(ctx, rec.id, 'failed', { code: 'watch_timeout', message: 'Render did not finish this deploy within the time limit. Check it in the Render dashboard.' });
    return null;
  }
  let deploy: Deploy | null;
  if (rec.deployId) deploy = await render.getDeploy(rec.serviceId!, rec.deployId);
  else deploy = await render.findQueuedDeploy(rec.serviceId!) ?? (await render.listDeploys(rec.serviceId!, { limit: 1 }))[0] ?? null;
  const checks = rec.watchChecks + 1;
  if (deploy) {
    const status = RENDER_TO_STATUS[deploy.status ?? ''] ?? rec.status;
    if (isTerminal(status)) {
      await finish(ctx, rec.id, status, failureFor(status), { ...deployFields(deploy, rec), watchChecks: checks });
      return null;
    }
    if (status !== rec.status || deploy.id !== rec.deployId) {
      const moved = await ctx.deployments.transition(rec.id, status, 'render', { ...deployFields(deploy, rec), watchChecks: checks });
      if (!moved) return null;
    } else if (deploy.commit?.id && deploy.commit.id !== rec.renderCommitId) {
      if (!await ctx.deployments.update(rec.id, deployFields(deploy, rec))) return null;
    }
    // Nothing changed: nothing is written or published. Rewriting the record (and waking every SSE
    // client) on each unchanged check was ~3 Redis round trips of a check's cost, and a worker watching
    // thousands of deploys spends most of its time on such checks (see bench/). A deploy canceled or
    // revoked meanwhile is seen at the next check, whose job starts by reloading the record.
  }
  // Backoff from the time spent watching, not a stored count: after n checks of a geometric schedule
  // (initialMs × factor^k) the elapsed time is initialMs × (factor^n − 1) / (factor − 1), so the next
  // delay, initialMs × factor^n, is initialMs + (factor − 1) × elapsed. Same cadence, no write needed.
  const { initialMs, factor, maxDelayMs } = ctx.watch;
  const watching = Math.max(0, ctx.clock.now() - started);
  return Math.min(maxDelayMs, Math.round(initialMs + (factor - 1) * watching));
}

function failureFor(status: DeploymentStatus): DeploymentFailure | null {
  if (status === 'live' || status === 'deactivated') return null;
  return { code: status, message: FAILURE_TEXT[status] ?? 'The deploy did not complete.' };
}

/**
 * Render deactivates a service's previous live deploy when a new one goes live: our records follow.
 * Done before the new record says live, so whoever sees it live finds the older one deactivated.
 */
async function replaceOlderLive(ctx: WorkerContext, live: Pick<DeploymentRecord, 'id' | 'userId' | 'serviceId' | 'deployId'>, at: string) {
  for (const id of await ctx.deployments.idsOfService(live.userId, live.serviceId!)) {
    if (id === live.id) continue;
    const older = await ctx.deployments.get(id);
    if (older?.status !== 'live' || Date.parse(older.finishedAt ?? older.updatedAt) > Date.parse(at)) continue;
    await ctx.deployments.markReplaced(id, { deploymentId: live.id, deployId: live.deployId, at });
  }
}

async function finish(ctx: WorkerContext, id: string, status: DeploymentStatus, failure: DeploymentFailure | null, extra: Partial<DeploymentRecord> = {}) {
  if (status === 'live') {
    // Best effort: a later service list reconciles what this misses.
    const going = await ctx.deployments.get(id);
    const serviceId = extra.serviceId ?? going?.serviceId;
    if (going && serviceId) {
      await replaceOlderLive(ctx, { id, userId: going.userId, serviceId, deployId: extra.deployId ?? going.deployId }, new Date(ctx.clock.now()).toISOString())
        .catch((err: Error) => ctx.logger.warn({ deploymentId: id, err: { message: err.message } }, 'could not mark older deploys replaced'));
    }
  }
  const done = await ctx.deployments.transition(id, status, status === 'failed' || status === 'credentials_revoked' ? 'orchestrator' : 'render', { ...extra, failure }, failure?.message);
  if (done?.serviceId) await serviceListChanged(ctx, done);
  if (done) ctx.onFinished?.(status, Date.parse(done.finishedAt ?? done.updatedAt) - Date.parse(done.createdAt), { deploymentId: done.id, userId: done.userId });
  await ctx.envVault.drop(id);
  return null;
}

/** After a run that ended the deployment: the final commit status on GitHub and the Slack result (best effort, never throw). */
async function deployEnded(ctx: WorkerContext, id: string, creds: JobCredentials) {
  const done = await ctx.deployments.get(id).catch(() => null);
  if (!done || !isTerminal(done.status)) return;
  await ctx.deploySlack?.(done);
  if (creds.githubToken) await requestCommitStatus(ctx, done, 'final');
}

/** Non-retryable errors become a final status with a clear reason; retryable ones return null. */
function classify(err: unknown): { status: DeploymentStatus; failure: DeploymentFailure } | null {
  if (err instanceof DeployFailed) return { status: err.status, failure: err.failure };
  if (err instanceof StackDetectionError) return { status: 'failed', failure: { code: 'stack_not_detected', message: err.message } };
  if (err instanceof RenderApiError) {
    if (err.retryable) return null;
    if (err.kind === 'unauthorized') return { status: 'credentials_revoked', failure: { code: 'render_key_rejected', message: 'Render rejected your API key (it may have been revoked). Connect a valid key and deploy again.' } };
    if (err.kind === 'payment_required') return { status: 'failed', failure: { code: 'render_payment_required', message: 'Render needs payment information on this workspace before it can create this service.' } };
    return { status: 'failed', failure: { code: `render_${err.kind}`, message: `Render refused the request: ${err.renderMessage ?? err.message}` } };
  }
  if (err instanceof GitHubError) {
    if (err.kind === 'unauthorized') return { status: 'credentials_revoked', failure: { code: 'github_token_invalid', message: 'GitHub rejected your authorization. Sign in again.' } };
    if (err.kind === 'not_found' || err.kind === 'forbidden') return { status: 'failed', failure: { code: 'github_' + err.kind, message: err.message } };
    return null;
  }
  return null;
}

const jitter = (ms: number) => Math.floor(Math.random() * ms);

function safeMessage(err: unknown): string {
  if (err instanceof RenderApiError || err instanceof GitHubError) return err.message;
  return 'unexpected error';
}

/** BullMQ stores the thrown error's message and stack in Redis: keep them free of anything sensitive. */
function sanitizeForQueue(err: unknown): Error {
  const e = new Error(safeMessage(err));
  e.name = (err as Error)?.name ?? 'Error';
  e.stack = `${e.name}: ${e.message}`;
  return e;
}

// One GitHub client per job run (verify and detect share it): the credentials object lives exactly as long as the run.
const githubClients = new WeakMap<JobCredentials, GitHubClient>();

function githubFor(ctx: WorkerContext, creds: JobCredentials): GitHubClient {
  let gh = githubClients.get(creds);
  if (!gh) {
    gh = ctx.upstream.github(creds.githubToken!);
    githubClients.set(creds, gh);
  }
  return gh;
}
