import { GitHubError, type GitHubClient } from '../../server/github/client.js';
import type { RenderClient } from '../../server/render/client.js';
import { detectStack, runtimeForOwnCommands, StackDetectionError } from '../../server/stacks/detect.js';
import { repoFilesFromGitHub } from '../../server/stacks/fromGitHub.js';
import { isTerminal, type DeploymentRecord, type TimelineEntry } from '../../server/deployments/types.js';
import { IN_PROGRESS_ON_RENDER } from '../../server/deployments/renderStatus.js';
import type { WorkerContext } from '../context.js';
import type { JobCredentials } from './credentials.js';
import { DeployFailed } from './deployFailed.js';
import { deployOfAsk } from './ownDeploy.js';
import { withServiceType } from './serviceType.js';
import { echoed } from '../../server/text.js';
import { GITHUB_REPO } from '../../server/deployments/input.js';
import { replaceControls } from '../../server/stacks/lines.js';

// The GitHub steps of a deploy (workers/tasks/deployTask.ts): verifying → detecting → creating_service.

/** What verifying found (the branch and the commit at its head), not yet written: detect() writes it with its own result. */
interface Verified { fields: Pick<DeploymentRecord, 'commitSha' | 'request'>; entry: TimelineEntry }

/**
 * Called with the record detection is about to write (creating_service), before its write goes out:
 * the next step's first commands share the write's round trip (deployTask.ts).
 */
export type BeforeDetectedWrite = (next: DeploymentRecord) => void;

export async function verifyRepo(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient, creds: JobCredentials, beforeWrite?: BeforeDetectedWrite) {
  if (rec.status === 'queued') {
    const moved = await ctx.deployments.transition(rec.id, 'verifying', 'orchestrator');
    if (!moved) return null;
    rec = moved;
  }
  if (!creds.githubToken) throw new DeployFailed({ code: 'github_token_missing', message: 'Your GitHub authorization is missing. Sign in again.' }, 'credentials_revoked');
  const gh = githubFor(ctx, creds);
  const [owner, name] = rec.request.githubRepo.split('/') as [string, string];
  const { branch, head, renamedFrom, repoNow } = await branchToDeploy(gh, rec, owner, name);
  const asked = rec.request.commitSha;
  if (asked && asked !== head.sha) await commitOnBranch(gh, rec, owner, name, branch, head.sha, asked);
  const renamed = renamedFrom === undefined ? '' : ` (branch ${renamedFrom} was renamed ${branch} on GitHub)`;
  const moved = repoNow === undefined ? '' : ` (repository ${rec.request.githubRepo} is ${repoNow} on GitHub now: renamed or transferred)`;
  const note = (asked && asked !== head.sha ? `Branch ${branch}, commit ${asked.slice(0, 7)} as asked (the branch is at ${head.sha.slice(0, 7)} now)` : `Branch ${branch} at ${head.sha.slice(0, 7)}`) + renamed + moved;
  const verified: Verified = {
    // A repository renamed or transferred is deployed under the name GitHub has for it now: the service
    // Render links (and the statuses, detection's reads) would otherwise name the old one, which GitHub
    // redirects only until another repository takes it.
    fields: { commitSha: asked ?? head.sha, request: { ...rec.request, branch, ...(repoNow === undefined ? {} : { githubRepo: repoNow }) } },
    entry: { status: 'detecting', at: new Date(ctx.clock.now()).toISOString(), source: 'orchestrator', note },
  };
  // Detection follows at once and writes both steps (one record write less per deploy). Should it end
  // any other way, what verifying found is written first, as its own step, so the record (and the
  // commit status of a failure) keeps the commit, and a retry resumes from detecting.
  try {
    return await detect(ctx, { ...rec, ...verified.fields }, render, creds, verified, beforeWrite);
  } catch (err) {
    // Best effort: unwritten, a retry simply verifies again; the step's own error is what counts.
    await ctx.deployments.transition(rec.id, 'detecting', 'orchestrator', verified.fields, verified.entry.note).catch(() => null);
    throw err;
  }
}

