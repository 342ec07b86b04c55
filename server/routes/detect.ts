import type Router from '@koa/router';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { errors } from '../errors.js';
import { callerGitHub } from './github.js';
import { FileTooLargeError, GitHubError } from '../github/client.js';
import { echoed } from '../text.js';
import { requireRenderKey, requireUser } from '../middleware/context.js';
import { validate } from '../middleware/validate.js';
import { repoFilesFromGitHub } from '../stacks/fromGitHub.js';
import { detectStack, StackDetectionError } from '../stacks/detect.js';
import { isEmptyBlueprint } from '../stacks/blueprint.js';
import { callerRender, whileKeyHeld } from '../render/forRequest.js';
import { documented } from '../openapi/describe.js';
import { BRANCH_MESSAGE, isBranchName } from '../deployments/input.js';
import { BlueprintCheckView, DetectView, presentBlueprintCheck, presentDetectedStack } from '../presenters/stack.js';

// A branch in a query string: the deploy form's rule (deployments/input.ts).
// Strict, like every query here: "?branch[]=py" is a parameter named "branch[]", and dropped it answered for the default branch.
export const DetectQuery = z.object({ branch: z.string().refine(isBranchName, BRANCH_MESSAGE).optional() }).strict();
export const BlueprintQuery = DetectQuery.extend({
  owner_id: z.string().trim().regex(/^(tea|usr|own)-[0-9a-z]{20}$/, 'owner_id must be a Render workspace id (tea-…)').optional(),
}).strict();

/**
 * What the deploy form shows as "Detected stack": the same detection the deploy pipeline runs, over the
 * repository at `branch` (default: the repo's default branch), read with the caller's own GitHub token.
 */
export function detectRoutes(router: Router, deps: AppDeps) {
  router.get('/api/github/repos/:owner/:repo/detect', documented({
    summary: 'Detect the stack of a repository (what a deploy would run)', tag: 'github', responses: { 200: DetectView },
    errors: ['stack_not_detected', 'repo_root_too_large', 'github_unavailable', 'github_forbidden'],
  }), requireUser(), deps.rateLimits.guard('detect'), validate({ query: DetectQuery }), async (ctx) => {
    const gh = callerGitHub(deps, ctx.state.session);
    const owner = String(ctx.params.owner);
    const repo = String(ctx.params.repo);
    const branch = ctx.input.query.branch ?? (await gh.getRepo(owner, repo)).defaultBranch;
    // Read one commit (the branch's head now), as a deploy does: by branch name, a push landing between
    // the listing and the reads mixed two commits' files.
    const head = await gh.getBranchHead(owner, repo, branch).catch(async (err: unknown) => {
      // GitHub answers 404 for a missing branch as for a missing repository, which the error middleware calls
      // "Repository not found.": said of a repository that exists, the user looked for the wrong problem.
      if (ctx.input.query.branch !== undefined && err instanceof GitHubError && err.kind === 'not_found' && await gh.getRepo(owner, repo).then(() => true, () => false)) {
        throw errors.notFound(`Branch "${echoed(branch)}" of ${owner}/${repo}`);
      }
      throw err;
    });
    try {
      const found = await detectStack(await repoFilesFromGitHub(gh, owner, repo, head.sha), { repo: `${owner}/${repo}`, branch });
      ctx.body = presentDetectedStack(found);
    } catch (err) {
      if (err instanceof StackDetectionError) throw errors.stackNotDetected(err.message);
      throw err;
    }
  });

  // The repository's render.yaml (at `branch`, default the repo's default branch), judged by Render's
  // Blueprint validation with the caller's own key: the check the deploy pipeline makes, without deploying.
  // Also the deploy form's "Deploy as Blueprint" (issue 15): Render's plan of what the file would create,
  // shown before anything happens. The API cannot create a Blueprint (docs/render-api.md, "Blueprint
  // files"), so a valid file comes with Render's Deploy to Render link, where the user applies it.
  router.get('/api/github/repos/:owner/:repo/blueprint', documented({
    summary: 'Validate the repository\'s render.yaml with Render (and Render\'s plan of what it would create)', tag: 'github',
    responses: { 200: BlueprintCheckView }, errors: ['blueprint_not_found', 'blueprint_too_large', 'github_unavailable', 'github_forbidden'],
  }), requireUser(), requireRenderKey(), deps.rateLimits.guard('detect'), validate({ query: BlueprintQuery }), async (ctx) => {
    const gh = callerGitHub(deps, ctx.state.session);
    const owner = String(ctx.params.owner);
    const repo = String(ctx.params.repo);
    const q = ctx.input.query;
    const branch = q.branch ?? (await gh.getRepo(owner, repo)).defaultBranch;
    // Too large to read is the file's size, the same on every ask: not GitHub failing (a 503 said "try again").
    const text = await gh.readFile(owner, repo, 'render.yaml', branch).catch((err: unknown) => {
      throw err instanceof FileTooLargeError ? errors.blueprintTooLarge(`${owner}/${repo}'s render.yaml on ${branch} is larger than ${err.limitBytes / 1024} KiB, the most this app reads.`) : err;
    });
    if (text === null) throw errors.blueprintNotFound(`${owner}/${repo} has no render.yaml on ${branch}.`);
    // An empty file declares no Blueprint: detection and a deploy take it for none (stacks/detect.ts), and
    // the form offers no check. Nothing is sent to Render.
    if (isEmptyBlueprint(text)) throw errors.blueprintNotFound(`${owner}/${repo}'s render.yaml on ${branch} is empty (only blank lines or comments): it declares no Blueprint.`);
    // The validation goes out only while the session still holds the key: GitHub's reads before it may take a
    // while, and a sign-out, clear or replace in another tab meanwhile is answered as a request sent now.
    const caller = callerRender(deps, ctx.state);
    const ownerId = q.owner_id ?? caller.ownerIds[0];
    if (!ownerId || !caller.ownerIds.includes(ownerId)) throw errors.validation('owner_id is not one of the workspaces your Render key can use');
    const result = await whileKeyHeld(deps, caller, (client) => client.validateBlueprint(ownerId, text), 'Your Render key changed while the Blueprint was being read. Try again.');
    ctx.body = presentBlueprintCheck({ owner, name: repo, branch }, ownerId, result);
  });
}
