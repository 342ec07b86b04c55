import { RenderApiError, type RenderClient } from '../../server/render/client.js';
import { dashboardUrlOf, sameRepo, suggestFreeName } from '../../server/render/serviceNames.js';
import type { Deploy, Service, ServiceType } from '../../server/render/types.js';
import { serviceDetailsFor } from './serviceDetails.js';
import { isTerminal, type DeploymentRecord } from '../../server/deployments/types.js';
import { RecordTamperedError } from '../../server/deployments/integrity.js';
import { isCronJob } from '../../server/deployments/cancel.js';
import type { EnvVarInput } from '../../server/deployments/envVars.js';
import type { WorkerContext } from '../context.js';
import { DeployFailed } from './deployFailed.js';
import { readDated } from '../../server/render/renderClock.js';
import type { TakeAhead } from './runBudget.js';
import { headNotStopped, stopMayBeRetried } from './branchHead.js';
import { keyStillConsented } from './credentials.js';
import { retiredDeps } from '../../server/deployments/retiredSecrets.js';
import { seedSeenSecrets } from '../../server/deployments/seenSecrets.js';
import type { CreationSent } from '../../server/deployments/nameClaims.js';

// The creating_service step: make the service, or adopt the one this same deployment made before a crash.

/** A service under the requested name, and how to move a time of ours onto Render's clock by its lookup's answer (§6.3). */
interface FoundService { service: Service; onRender(ours: number): number }

async function findService(ctx: WorkerContext, render: RenderClient, rec: DeploymentRecord): Promise<FoundService | null> {
  const { answer: page, onRender } = await readDated(ctx.clock, () => render.listServicesNamed(rec.request.ownerId, rec.request.serviceName, 20));
  const service = page.items.find((s) => s.name === rec.request.serviceName && s.ownerId === rec.request.ownerId);
  return service ? { service, onRender } : null;
}

/**
 * Whether a service found under the requested name is the one this same deployment asked Render to
 * create (its answer was lost to a crash or a timeout): same repo, branch and workspace, created after
 * this deployment first sent its creation (the mark on its claim of the name, nameClaims.ts: another of
 * our deployments asking for the name at once, a teammate's on the same key, holds no claim then),
 * compared on Render's clock, as its createdAt is; and no other deployment of this user points at it.
 * Anything else — another repo, branch or workspace, a service older than the send, one a deployment
 * already claims — is somebody else's service and is never touched.
 * No creation marked sent is no adoption: a deployment that has not claimed the name, or that claimed it
 * and stopped before its creation (out of budget, a crash, a cancel), sent none, and a service of its
 * repo made meanwhile (the dashboard, another tool, a teammate) is somebody else's; its env values were
 * overwritten when the claim alone was read as a creation sent. A claim or mark that was lost (Redis lost
 * writes, or a claim made before marks existed) ends the deploy as service_name_taken, naming the
 * service: the safe side.
 */
async function createdByThisDeployment(ctx: WorkerContext, rec: DeploymentRecord, { service: svc, onRender }: FoundService): Promise<boolean> {
  if (svc.ownerId !== rec.request.ownerId || !sameRepo(svc.repo, rec.request.githubRepo) || (svc.branch ?? null) !== rec.request.branch) return false;
  const claim = await ctx.deployments.serviceNameClaim(rec.request.ownerId, rec.request.serviceName);
  if (claim?.id !== rec.id || claim.creationSentAt === null) return false;
  if (!(Date.parse(svc.createdAt) > onRender(claim.creationSentAt))) return false;
  const claimants = await ctx.deployments.idsOfService(rec.userId, svc.id);
  return claimants.every((id) => id === rec.id);
}

/**
 * A deploy canceled in `creating_service` after it sent its creation (server/deployments/cancel.ts
 * lostCreationMayExist): the service its creation made, its answer lost, found as the creation's retry
 * would find it (by name, createdByThisDeployment: never somebody else's), is noted on the canceled
 * record, whose job then cancels its first deploy (firstDeployOwedCancel). Returns the record as it
 * now is, or null when there is no such service.
 */