export async function detect(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient, creds: JobCredentials, verified?: Verified, beforeWrite?: BeforeDetectedWrite) {
  const gh = githubFor(ctx, creds);
  const [owner, name] = rec.request.githubRepo.split('/') as [string, string];
  // The commit verifying found, which is what Render is asked to build: the branch may have moved since
  // (or move between two reads), and detection must describe the commit deployed.
  // The repository made private, deleted or transferred since verifying read its branch: GitHub answers
  // its listing and its files 404 alike (fromGitHub.ts asks whether a listed file's 404 is the
  // repository's). Said as verifying says it, not as GitHub's answer to one read.
  const asRepoGone = async (err: unknown): Promise<never> => {
    const hidden = isHidden(err) ? await repoHiddenBy(gh, owner, name) : null;
    if (hidden) throw repoNotFound(rec, hidden);
    // The repository is there but the commit verifying found is not: the branch force-pushed and the commit
    // dropped, or the name now another repository's (renamed or transferred, its old name taken since).
    // Said so, rather than as GitHub's answer to the listing ("No commit found for the ref …").
    if (err instanceof GitHubError && err.kind === 'not_found' && rec.commitSha) {
      throw new DeployFailed({ code: 'commit_not_found', message: `Commit ${rec.commitSha.slice(0, 7)} is no longer in ${rec.request.githubRepo} on GitHub (the branch was force-pushed, or the repository was renamed and its name taken by another). Nothing was created on Render; deploy again.` });
    }
    throw err;
  };
  const files = await repoFilesFromGitHub(gh, owner, name, rec.commitSha ?? rec.request.branch!).catch(asRepoGone);
  // The answers stated the token's scopes: the deploy's commit statuses need not ask GitHub for them.
  const scopes = gh.seenScopes();
  if (scopes !== undefined) ctx.tokenScopes?.remember(creds.githubToken!, scopes);
  let stack;
  let runtime: string;
  try {
    stack = await detectStack(files, { repo: rec.request.githubRepo, branch: rec.request.branch ?? undefined }).catch(asRepoGone);
    runtime = stack.runtime;
  } catch (err) {
    if (err instanceof StackDetectionError && (rec.request.buildCommand && rec.request.startCommand)) {
      stack = null; // the user told us how to build and run it; the repository's files say on what
      runtime = await runtimeForOwnCommands(files);
    } else throw err;
  }
  if (stack?.blueprint) {
    const result = await render.validateBlueprint(rec.request.ownerId, stack.blueprint);
    if (!result.valid) {
      const errors = result.errors ?? [];
      const problems = errors.slice(0, 5).map((e) => `${e.path ? `${quotedFromFile(e.path)}: ` : ''}${quotedFromFile(e.error ?? '')}`).join('; ');
      const more = errors.length > 5 ? ` (and ${errors.length - 5} more)` : '';
      throw new DeployFailed({ code: 'invalid_blueprint', message: `The repository's render.yaml is not valid: ${problems || 'Render rejected it'}${more}. Fix it and deploy again.` });
    }
  }
  const summary = withServiceType(rec, {
    stack: stack?.stack ?? 'custom',
    runtime,
    serviceType: stack?.serviceType ?? 'web_service',
    buildCommand: rec.request.buildCommand ?? stack?.buildCommand ?? '',
    startCommand: rec.request.startCommand ?? stack?.startCommand ?? null,
    reason: stack?.reason ?? 'Build and start commands given with the request.',
    fromBlueprint: Boolean(stack?.blueprint),
    publishPath: stack?.publishPath ?? null,
    dockerfilePath: stack?.dockerfilePath ?? null,
    dockerContext: stack?.dockerContext ?? null,
    rootDir: stack?.rootDir ?? null,
    autoDeploy: stack?.autoDeploy ?? null,
    schedule: stack?.schedule ?? null,
  });
  if (rec.request.commitSha && summary.serviceType === 'cron_job') {
    // Render's Trigger deploy takes no commitId for cron jobs (spec/render-openapi.json): it would build the branch's head.
    throw new DeployFailed({ code: 'commit_not_supported', message: 'Render cannot deploy a chosen commit of a cron job, only its branch\'s head. Nothing was created; deploy without commit_sha.' });
  }
  // What the job's run sends next (the pending commit status's ask, the service lookup's budget slot)
  // goes out with this write: deployTask.ts steps.
  beforeWrite?.({ ...rec, ...verified?.fields, stack: summary, status: 'creating_service' });
  return ctx.deployments.transition(rec.id, 'creating_service', 'orchestrator', { ...verified?.fields, stack: summary }, `Detected ${summary.stack}: ${summary.reason}`, verified ? [verified.entry] : []);
}

