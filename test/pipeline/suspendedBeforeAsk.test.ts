import test from 'ava';
import type { Stack } from '../helpers/stack.js';
import { usePipelineStack, QUICK_PHASES } from '../helpers/pipelineStack.js';
import { liveService, waitFinished } from '../helpers/pipeline.js';
import { supersededDeploy } from '../helpers/attackTenants.js';
import { createRenderClient } from '../../server/render/client.js';

// A redeploy or rollback answered 202, then the service suspended (another tab, Render's dashboard) before
// the worker's ask reached Render. Render refuses it in its own words, a 409 for a trigger and a 400 for a
// rollback, and the deployment ended render_conflict / render_bad_request; the route refuses the same
// situation met a moment later with service_suspended, "resume it first". The worker reads the service
// once after such a refusal and ends a suspended one the route's way (workers/tasks/renderDeploy.ts refusedAsSuspended).
let stack: Stack;
usePipelineStack(test, { renderOptions: { phaseMs: QUICK_PHASES } }, (p) => ({ stack } = p));

for (const kind of ['redeploy', 'rollback'] as const) {
  test(`a ${kind} whose service is suspended before its ask reaches Render ends service_suspended, in the route's words`, async (t) => {
    const u = await liveService(stack, `susp-${kind}`);
    // A rollback names a deploy that went live before the one live now (which the route refuses).
    const body = kind === 'rollback' ? { deploy_id: await supersededDeploy(createRenderClient({ baseUrl: stack.render.url, apiKey: u.apiKey }), u.serviceId) } : {};
    const hold = stack.render.holdRequest({ method: 'POST', route: kind === 'rollback' ? '/services/{serviceId}/rollback' : '/services/{serviceId}/deploys', apiKey: u.apiKey });
    t.teardown(() => hold.release());
    const res = await u.agent.post(`/api/render/services/${u.serviceId}/${kind}`, body);
    t.is(res.status, 202, res.text);
    await hold.arrived;
    t.is((await u.agent.post(`/api/render/services/${u.serviceId}/suspend`)).status, 200);
    hold.release();

    const ended = await waitFinished(u.agent, res.json.id);
    t.is(ended.status, 'failed');
    t.is(ended.failure?.code, 'service_suspended', JSON.stringify(ended.failure));
    // The route's refusal of the same ask now, word for word.
    const refused = await u.agent.post(`/api/render/services/${u.serviceId}/${kind}`, body);
    t.is(refused.status, 409, refused.text);
    t.is(refused.json.error.code, 'service_suspended');
    t.is(ended.failure.message, refused.json.error.message);
  });
}