export async function serviceOfLostCreation(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient): Promise<DeploymentRecord | null> {
  const found = await findService(ctx, render, rec);
  if (!found || !(await createdByThisDeployment(ctx, rec, found))) return null;
  await Promise.all([ctx.deployments.noteAfterEnd(rec.id, serviceFields(found.service, found.service.id)), serviceListChanged(ctx, rec)]);
  const now = await ctx.deployments.get(rec.id);
  return now?.serviceId === found.service.id ? now : null;
}

/** A name free in the request's workspace, near the requested one; `taken` counts as used even if Render does not list it yet. */
async function freeNameInWorkspace(render: RenderClient, rec: DeploymentRecord, taken: string): Promise<string> {
  const names = new Set((await render.listServices({ ownerId: rec.request.ownerId })).map((s) => s.name));
  names.add(taken);
  return suggestFreeName(rec.request.serviceName, names);
}

/** Another of our deployments is creating a service under the name right now: fail before any Render write. */
async function nameBeingCreated(render: RenderClient, rec: DeploymentRecord): Promise<never> {
  const suggestedName = await freeNameInWorkspace(render, rec, rec.request.serviceName);
  throw new DeployFailed({
    code: 'service_name_taken',
    message: `Another deployment is creating a service named "${rec.request.serviceName}" in this workspace right now. Nothing was changed. Deploy under another name, such as "${suggestedName}", or redeploy that service once it exists.`,
    suggestedName,
  });
}

/** The name belongs to another service: fail before any Render write, with a free name to use instead. */
async function nameTaken(render: RenderClient, rec: DeploymentRecord, svc: Service): Promise<never> {
  const suggestedName = await freeNameInWorkspace(render, rec, svc.name);
  const what = svc.repo ? ` (it deploys ${svc.repo.replace(/^https:\/\/github\.com\//, '')}${svc.branch ? ` @ ${svc.branch}` : ''})` : '';
  throw new DeployFailed({
    code: 'service_name_taken',
    message: `Your workspace already has a service named "${svc.name}"${what}. Nothing was changed on it. Deploy under another name, such as "${suggestedName}", or redeploy that service from the dashboard.`,
    suggestedName,
  });
}

/** A service this deployment created before an interruption: finish its setup and go on to its deploy. */
async function adoptOwnService(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient, svc: Service) {
  // Per-key updates only: the service's other variables stay as they are.
  for (const v of await ctx.envVault.get(rec.id)) await render.putEnvVar(svc.id, v.key, v.value);
  await ctx.envVault.drop(rec.id);
  return ctx.deployments.transition(rec.id, 'triggering_deploy', 'orchestrator', serviceFields(svc, svc.id), `Resumed: service ${svc.name} was created by this deployment`);
}

/**
 * Create the service, after making sure the name is free. A service already under that name is adopted
 * only when this very deployment created it before a crash; any other clash fails as
 * service_name_taken. Existing services are deployed only through their own actions, by id.
 */