/** How much of each of Render's words about an invalid render.yaml (an error's path, its message) a failure quotes. */
const BLUEPRINT_ERROR_CHARS = 120;

/**
 * Render's words about an invalid render.yaml as the failure quotes them: they quote the file (an unknown
 * field's name, a duplicated service's name), so each is cut to BLUEPRINT_ERROR_CHARS (`echoed`: a value
 * that looks like a credential is not shown) and a control character or direction override in it shows as
 * U+FFFD. Quoted whole, five 1,000-character field names made a 10,000-character failure, and a right-to-left
 * override in one reversed the rest of the sentence.
 */
function quotedFromFile(text: string): string {
  const cut = echoed(text.length > BLUEPRINT_ERROR_CHARS + 1 ? text.slice(0, BLUEPRINT_ERROR_CHARS + 1) : text, BLUEPRINT_ERROR_CHARS);
  return replaceControls(cut);
}

/** How long a redeploy that finds another one's check of the service under way waits before looking again (a delayed job). */
const REDEPLOY_CHECK_WAIT_MS = 1_000;

/**
 * A redeploy that named a commit (commit_sha; CI's pushed commit): before Render is asked for anything,
 * the commit must be in the history of the service's branch, read with the caller's token, as a deploy's
 * is (verifyRepo). Recorded as the deployment's commit, which triggerDeploy sends as commitId and
 * ownDeploy.ts matches Render's deploys by.
 * One such redeploy at a time per service (server/deployments/redeployChecks.ts), from before its check
 * reads what is in flight to Render's answer to its trigger (deployTask.ts gives the lock back then), so
 * the next one's check sees this one's deploy on Render and any deploy it asks for comes after it, even
 * when this one's trigger waits for the budget or a Retry-After. Every run of the deployment in
 * triggering_deploy comes here first and takes the lock again, which renews it; a run that finds its
 * commit recorded and the lock still its own does not check again, nor one whose lock lapsed but whose
 * ask reached Render (a deploy of it there); one whose lock lapsed before its ask made a deploy does.
 * Returns the ms to wait (as a delayed job, no worker slot held) while another deployment holds it.
 */
