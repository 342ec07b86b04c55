import type { GitHubClient } from '../../server/github/client.js';
import { GitHubError } from '../../server/github/client.js';
import { isTerminal, type DeploymentRecord } from '../../server/deployments/types.js';
import type { WorkerContext } from '../context.js';

/** The status's name on the commit (one line per context in GitHub's checks list). */
export const COMMIT_STATUS_CONTEXT = 'render-orchestrator';
/** Scopes that may write commit statuses (GitHub: `repo:status`, or `repo` which includes it). */
const STATUS_SCOPES = ['repo', 'repo:status'];

/**
 * GitHub commit status on the deployed commit (issue 15): `pending` once the commit is checked and the
 * service is about to be created, `success` when the deploy goes live, `failure` otherwise, each linking
 * to the deployment page. Only with a token that has the repo or repo:status scope; skipped quietly
 * otherwise (a token without scopes, a fine-grained token, a commit GitHub does not know). Best effort:
 * a failure here is logged and never changes the deployment. Each state is posted once per deployment.
 */
export async function postCommitStatus(ctx: WorkerContext, gh: GitHubClient, rec: DeploymentRecord, phase: 'pending' | 'final'): Promise<void> {
  const sha = rec.commitSha ?? rec.renderCommitId ?? null;
  if (!sha || !rec.request.githubRepo.includes('/')) return;
  if (phase === 'final' && !isTerminal(rec.status)) return;
  const state = phase === 'pending' ? 'pending' : rec.status === 'live' || rec.status === 'deactivated' ? 'success' : 'failure';
  const log = ctx.logger.child({ deploymentId: rec.id, userId: rec.userId });
  try {
    const scopes = await gh.tokenScopes();
    if (!scopes || !scopes.some((s) => STATUS_SCOPES.includes(s))) {
      log.debug({ state }, 'commit status skipped: the GitHub token cannot write statuses');
      return;
    }
    const once = await ctx.redis.set(`${ctx.config.redisPrefix}:deployment:${rec.id}:commit-status:${state}`, '1', 'EX', 7 * 24 * 3600, 'NX');
    if (once !== 'OK') return;
    const [owner, name] = rec.request.githubRepo.split('/') as [string, string];
    await gh.createCommitStatus(owner, name, sha, {
      state,
      targetUrl: `${ctx.config.baseUrl}/#/deployments/${rec.id}`,
      description: describe(rec, state),
      context: COMMIT_STATUS_CONTEXT,
    });
  } catch (err) {
    log.warn({ state, kind: err instanceof GitHubError ? err.kind : 'unknown' }, 'commit status not posted');
  }
}

function describe(rec: DeploymentRecord, state: string): string {
  const name = rec.request.serviceName;
  if (state === 'pending') return `Deploying ${name} to Render`;
  if (state === 'success') return `${name} is live on Render`;
  return `Deploy of ${name} ended: ${rec.failure?.code ?? rec.status}`;
}