export async function createOrAdoptService(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient, takeAhead: TakeAhead) {
  if (rec.serviceId) return ctx.deployments.transition(rec.id, 'triggering_deploy', 'orchestrator');
  const existing = await findService(ctx, render, rec);
  if (existing) return adoptOrRefuse(ctx, rec, render, existing);
  const claim = await ctx.deployments.claimServiceName(rec.request.ownerId, rec.request.serviceName, rec.id, ctx.clock.now(), ctx.renderTimeoutMs);
  if (claim.id !== rec.id) return nameBeingCreated(render, rec);
  // Both reads go out together (one round trip); the record is judged first, the values used only after.
  // The creation's budget slot is taken in the same round trip (runBudget.ts).
  const slot = takeAhead({ method: 'POST', route: '/services' });
  const envRead = ctx.envVault.get(rec.id);
  envRead.catch(() => undefined);
  const fresh = await recordBeforeCreate(ctx, rec.id);
  if (!fresh) return null;
  // Out of budget, the run stops here (a delayed job) with nothing marked: no creation was sent.
  await slot;
  const sent = await markCreationSent(ctx, fresh);
  // Taken over since this run claimed it (the record ended or was altered meanwhile): another deployment
  // creates under the name now, and no creation of this one goes out beside it.
  if (sent.claim && sent.claim.id !== rec.id) return nameBeingCreated(render, fresh);
  const envVars = await envRead;
  const outcome = await createOnRender(ctx, fresh, render, envVars, sent);
  if (outcome.kind === 'name_taken_meanwhile') {
    // Render refused this very creation (the client never sends one twice): the service it found is somebody
    // else's (the dashboard, another tool) made since the lookup, unless a creation of this deployment sent
    // before this one (an earlier run's) landed since. Judged by the claim alone, kept from an earlier run
    // that may have stopped before its send, one of the same repo and branch passed for ours: its env values
    // were overwritten and its first deploy, of their build command, followed as this deployment's.
    if (!sent.sentBefore) return nameTaken(render, fresh, outcome.service.service);
    return adoptOrRefuse(ctx, fresh, render, outcome.service);
  }
  return recordCreated(ctx, fresh, render, outcome.created, envVars, takeAhead);
}

/**
 * The claim marked: this deployment's creation is sent now (nameClaims.ts markCreationSent), one more
 * round trip, after the record was read not ended and the budget slot taken, so that neither a cancel
 * nor an empty budget leaves a mark. Left: a stop between the mark and the send (the job's fence, a
 * crash) leaves a mark with no creation, a moment against a run's length.
 */
const markCreationSent = (ctx: WorkerContext, rec: DeploymentRecord) =>
  ctx.deployments.markCreationSent(rec.request.ownerId, rec.request.serviceName, rec.id, ctx.clock.now());

/** A service under the requested name: ours from before an interruption is adopted, anyone else's refused. */
async function adoptOrRefuse(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient, found: FoundService) {
  if (await createdByThisDeployment(ctx, rec, found)) return adoptOwnService(ctx, rec, render, found.service);
  return nameTaken(render, rec, found.service);
}

/**
 * The record as stored right now, verified: the last check before anything is written on Render, so a
 * record altered in Redis while the name lookup ran (its detected build command, say) is refused here.
 * Null when the deployment ended meanwhile (canceled, revoked).
 */
async function recordBeforeCreate(ctx: WorkerContext, id: string): Promise<DeploymentRecord | null> {
  const fresh = await ctx.deployments.get(id);
  if (!fresh) throw new RecordTamperedError(id);
  return isTerminal(fresh.status) ? null : fresh;
}

type CreatedService = Awaited<ReturnType<RenderClient['createService']>>;

/** POST /services with the detected stack and the env values; a 409 means the name was taken since the lookup. */
async function createOnRender(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient, envVars: EnvVarInput[], sent: CreationSent): Promise<{ kind: 'created'; created: CreatedService } | { kind: 'name_taken_meanwhile'; service: FoundService }> {
  try {
    const created = await render.createService({
      type: rec.stack!.serviceType as ServiceType,
      name: rec.request.serviceName,
      ownerId: rec.request.ownerId,
      repo: `https://github.com/${rec.request.githubRepo}`,
      branch: rec.request.branch ?? undefined,
      // A render.yaml service's directory in a monorepo: its commands run there (blueprint.ts).
      ...(rec.stack!.rootDir ? { rootDir: rec.stack!.rootDir } : {}),
      // A render.yaml service's autoDeploy: false or autoDeployTrigger (blueprint.ts autoDeployOf); else on.
      autoDeploy: rec.stack!.autoDeploy ?? 'yes',
      envVars: envVars.map((v) => ({ key: v.key, value: v.value })),
      serviceDetails: serviceDetailsFor(rec),
    });
    return { kind: 'created', created };
  } catch (err) {
    if (refusedByRender(err)) await sent.withdraw().catch(() => ctx.logger.warn({ deploymentId: rec.id }, 'the mark of a creation Render refused was not taken back'));
    if (err instanceof RenderApiError && err.kind === 'conflict') {
      // Someone (or an earlier run's creation of this deployment, landing late) took the name between our lookup and our create.
      const raced = await findService(ctx, render, rec);
      if (raced) return { kind: 'name_taken_meanwhile', service: raced };
    }
    throw err;
  }
}