export async function verifyRedeployCommit(ctx: WorkerContext, rec: DeploymentRecord, creds: JobCredentials, render: RenderClient): Promise<DeploymentRecord | number | null> {
  const asked = rec.request.commitSha!;
  // Taken before any GitHub call: a run that waits its turn spends nothing but this look.
  const took = await ctx.deployments.takeRedeployCheck(rec.serviceId!, rec.id);
  if (!took) return REDEPLOY_CHECK_WAIT_MS + Math.floor(Math.random() * 250);
  // Checked under this lock by an earlier run (its trigger waited, or its worker died after the check).
  if (rec.commitSha === asked && took === 'held') return rec;
  const giveBack = () => ctx.deployments.releaseRedeployCheck(rec.serviceId!, rec.id).catch(() => false);
  // A new service's first deploy (of the branch's head) that a deploy of ours is about to stop or deploy over is not
  // judged as live or in flight until that deploy has asked for its own commit: judged so, CI's redeploy of the newer
  // head deployed nothing, and the older commit the first run named went live after it (found by a probe of
  // overlapping CI runs). Waited for as a lock held by another is, for a while at most: a deploy stuck there (its
  // job lost) must not hold every later redeploy of the service back for good.
  if (ctx.clock.now() - Date.parse(rec.createdAt) < SETTLING_WAIT_MAX_MS && await firstDeploySettling(ctx, rec)) {
    await giveBack();
    return REDEPLOY_CHECK_WAIT_MS + Math.floor(Math.random() * 250);
  }
  try {
    // A commit recorded under a lock that lapsed meanwhile (no run for REDEPLOY_CHECK_MS: a Retry-After of
    // minutes, workers down) is checked again: a newer commit's redeploy may have been checked and sent to
    // Render meanwhile, and this trigger would reach Render after it and go live over it. Unless its ask
    // reached Render already: that deploy is adopted, not asked twice (triggerDeploy), and is queued before
    // any asked since. An ask marked that made no deploy (answered 429, never sent) is unmarked first, so a
    // check that ends the deployment does not leave it waiting for a deploy to cancel (cancel.ts canceledWhileAsking).
    if (rec.commitSha === asked && rec.deployRequestedAt) {
      if (await deployOfAsk(ctx, render, rec)) return rec;
      const unmarked = await ctx.deployments.update(rec.id, { deployRequestedAt: null });
      if (!unmarked) {
        await giveBack(); // ended elsewhere meanwhile
        return null;
      }
      rec = unmarked;
    }
    if (!creds.githubToken) throw new DeployFailed({ code: 'github_token_missing', message: 'Your GitHub authorization is missing. Sign in again.' }, 'credentials_revoked');
    if (!rec.request.githubRepo || !rec.request.branch) {
      throw new DeployFailed({ code: 'commit_not_supported', message: 'This service is not built from a GitHub repository branch, so a chosen commit cannot be deployed. Nothing was deployed; redeploy without commit_sha.' });
    }
    const gh = githubFor(ctx, creds);
    const [owner, name] = rec.request.githubRepo.split('/') as [string, string];
    const { branch, head } = await branchToDeploy(gh, rec, owner, name);
    if (asked !== head.sha) await commitOnBranch(gh, rec, owner, name, branch, head.sha, asked);
    await notBehindLiveOrDeploying(ctx, gh, rec, render, owner, name, branch, asked);
    if (rec.commitSha === asked) return rec;
    const note = asked !== head.sha ? `Commit ${asked.slice(0, 7)} of branch ${branch} as asked (the branch is at ${head.sha.slice(0, 7)} now)` : `Commit ${asked.slice(0, 7)}, the head of branch ${branch}`;
    // Kept on success: given back once Render has answered the trigger (deployTask.ts).
    const recorded = await ctx.deployments.update(rec.id, { commitSha: asked }, [{ status: rec.status, source: 'orchestrator', note }]);
    if (!recorded) await giveBack(); // ended elsewhere meanwhile
    return recorded;
  } catch (err) {
    // The check ended it, or failed (a retry checks again). Best effort: one not given back expires
    // (REDEPLOY_CHECK_MS), or is taken over once this deployment has ended.
    await giveBack();
    throw err;
  }
}

/** How long a redeploy waits for a new service's first deploy to settle (firstDeploySettling), from its request. */
const SETTLING_WAIT_MAX_MS = 10 * 60_000;

/**
 * Whether an unfinished deploy of this user is creating this service (Render may have made it, its answer not yet
 * recorded), or made it and has not asked Render for its own commit yet: the service's first deploy, of the branch's
 * head, may be about to be stopped or deployed over (branchHead.ts). Read from the user's unfinished deployments: one
 * still creating is in no index of the service yet.
 */
async function firstDeploySettling(ctx: WorkerContext, rec: DeploymentRecord): Promise<boolean> {
  const ids = (await ctx.deployments.activeIds(rec.userId)).filter((id) => id !== rec.id).slice(0, OURS_LOOKED_AT);
  const others = await Promise.all(ids.map((id) => ctx.deployments.get(id).catch(() => null)));
  return others.some((o) => o?.kind === 'deploy' && (
    (o.serviceId === rec.serviceId && o.status === 'triggering_deploy' && !o.deployRequestedAt && !o.deployId)
    || (o.status === 'creating_service' && o.request.ownerId === rec.request.ownerId && o.request.serviceName === rec.request.serviceName)));
}

/** Deploys of the service in flight looked at (newest first), at most: each is a compare on GitHub. */
const IN_FLIGHT_LOOKED_AT = 5;
/** The service's newest other deployments of ours looked at for one in flight. */
const OURS_LOOKED_AT = 20;
const isSha = (s: string | null | undefined): s is string => typeof s === 'string' && /^[0-9a-f]{40}$/.test(s);

