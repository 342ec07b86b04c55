import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { QUICK_PHASES, usePipelineStack } from '../helpers/pipelineStack.js';
import { canceledWhileAskHeld, liveService, renderCalls, renderDeploysOf, until, waitFinished } from '../helpers/pipeline.js';
import { supersededDeploy } from '../helpers/attackTenants.js';
import { createRenderClient } from '../../server/render/client.js';

// A cancel that lands while the worker's ask for a deploy (a redeploy, a rollback) is on its way to
// Render: the record ends canceled before any deploy id is known, so the cancel route has nothing to
// cancel on Render. The deploy Render then makes must be canceled by the worker that asked for it (as
// a service's first deploy is when a cancel races its creation), not left to build and go live.

let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

const cases = [
  { kind: 'redeploy', route: '/services/{serviceId}/deploys', ask: (serviceId: string) => ({ path: `/api/render/services/${serviceId}/redeploy`, body: undefined }), trigger: 'api' },
  { kind: 'rollback', route: '/services/{serviceId}/rollback', ask: (serviceId: string, deployId: string) => ({ path: `/api/render/services/${serviceId}/rollback`, body: { deploy_id: deployId } }), trigger: 'rollback' },
] as const;

for (const c of cases) {
  test(`a ${c.kind} canceled while its ask is on the way to Render: Render's deploy is canceled, never live`, async (t) => {
    const u = await liveService(stack, `cancel-${c.kind}`);
    // A rollback names a deploy that went live before the one live now (which the route refuses): made before
    // the hold below, which would keep that second deploy from going live.
    if (c.kind === 'rollback') await supersededDeploy(createRenderClient({ baseUrl: stack.render.url, apiKey: u.apiKey }), u.serviceId);
    // The deploy the ask makes stays running until the test has seen how it ends (its last phase is held):
    // a cancel must not lose to Render's phase timings.
    const release = stack.render.holdPhase({ serviceId: u.serviceId }, 'update_in_progress');
    t.teardown(release);
    const askedId = await canceledWhileAskHeld(t, stack, u, { route: c.route, ...c.ask(u.serviceId, u.firstDeployId) });

    const made = await until('the deploy the ask made', async () =>
      (await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((d) => d.trigger === c.trigger && d.id !== u.firstDeployId));
    const rec = await waitFinished(u.agent, askedId);
    t.is(rec.status, 'canceled');
    // The run that asked cancels what its ask made; only then does the held phase end (read from the
    // simulator's call log: polling Render's API would spend the key's rate limit).
    const cancelCall = await until('the worker\'s cancel of that deploy', async () =>
      renderCalls(stack, u.accountId, 'POST', '/services/{serviceId}/deploys/{deployId}/cancel').find((call) => call.path.includes(made.id)), 15_000).catch(() => null);
    release();
    const after = (await renderDeploysOf(stack, u.apiKey, u.serviceId)).find((x) => x.id === made.id);
    t.truthy(cancelCall, `the deploy asked for by a canceled deployment is canceled, not left running (${after?.status})`);
    t.is(after?.status, 'canceled');
  });
}