/**
 * Render refused the creation (a 4xx but a timeout: a 409, a 429, a validation error, the key refused):
 * it made nothing, so the mark this run wrote is taken back. Kept, a retry (or a cancel's look) would take
 * a service of the repo made under the name since (the dashboard) for this deployment's.
 */
function refusedByRender(err: unknown): boolean {
  return err instanceof RenderApiError && err.status !== undefined && err.status >= 400 && err.status < 500 && err.kind !== 'timeout';
}

/**
 * Record the ids the moment Render returns them. A deployment canceled while Render was creating the
 * service keeps the service, has its first build stopped (when the answer named no deploy, a canceled
 * one's job finds it: cancel.ts firstDeployOwedCancel); one revoked meanwhile makes no further call.
 * Either notes where the service is so the user can find (or delete) it.
 */
async function recordCreated(ctx: WorkerContext, rec: DeploymentRecord, render: RenderClient, created: CreatedService, envVars: EnvVarInput[], takeAhead?: TakeAhead) {
  ctx.crashPoint?.('service_created');
  const service = created.service;
  if (!service) {
    await serviceListChanged(ctx, rec);
    throw new DeployFailed({ code: 'render_bad_response', message: 'Render created the service but did not say which one. Check your Render dashboard.' });
  }
  // A request that named a commit: the first deploy builds the branch's head (creating a service takes
  // no commit, docs/render-api.md §6.3), so it is stopped and the commit asked for is deployed by id
  // (triggering_deploy; ownDeploy.ts adopts a first deploy only when it builds that commit).
  const pinned = Boolean(rec.request.commitSha);
  // The ids, the cache drop and the env values' deletion go out together (one round trip): Render holds
  // the values now, whatever the record write answers. So does the budget slot of the first look at
  // the deploy, which follows at once (deployTask.ts: a created deployment is watched).
  if (!pinned) void takeAhead?.({ method: 'GET', route: '/services/{serviceId}/deploys/{deployId}', serviceId: service.id });
  const fields = serviceFields(service, service.id);
  // Only from creating_service: a run that stalled past its job's lock while Render created the service comes back
  // to a record another run moved on (it adopted the service and its deploy); written anyway, the record went back
  // from Building to created, with a second creation entry and a watch deadline moved (found by a worker-kill probe).
  // (An ended record still gets the change planned: the write is dropped, but the first deploy it names is claimed for
  // it, recordWrites.ts update, and its job then cancels that deploy.)
  const whileCreating = (set: Partial<DeploymentRecord>) => (before: DeploymentRecord) => (before.status === 'creating_service' || isTerminal(before.status) ? set : null);
  const write = pinned
    ? ctx.deployments.transition(rec.id, 'triggering_deploy', 'render', whileCreating(fields), `Service created on Render; its first deploy builds the branch's head, kept only if that is commit ${rec.request.commitSha!.slice(0, 7)}`)
    : ctx.deployments.transition(rec.id, 'created', 'render', whileCreating({ ...fields, deployId: created.deployId ?? null, deployRequestedAt: new Date(ctx.clock.now()).toISOString() }), 'Service created on Render');
  // The env values also start the service's last-seen view for log redaction (seenSecrets.ts), so one changed
  // on the Dashboard before any log read is still redacted; best effort: without it only that case is lost.
  const seeded = seedSeenSecrets(retiredDeps(ctx), service.id, envVars.map((v) => ({ name: `env-vars/${v.key}`, value: v.value })))
    .catch(() => ctx.logger.warn({ deploymentId: rec.id, serviceId: service.id }, 'the env values did not start the service\'s last-seen view for log redaction; the first log read will'));
  // Its first deploy, named in the answer, is claimed for it (recordWrites.ts update says why): by the
  // write that names it, or here when the record does not (pinned: it builds the branch's head and is stopped).
  const claimed = pinned && created.deployId ? ctx.deployments.assignRenderDeploy(created.deployId, rec.id) : null;
  const [next] = await Promise.all([write, serviceListChanged(ctx, rec), ctx.envVault.drop(rec.id), seeded, claimed]);
  if (!next) {
    // Its first build is this deployment's: stopped here when the answer named it. Named or not, a
    // canceled record that notes the service keeps this run on to find it as the service's first
    // deploy and cancel it (server/deployments/cancel.ts firstDeployOwedCancel, canceledAsk.ts).
    // Revoked (sign-out, key cleared or replaced, while Render created it): the key is not used after
    // the consent ended, and the record's reason says Render may still build it (revocation.ts).
    const ended = created.deployId ? await ctx.deployments.get(rec.id).catch(() => null) : null;
    // A user's cancel followed by a sign-out (or the key cleared or replaced): no call with the key; the
    // job then says on the record that the deploy was left on Render (canceledAsk.ts). Nor for a cron job's,
    // which Render cannot cancel (cancel.ts isCronJob): the job says so on the record.
    if (created.deployId && ended?.status === 'canceled' && !isCronJob(ended) && await keyStillConsented(ctx, ended)) await render.cancelDeploy(service.id, created.deployId).catch(() => undefined);
    await ctx.deployments.noteAfterEnd(rec.id, fields);
  } else if (next && pinned && created.deployId) {
    const first = await firstDeployRead(render, service.id, created.deployId);
    if (buildsAskedCommit(rec, first)) return next;
    // Revoked while the read was on its way (sign-out, key cleared or replaced): no more calls with the
    // key; the record's reason says Render may still build it (revocation.ts).
    const still = await ctx.deployments.get(rec.id).catch(() => null);
    if (!still || isTerminal(still.status)) return null;
    // Left running, the deploy of the commit would queue behind it, and the head go live first. A stop
    // that fails is noted, and the next step (which lists the service's deploys anyway) stops it, or
    // waits for it to end, before the commit is asked for (branchHead.ts).
    try {
      await render.cancelDeploy(service.id, created.deployId);
    } catch (err) {
      if (!stopMayBeRetried(err)) throw err;
      return ctx.deployments.update(rec.id, {}, [{ status: next.status, source: 'orchestrator', note: headNotStopped(first ?? {}, next, err) }]);
    }
  }
  // Kept (the head is the commit asked for, CI's usual case): the next step adopts it instead of
  // building the commit again (ownDeploy.ts deployAlreadyOurs).
  return next;
}