/**
 * A redeploy naming a commit that is already live, or older than the live one (behind it on the
 * branch), or being deployed on the service right now, or older than one that is, deploys nothing: CI runs
 * finishing out of order, or a re-run of an old job, must not put older code live over newer. A
 * commit older than one in flight would be queued behind it on Render and go live after it, so the
 * live commit alone is not enough to compare with. Ends as canceled with the reason (the UI's and
 * ci-deploy's "nothing was deployed"); a commit ahead of them, or diverged (a force-push), is deployed.
 * Older code on purpose is a rollback, which this does not touch. The live and in-flight commits are
 * Render's (one page of the service's deploys: live or not ended, docs/render-api.md "Deploy statuses")
 * and our own deployments' of the service not ended yet (checked, maybe not asked of Render yet: its
 * answer not in, or two CI runs a moment apart), compared on GitHub as commitOnBranch does
 * (docs/github-api.md). Run under the service's redeploy check (verifyRedeployCommit): two redeploys
 * asked at the same moment are checked one after the other, and the second is checked only once Render
 * has answered the first's trigger, so it sees the first's deploy and any deploy it asks for comes after.
 */
async function notBehindLiveOrDeploying(ctx: WorkerContext, gh: GitHubClient, rec: DeploymentRecord, render: RenderClient, owner: string, name: string, branch: string, asked: string) {
  const [page, ours] = await Promise.all([
    render.listDeploysPage(rec.serviceId!, { limit: 20, status: ['live', ...IN_PROGRESS_ON_RENDER] }),
    commitsOfOursInFlight(ctx, rec),
  ]);
  let live = page.items.find((d) => d.status === 'live')?.commit?.id;
  // A page full of deploys in flight (newest first) may end before the live one.
  if (!live && page.nextCursor) live = (await render.listDeploysPage(rec.serviceId!, { limit: 1, status: 'live' })).items[0]?.commit?.id;
  const short = asked.slice(0, 7);
  const fields = { commitSha: asked };
  const onRender = page.items.filter((d) => d.status !== 'live').map((d) => d.commit?.id);
  if (isSha(live)) {
    const status = live === asked ? 'identical' : await compared(gh, rec, owner, name, live, asked);
    // Live, but a deploy of ours that created the service is on its way to put its own commit over it (the new
    // service's first deploy, of the head, went live before it could be stopped: branchHead.ts): deployed again
    // after it, unless that one is newer (below). Not a rollback in flight: older code on purpose stays.
    const replaced = status === 'identical' && ours.some((o) => o.kind === 'deploy' && o.commit !== asked);
    if (status === 'identical' && !replaced) {
      throw new DeployFailed({ code: 'commit_already_live', message: `Commit ${short} is already live on this service. Nothing was deployed.` }, 'canceled', fields);
    }
    if (status === 'behind') {
      throw new DeployFailed({
        code: 'newer_commit_live',
        message: `Commit ${live.slice(0, 7)} (${live}), newer than ${short} on branch "${branch}", is already live on this service. Nothing was deployed; to put older code live, roll back to one of its deploys.`,
      }, 'canceled', fields);
    }
  }
  // The very commit already on its way (a CI job re-run, two workflows on one push): a second build of it
  // would be queued behind the first and put nothing new live. Its deployment owns the commit's status.
  if (ours.some((o) => o.commit === asked) || onRender.includes(asked)) {
    throw new DeployFailed({
      code: 'commit_already_deploying',
      message: `Commit ${short} is already being deployed on this service. Nothing was deployed; the deploy in flight says how it ends.`,
    }, 'canceled', fields);
  }
  const inFlight = [...new Set([...ours.map((o) => o.commit), ...onRender])].filter((c): c is string => isSha(c) && c !== live).slice(0, IN_FLIGHT_LOOKED_AT);
  const statuses = await Promise.all(inFlight.map((c) => compared(gh, rec, owner, name, c, asked)));
  const newer = inFlight.find((_, i) => statuses[i] === 'behind');
  if (newer) {
    throw new DeployFailed({
      code: 'newer_commit_deploying',
      message: `Commit ${newer.slice(0, 7)} (${newer}), newer than ${short} on branch "${branch}", is being deployed on this service now. Nothing was deployed (${short} would have gone live after it); to put older code live, roll back to one of its deploys.`,
    }, 'canceled', fields);
  }
}

