import test, { type ExecutionContext } from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { QUICK_PHASES } from '../helpers/pipelineStack.js';
import { addNodeRepo, liveService, renderDeploysOf, signedInWithKey, startTestWorker, until, type TestWorker } from '../helpers/pipeline.js';
import type { DeploymentRecord } from '../../server/deployments/types.js';
import { supersededDeploy } from '../helpers/attackTenants.js';
import { createRenderClient } from '../../server/render/client.js';

// A deploy, redeploy or rollback asked before the user withdrew the key (signed out, cleared it, connected
// another) and whose record was written after. The withdrawal stops the session's unfinished deploys
// (requests.ts revokeForSession), but only the records that exist when it walks them. Before, a record
// written after that walk stayed queued with the withdrawn key's fingerprint and the request answered 202:
// once the same key was connected again (same fingerprint) the worker's check passed and the deploy ran on
// Render, asked before consent was withdrawn, answered after. Now the request asks the session again once
// the record is stored (requests.ts start): withdrawn, the record ends credentials_revoked as the walk would
// end it, no job is added, and the request is answered as one sent now (401, render_key_missing, or 503).

let stack: Stack;
let worker: TestWorker | undefined;
test.before(async () => { stack = await startStack({ renderOptions: { phaseMs: QUICK_PHASES } }); });
test.after.always(async () => { await worker?.close(2_000); await stack?.close(); });

const SIGNED_OUT_OR_CLEARED = 'Stopped because you signed out or cleared your Render key.';
const ANOTHER_KEY = 'Stopped because you connected another Render key.';

/** `login`'s live service, made with a worker that is then stopped: what is asked from here on stays queued. */
async function liveServiceAtRest(login: string) {
  worker = await startTestWorker(stack);
  try {
    return await liveService(stack, login);
  } finally {
    await worker.close(2_000);
    worker = undefined;
  }
}

/** The ids of the deployment records stored from now on; with `gate`, each record's write waits for it. */
function recordsStored(t: ExecutionContext, gate?: Promise<void>): string[] {
  const { deployments } = stack.web.deps;
  const original = deployments.create;
  const ids: string[] = [];
  deployments.create = async (rec: DeploymentRecord) => {
    ids.push(rec.id);
    await gate;
    return original(rec);
  };
  t.teardown(() => { deployments.create = original; });
  return ids;
}

/** The one record stored since `ids` was taken ended as the withdrawal's walk ends one, and has no job nor env values. */
async function endedWithoutJob(t: ExecutionContext, ids: string[], reason: string): Promise<DeploymentRecord> {
  t.is(ids.length, 1, 'one record was stored');
  const rec = await stack.web.deps.deployments.get(ids[0]!);
  t.is(rec?.status, 'credentials_revoked');
  t.is(rec?.failure?.message, reason);
  t.falsy(await stack.web.deps.queue.getJob(ids[0]!), 'no job was added');
  t.deepEqual(await stack.web.deps.envVault.get(ids[0]!), [], 'no env values are kept');
  return rec!;
}

test.serial('a redeploy in flight across clear-credentials does not run once the same key is connected again', async (t) => {
  t.timeout(50_000);
  const { agent, apiKey, serviceId } = await liveServiceAtRest('wd-redeploy');
  const before = (await renderDeploysOf(stack, apiKey, serviceId)).length;
  const ids = recordsStored(t);

  const held = stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}', apiKey });
  const redeploy = agent.post(`/api/render/services/${serviceId}/redeploy`);
  await held.arrived;
  const cleared = await agent.post('/api/render/clear-credentials');
  t.is(cleared.status, 200, cleared.text);
  held.release();
  const res = await redeploy;
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'render_key_missing', 'answered as a redeploy sent after the clear');
  await endedWithoutJob(t, ids, SIGNED_OUT_OR_CLEARED);

  // The user connects the same key again (e.g. to look at the dashboard), then a worker gets to the queue.
  t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
  worker = await startTestWorker(stack);
  // A deploy the worker finishes now proves it has looked at the queue (behind anything left in it).
  const after = await agent.post(`/api/render/services/${serviceId}/redeploy`);
  t.is(after.status, 202, after.text);
  await until('the later redeploy ends', async () => {
    const rec = await stack.web.deps.deployments.get(after.json.id);
    return rec && ['live', 'failed', 'credentials_revoked', 'canceled'].includes(rec.status) ? rec : null;
  }, 30_000);
  t.is((await stack.web.deps.deployments.get(ids[0]!))?.status, 'credentials_revoked');
  const deploys = await renderDeploysOf(stack, apiKey, serviceId);
  t.is(deploys.length, before + 1, 'the later redeploy is the only deploy on Render since: none from the one asked before the clear');
  await worker.close(2_000);
  worker = undefined;
});

