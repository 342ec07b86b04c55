// A deploy answer (a look, a cancel, a trigger, a rollback, a list's items) of the wrong shape. The client
// took any JSON object as a deploy, and the worker trusted its `status` and `id`: a look at deploy X
// answered {"id":"dep-other","status":"live"} or {"status":"live"} ended the deployment live while
// Render was still building X (test/pipeline/deployShape.test.ts). Now each must carry a string id
// (the one asked for, where one was) and a status word, or it is a retryable bad_response.
import test from 'ava';
import { RenderApiError } from '../../server/render/errors.js';
import * as fx from './support/fixtures.js';
import { scripted } from './support/scripted.js';

const OTHER = 'dep-d0000000000000000000';

async function badResponse(t: any, call: Promise<unknown>, route: string) {
  const err = await t.throwsAsync(call, { instanceOf: RenderApiError });
  t.is(err.kind, 'bad_response');
  t.true(err.retryable);
  t.is(err.route, route);
  return err as RenderApiError;
}

const ODD_LOOKS: Array<[string, unknown]> = [
  ['another deploy', { ...fx.deploy(0, { status: 'live' }), id: OTHER }],
  ['no id', { status: 'live' }],
  ['an empty id', { id: '', status: 'live' }],
  ['no status', { id: fx.DEPLOY_ID }],
  ['a status that is not a string', { id: fx.DEPLOY_ID, status: 3 }],
  ['a status every object inherits', { id: fx.DEPLOY_ID, status: 'constructor' }],
  ['an empty object', {}],
];

for (const [what, json] of ODD_LOOKS) {
  test(`getDeploy answered with ${what} is a retryable bad_response`, async (t) => {
    const { client } = await scripted(t, { 'retrieve-deploy': () => ({ status: 200, json }) });
    const err = await badResponse(t, client.getDeploy(fx.SERVICE_ID, fx.DEPLOY_ID), '/services/{serviceId}/deploys/{deployId}');
    t.is(err.status, 200);
  });

  test(`cancelDeploy answered with ${what} is a retryable bad_response`, async (t) => {
    const { client } = await scripted(t, { 'cancel-deploy': () => ({ status: 200, json }) });
    await badResponse(t, client.cancelDeploy(fx.SERVICE_ID, fx.DEPLOY_ID), '/services/{serviceId}/deploys/{deployId}/cancel');
  });
}

test('a status Render may add later is let through (the watch keeps the record\'s status for it)', async (t) => {
  const { client } = await scripted(t, { 'retrieve-deploy': () => ({ status: 200, json: { ...fx.deploy(), status: 'some_new_status' } }) });
  const deploy = await client.getDeploy(fx.SERVICE_ID, fx.DEPLOY_ID);
  t.is(deploy.id, fx.DEPLOY_ID);
  t.is(deploy.status as string, 'some_new_status');
});

test('a trigger or a rollback answered without an id or a status is a retryable bad_response', async (t) => {
  for (const json of [{ status: 'created' }, { id: OTHER }, {}]) {
    const { client } = await scripted(t, {
      'create-deploy': () => ({ status: 201, json }),
      'rollback-deploy': () => ({ status: 201, json }),
    });
    await badResponse(t, client.triggerDeploy(fx.SERVICE_ID), '/services/{serviceId}/deploys');
    await badResponse(t, client.rollbackDeploy(fx.SERVICE_ID, fx.DEPLOY_ID), '/services/{serviceId}/rollback');
  }
});

test('a deploy list with an item lacking an id or a status is a retryable bad_response', async (t) => {
  for (const odd of [{ status: 'live' }, { id: OTHER }]) {
    const items = [{ deploy: fx.deploy(1), cursor: 'c1' }, { deploy: odd, cursor: 'c2' }];
    const { client } = await scripted(t, { 'list-deploys': () => ({ status: 200, json: items }) });
    await badResponse(t, client.listDeploys(fx.SERVICE_ID, { limit: 5 }), '/services/{serviceId}/deploys');
    await badResponse(t, client.listDeploysPage(fx.SERVICE_ID, { limit: 5, status: 'queued' }), '/services/{serviceId}/deploys');
  }
});