/** How `head` compares with `base` on GitHub; null when `base` is gone from the repository (history rewritten): nothing to be behind of. */
async function compared(gh: GitHubClient, rec: DeploymentRecord, owner: string, name: string, base: string, head: string): Promise<string | null> {
  try {
    return (await gh.compareCommits(owner, name, base, head)).status;
  } catch (err) {
    if (!(err instanceof GitHubError && err.kind === 'not_found')) throw err;
    // Unless the repository itself went from sight (its 404 is the same): then nothing is known to be older.
    const hidden = await repoHiddenBy(gh, owner, name);
    if (hidden) throw repoNotFound(rec, hidden);
    return null;
  }
}

/**
 * The commits of this user's other deployments of the service that have not ended, newest first:
 * one checked and about to be asked of Render, or asked and not yet listed there, is in flight too.
 */
async function commitsOfOursInFlight(ctx: WorkerContext, rec: DeploymentRecord): Promise<Array<{ commit: string; kind: DeploymentRecord['kind'] }>> {
  const ids = (await ctx.deployments.idsOfService(rec.userId, rec.serviceId!)).filter((id) => id !== rec.id).slice(-OURS_LOOKED_AT).reverse();
  // A record that fails its MAC says nothing (it is refused wherever it is read).
  const others = await Promise.all(ids.map((id) => ctx.deployments.get(id).catch(() => null)));
  return others.flatMap((o) => (o && !isTerminal(o.status) && (o.commitSha ?? o.renderCommitId) ? [{ commit: (o.commitSha ?? o.renderCommitId)!, kind: o.kind }] : []));
}

const isHidden = (err: unknown) => err instanceof GitHubError && (err.kind === 'not_found' || err.kind === 'forbidden');

/**
 * The repository out of the token's sight. A refusal (403, 451) with GitHub's own words says what to do (SAML
 * SSO: grant the token access to the organization), which "not found" alone hid from someone who sees the
 * repository in the picker: they are quoted, on one line.
 */
const repoNotFound = (rec: DeploymentRecord, err?: unknown) => {
  const said = err instanceof GitHubError && err.kind === 'forbidden' && err.githubMessage
    ? ` GitHub refused it: “${replaceControls(err.githubMessage, ' ')}”`
    : '';
  return new DeployFailed({ code: 'repo_not_found', message: `GitHub repository ${rec.request.githubRepo} was not found, or your GitHub account cannot see it.${said}` });
};

/** The answer that hides the repository itself from the token (null for any other answer: it is not known to be hidden). */
async function repoHiddenBy(gh: GitHubClient, owner: string, name: string): Promise<GitHubError | null> {
  try {
    await gh.getRepo(owner, name);
    return null;
  } catch (err) {
    return isHidden(err) ? err as GitHubError : null;
  }
}

/**
 * The branch to deploy and the commit at its head, read with the caller's token: proof that the caller
 * can still read the repository. A branch named in the request (the deploy form always names one) is
 * read directly: GitHub answers 404 alike for a missing branch and a repository the token cannot see,
 * so the repository itself is asked for only then, to tell which, or for its default branch.
 */