test.serial('a rollback in flight while another account\'s key is connected is stopped, not run with the old key', async (t) => {
  const { agent, apiKey, serviceId } = await liveServiceAtRest('wd-rollback');
  const earlierDeployId = await supersededDeploy(createRenderClient({ baseUrl: stack.render.url, apiKey }), serviceId);
  const other = `rnd_wdrollbackother${'k'.repeat(20)}`;
  stack.render.addAccount({ apiKey: other, workspaces: [{ name: 'wd rollback other' }] });
  const ids = recordsStored(t);

  // Its last Render call, the target deploy's read (one at its service read stops at the next call's check).
  const held = stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}/deploys/{deployId}', apiKey });
  const rollback = agent.post(`/api/render/services/${serviceId}/rollback`, { deploy_id: earlierDeployId });
  await held.arrived;
  t.is((await agent.post('/api/render/setup', { api_key: other })).status, 200);
  held.release();
  const res = await rollback;
  t.is(res.status, 503, res.text);
  t.regex(res.json.error.message, /Render key changed while this rollback was being made/);
  await endedWithoutJob(t, ids, ANOTHER_KEY);
});

test.serial('a settings-page redeploy in flight across a sign-out is stopped and answered 401', async (t) => {
  const { agent, apiKey, serviceId } = await liveServiceAtRest('wd-settings');
  const ids = recordsStored(t);

  const held = stack.render.holdRequest({ method: 'GET', route: '/services/{serviceId}', apiKey });
  const redeploy = agent.post(`/api/render/services/${serviceId}/deploys`, { clear_cache: true });
  await held.arrived;
  t.is((await agent.post('/api/auth/logout')).status, 200);
  held.release();
  const res = await redeploy;
  t.is(res.status, 401, res.text);
  await endedWithoutJob(t, ids, SIGNED_OUT_OR_CLEARED);
});

test.serial('a deploy whose record is written after clear-credentials is stopped, and stays stopped once the same key is connected again', async (t) => {
  const { agent, apiKey } = await signedInWithKey(stack, 'wd-deploy');
  addNodeRepo(stack, 'wd-deploy', 'app');
  // The request has read the session and is writing its record: the write waits until the clear is answered.
  let release!: () => void;
  const ids = recordsStored(t, new Promise<void>((resolve) => { release = resolve; }));
  const deploy = agent.post('/api/render/deploy', { github_repo: 'wd-deploy/app', project_name: 'wd-deploy-app', env_vars: [{ key: 'TOKEN', value: 'withdrawn-key-secret' }] });
  await until('the record is being written', async () => ids.length > 0 || null, 10_000);
  const cleared = await agent.post('/api/render/clear-credentials');
  t.is(cleared.status, 200, cleared.text);
  release();
  const res = await deploy;
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'render_key_missing');
  await endedWithoutJob(t, ids, SIGNED_OUT_OR_CLEARED);
  t.is((await agent.post('/api/render/setup', { api_key: apiKey })).status, 200);
  t.is((await stack.web.deps.deployments.get(ids[0]!))?.status, 'credentials_revoked', 'the same key connected again does not bring it back');
});
