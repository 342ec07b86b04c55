import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { liveService, recordWithDeployId, renderCalls, renderDeploysOf, until, waitFinished } from '../helpers/pipeline.js';

// Two users of this app, each with their own Render key, in one Render team workspace (teammates). Which
// Render deploy is a deployment's own (workers/tasks/ownDeploy.ts deployOfAsk) sets aside the deploys the
// user's other deployments recorded and those another deployment claimed; a deploy a teammate's
// deployment was named in Render's 201 was neither (the user's own service index does not list it, and
// only deploys found by a look were claimed): after a lost answer, one user's canceled redeploy took the
// teammate's redeploy for its own and canceled it on Render, and its own went live. Every deploy a
// deployment records is claimed for it now (renderDeploy.ts recordDeploy, createService.ts recordCreated).

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

async function teammate(login: string, ownerId: string) {
  const apiKey = `rnd_${login.replace(/[^A-Za-z0-9]/g, '')}${'t'.repeat(24)}`;
  const account = stack.render.addAccount({ apiKey, workspaces: [{ id: ownerId, name: 'shared' }] });
  const agent = stack.agent();
  await stack.signIn(agent, login);
  const res = await agent.post('/api/render/setup', { api_key: apiKey });
  if (res.status !== 200) throw new Error(`setup: ${res.status} ${res.text}`);
  return { agent, apiKey, accountId: account.id };
}

test.serial('my canceled redeploy whose ask\'s answer was lost never cancels the deploy my teammate\'s redeploy started meanwhile', async (t) => {
  const ada = await liveService(stack, 'tm-ada');
  const bea = await teammate('tm-bea', ada.ownerId);
  // Ada's first deploy well before anything below (Render's Date has a second's grain).
  await new Promise((r) => setTimeout(r, 2_500));
  // Every deploy of the service stays running in its last phase until the test lets it go.
  const release = stack.render.holdPhase({ serviceId: ada.serviceId }, 'update_in_progress');
  t.teardown(release);

  // Bea's ask for a deploy: held on its way to Render, and its answer lost once it is made there.
  stack.render.setFault({ method: 'POST', route: '/services/{serviceId}/deploys', apiKey: bea.apiKey, kind: 'lost', count: 1 });
  const held = stack.render.holdRequest({ method: 'POST', route: '/services/{serviceId}/deploys', apiKey: bea.apiKey });
  t.teardown(held.release);
  const beaAsked = await bea.agent.post(`/api/render/services/${ada.serviceId}/redeploy`);
  t.is(beaAsked.status, 202, beaAsked.text);
  await held.arrived;
  const canceled = await bea.agent.post(`/api/render/deployments/${beaAsked.json.id}/cancel`);
  t.is(canceled.status, 200, canceled.text);

  // Meanwhile Ada redeploys through the app: Render starts it at once (201) and her record names it.
  const adaAsked = await ada.agent.post(`/api/render/services/${ada.serviceId}/redeploy`);
  t.is(adaAsked.status, 202, adaAsked.text);
  const adaRec = await recordWithDeployId(ada.agent, adaAsked.json.id);
  const adaDeploy = adaRec.deployId as string;

  // Bea's ask reaches Render (queued behind Ada's), its answer lost; her job looks for it to cancel it.
  const looks = () => renderCalls(stack, bea.accountId, 'GET', '/services/{serviceId}/deploys').length;
  const looked = looks();
  held.release();
  const beaDeploy = await until('bea\'s deploy on Render', async () =>
    (await renderDeploysOf(stack, ada.apiKey, ada.serviceId)).find((d) => d.trigger === 'api' && d.id !== adaDeploy && Date.parse(d.createdAt) > Date.parse(adaRec.createdAt)));
  // Bea's job, after the lost answer, follows up (a delayed retry) and looks for the deploy it made: then
  // Ada's is let go (Render cancels a queued deploy only once it leaves the queue: Bea's, after Ada's).
  await until('bea\'s follow-up looked for her deploy', async () => looks() > looked, 30_000);
  // Hers then stops in its build, where her job finds it running and cancels it.
  t.teardown(stack.render.holdPhase({ serviceId: ada.serviceId }, 'build_in_progress'));
  release();
  const adaDone = await waitFinished(ada.agent, adaAsked.json.id);
  t.is(adaDone.status, 'live', `ada's redeploy ended ${adaDone.status}`);
  await until('bea\'s deploy canceled on Render', async () => (await renderDeploysOf(stack, ada.apiKey, ada.serviceId)).find((d) => d.id === beaDeploy.id)?.status === 'canceled', 30_000);
  const beaCancels = renderCalls(stack, bea.accountId, 'POST', '/services/{serviceId}/deploys/{deployId}/cancel').map((c) => c.path);
  t.false(beaCancels.some((p) => p.includes(adaDeploy)), `bea's follow-up canceled ada's deploy ${adaDeploy} (bea's own: ${beaDeploy.id})`);
  const after = await renderDeploysOf(stack, ada.apiKey, ada.serviceId);
  t.is(after.find((d) => d.id === adaDeploy)?.status, 'live');
});