async function branchToDeploy(gh: GitHubClient, rec: DeploymentRecord, owner: string, name: string): Promise<{ branch: string; head: { sha: string }; renamedFrom?: string; repoNow?: string }> {
  const named = rec.request.branch;
  const direct = named ? await gh.getBranchHead(owner, name, named).catch((err: unknown) => { if (isHidden(err)) return null; throw err; }) : null;
  // Redirected: the branch was renamed, or the repository (asked for its name now, one more read only then).
  if (named && direct) return { ...asAnswered(named, direct), ...(direct.redirected ? movedTo(owner, name, await gh.getRepo(owner, name)) : {}) };
  let repo;
  try {
    repo = await gh.getRepo(owner, name);
  } catch (err) {
    if (isHidden(err)) throw repoNotFound(rec, err);
    throw err;
  }
  const branch = named ?? repo.defaultBranch;
  const missing = async () => {
    // A repository created without a commit has no branch at all, not even its default one: say so,
    // rather than that one branch is missing. Asked only once the branch read failed.
    if (await isEmptyRepo(gh, owner, name)) {
      return new DeployFailed({ code: 'repo_empty', message: `${rec.request.githubRepo} is empty on GitHub: push a commit to ${branch}, then deploy again.` });
    }
    return new DeployFailed({ code: 'branch_not_found', message: `Branch "${branch}" does not exist in ${rec.request.githubRepo}.` });
  };
  if (named) throw await missing(); // the repository is visible, so the named branch is what is missing
  let head;
  try {
    head = await gh.getBranchHead(owner, name, branch);
  } catch (err) {
    if (err instanceof GitHubError && err.kind === 'not_found') throw await missing();
    throw err;
  }
  return { ...asAnswered(branch, head), ...movedTo(owner, name, repo) };
}

/**
 * The repository's name now, when GitHub answered the old one from where it lives (a repository renamed or
 * transferred: docs/github-api.md, "A renamed or transferred repository"). Names compare as GitHub does, case aside.
 */
function movedTo(owner: string, name: string, repo: { fullName: string }): { repoNow?: string } {
  // Taken only in the shape a request's github_repo must have: the name goes into the service's repo URL and
  // every later GitHub path, and an answer is not trusted to keep to it (a proxy, a changed API).
  if (repo.fullName.toLowerCase() === `${owner}/${name}`.toLowerCase() || !GITHUB_REPO.test(repo.fullName)) return {};
  return { repoNow: repo.fullName };
}

/**
 * GitHub lists no branch for an empty repository (and answers its git reads 409 "Git Repository is
 * empty."): docs/github-api.md, "An empty repository". Any other failure here is left to the caller's
 * own answer (branch not found), which stays true.
 */
async function isEmptyRepo(gh: GitHubClient, owner: string, name: string): Promise<boolean> {
  try {
    return (await gh.listBranches(owner, name)).length === 0;
  } catch (err) {
    return err instanceof GitHubError && err.status === 409;
  }
}

/**
 * The branch by the name GitHub answered with: a renamed branch's old name is answered with a 301 to
 * the new one (docs/github-api.md, "A renamed branch"), which the client follows. The commit read is
 * the new branch's, and git keeps no such redirect, so Render must be asked to build the new name.
 */
function asAnswered(asked: string, head: { name: string; sha: string }) {
  return head.name === asked ? { branch: asked, head } : { branch: head.name, head, renamedFrom: asked };
}

/**
 * The commit the request named must be in the branch's history (`head` is the branch's head just read):
 * deploying a commit from elsewhere, or failing only once Render tried to build it, would deploy
 * something other than what was asked for or fail late. Either way nothing is written on Render.
 */
async function commitOnBranch(gh: GitHubClient, rec: DeploymentRecord, owner: string, name: string, branch: string, head: string, commit: string) {
  const short = commit.slice(0, 7);
  let status;
  try {
    ({ status } = await gh.compareCommits(owner, name, commit, head));
  } catch (err) {
    if (err instanceof GitHubError && err.kind === 'not_found') {
      // GitHub answers 404 alike for a commit the repository lacks and a repository gone from the token's
      // sight since the branch was read (made private, deleted, transferred): said as what it is.
      const hidden = await repoHiddenBy(gh, owner, name);
      if (hidden) throw repoNotFound(rec, hidden);
      throw new DeployFailed({ code: 'commit_not_found', message: `Commit ${short} (${commit}) does not exist in ${rec.request.githubRepo}. Nothing was deployed; check the commit SHA and that it was pushed.` });
    }
    throw err;
  }
  if (status !== 'ahead' && status !== 'identical') {
    throw new DeployFailed({ code: 'commit_not_on_branch', message: `Commit ${short} (${commit}) is not on branch "${branch}" of ${rec.request.githubRepo}. Nothing was deployed; deploy it from its own branch, or push it to "${branch}" first.` });
  }
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
