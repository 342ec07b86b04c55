import type Router from '@koa/router';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { AppError, errors } from '../errors.js';
import { getSession } from '../sessions/middleware.js';
import { openGithubToken } from '../sessions/credentials.js';
import { requireUser } from '../middleware/security.js';
import { validateQuery } from '../middleware/validate.js';
import { createGitHubClient } from '../github/client.js';
import { MAX_FILE_CHARS } from '../stacks/lines.js';
import { callerRender, requireRenderKey } from '../render/forRequest.js';

// Same branch rule as the deploy form and detection (git check-ref-format, the parts that matter).
const BRANCH = /^(?!\/)(?!.*\/\/)(?!.*\.\.)(?!.*@\{)(?!.*\.lock$)(?!.*\/$)[A-Za-z0-9._\/-]{1,255}$/;
const OWNER_ID = /^(tea|usr|own)-[0-9a-z]{20}$/;
const PlanQuery = z.object({
  branch: z.string().regex(BRANCH, 'branch is not a valid git branch name').optional(),
  owner_id: z.string().regex(OWNER_ID, 'owner_id must be a Render workspace id (tea-…)').optional(),
});

/**
 * "Deploy as Blueprint" (issue 15): what Render would create from the repository's render.yaml, from
 * Render's own POST /blueprints/validate, before anything happens. Nothing is created: the API cannot
 * make a Blueprint (docs/render-api.md, "Blueprint files"), so the answer carries Render's
 * Deploy-to-Render link for the user to confirm in their dashboard.
 */
export function blueprintPlanRoutes(router: Router, deps: AppDeps) {
  router.get('/api/github/repos/:owner/:repo/blueprint-plan', requireUser(), requireRenderKey(), deps.rateLimits.guard('detect'), validateQuery(PlanQuery), async (ctx) => {
    const q = ctx.state.query as z.infer<typeof PlanQuery>;
    const render = callerRender(deps, ctx);
    const ownerId = q.owner_id ?? render.ownerIds[0];
    if (!ownerId || !render.ownerIds.includes(ownerId)) throw errors.validation('owner_id is not one of the workspaces your Render key can use', { field: 'owner_id' });
    const token = openGithubToken(getSession(ctx), deps.keyring);
    if (!token) throw errors.githubTokenInvalid();
    const gh = createGitHubClient({ apiUrl: deps.config.github.apiUrl, token, retries: deps.config.nodeEnv !== 'test' });
    const owner = String(ctx.params.owner);
    const repo = String(ctx.params.repo);
    const branch = q.branch ?? (await gh.getRepo(owner, repo)).defaultBranch;
    const yaml = await gh.readFile(owner, repo, 'render.yaml', branch);
    if (yaml === null) throw new AppError(404, 'blueprint_not_found', `${owner}/${repo} has no render.yaml on ${branch}.`);
    if (yaml.length > MAX_FILE_CHARS) throw new AppError(422, 'blueprint_too_large', `render.yaml is larger than ${MAX_FILE_CHARS / 1024} KiB.`);
    const result = await render.client.validateBlueprint(ownerId, yaml);
    const repoUrl = `https://github.com/${owner}/${repo}/tree/${branch}`;
    ctx.body = {
      repo: `${owner}/${repo}`,
      branch,
      ownerId,
      valid: result.valid,
      errors: (result.errors ?? []).slice(0, 50).map((e) => ({ path: e.path ?? null, error: e.error, line: e.line ?? null, column: e.column ?? null })),
      plan: result.valid && result.plan ? {
        services: result.plan.services ?? [], databases: result.plan.databases ?? [], keyValue: result.plan.keyValue ?? [],
        envGroups: result.plan.envGroups ?? [], totalActions: result.plan.totalActions ?? 0,
      } : null,
      // Render's Deploy to Render link: the user reviews and applies the Blueprint in their dashboard.
      deployUrl: result.valid ? `https://render.com/deploy?repo=${encodeURIComponent(repoUrl)}` : null,
    };
  });
}