/** A new service's first deploy as Render has it, or null when it cannot be read. */
const firstDeployRead = (render: RenderClient, serviceId: string, deployId: string): Promise<Deploy | null> =>
  render.getDeploy(serviceId, deployId).catch(() => null);

/** Whether a new service's first deploy builds the commit the request named (unknown: no, it is stopped as before). */
function buildsAskedCommit(rec: DeploymentRecord, first: Deploy | null): boolean {
  return Boolean(first?.commit?.id) && first!.commit!.id === rec.request.commitSha;
}

function serviceFields(service: Service | null, serviceId: string): Partial<DeploymentRecord> {
  if (!service) return { serviceId };
  const url = (service.serviceDetails as { url?: string } | undefined)?.url ?? null;
  return { serviceId, dashboardUrl: dashboardUrlOf(service.dashboardUrl), serviceUrl: url || null };
}

/**
 * The user's cached service list is stale once a service appears or a deploy ends (the name check and
 * the service cards read it): drop it, as the web routes do after their own changes.
 */
export async function serviceListChanged(ctx: WorkerContext, rec: Pick<DeploymentRecord, 'userId' | 'keyFingerprint'>) {
  await ctx.upstream.serviceCache.invalidate({ userId: rec.userId, keyFingerprint: rec.keyFingerprint }).catch(() => undefined);
}
