// Contract cases for the deploy calls: trigger, find, list, read, cancel, roll back.
import * as fx from '../fixtures.js';
import { only, scripted, type ContractCases } from '../scripted.js';

export const deploysCases = {
  async triggerDeploy(t) {
    let queued = false;
    const { server, client } = await scripted(t, {
      // 201 with the deploy, then 202 with an EMPTY body while that one runs (docs/render-api.md §6.3).
      'create-deploy': () => (queued ? { status: 202 } : ((queued = true), { status: 201, json: fx.deploy() })),
    });
    const first = await client.triggerDeploy(fx.SERVICE_ID);
    t.deepEqual(first, { kind: 'created', deploy: fx.deploy() });
    const second = await client.triggerDeploy(fx.SERVICE_ID, { clearCache: 'clear' });
    t.deepEqual(second, { kind: 'queued' });
    t.is(server.requests.length, 2);
    t.deepEqual(server.requests[0]!.json, {}); // the body is required, `{}` is the minimal one
    t.deepEqual(server.requests[1]!.json, { clearCache: 'clear' });
    t.deepEqual(server.violations, []);
  },

  async listDeploys(t) {
    const { server, client } = await scripted(t, {
      'list-deploys': () => ({ status: 200, json: fx.wrap('deploy', [fx.deploy(1, { status: 'live' }), fx.deploy(2, { status: 'build_failed' })]) }),
    });
    const deploys = await client.listDeploys(fx.SERVICE_ID, { status: ['live', 'build_failed'], limit: 5 });
    t.deepEqual(deploys.map((d) => d.status), ['live', 'build_failed']);
    const request = only(t, server.requests);
    t.is(request.path, `/services/${fx.SERVICE_ID}/deploys`);
    // Inline array params repeat the key (docs/render-api.md §1); the cap becomes the page size.
    t.is(request.rawQuery, 'status=live&status=build_failed&limit=5');
    t.deepEqual(server.violations, []);
  },

  async listDeploysPage(t) {
    // Render's clock at the answer, for comparing its createdAt without our clock's skew (§6.3).
    const date = 'Mon, 02 Dec 2024 18:24:16 GMT';
    const { server, client } = await scripted(t, { 'list-deploys': () => ({ status: 200, headers: { Date: date }, json: fx.wrap('deploy', [fx.deploy(1)]) }) });
    const page = await client.listDeploysPage(fx.SERVICE_ID, { limit: 10, cursor: 'xyz' });
    t.is(page.items.length, 1);
    t.is(page.nextCursor, undefined, 'a short page is the last one');
    t.is(page.serverDate, Date.parse(date));
    // The look after a 202 reads queued deploys only (workers/tasks/ownDeploy.ts).
    const queued = await client.listDeploysPage(fx.SERVICE_ID, { limit: 5, status: 'queued' });
    t.is(queued.items.length, 1);
    t.deepEqual(server.requests.map((r) => r.rawQuery), ['cursor=xyz&limit=10', 'status=queued&limit=5']);
    t.deepEqual(server.violations, []);
  },

  async getDeploy(t) {
    const { server, client } = await scripted(t, { 'retrieve-deploy': () => ({ status: 200, json: fx.deploy(0, { status: 'live', finishedAt: '2024-12-02T18:30:00.000000Z' }) }) });
    t.is((await client.getDeploy(fx.SERVICE_ID, fx.DEPLOY_ID)).status, 'live');
    t.is(only(t, server.requests).path, `/services/${fx.SERVICE_ID}/deploys/${fx.DEPLOY_ID}`);
    t.deepEqual(server.violations, []);
  },

  async cancelDeploy(t) {
    const { server, client } = await scripted(t, { 'cancel-deploy': () => ({ status: 200, json: fx.deploy(0, { status: 'canceled' }) }) });
    t.is((await client.cancelDeploy(fx.SERVICE_ID, fx.DEPLOY_ID)).status, 'canceled');
    const request = only(t, server.requests);
    t.is(request.method, 'POST');
    t.is(request.path, `/services/${fx.SERVICE_ID}/deploys/${fx.DEPLOY_ID}/cancel`);
    t.deepEqual(server.violations, []);
  },

  async rollbackDeploy(t) {
    const { server, client } = await scripted(t, { 'rollback-deploy': () => ({ status: 201, json: fx.deploy(9, { trigger: 'rollback' }) }) });
    t.is((await client.rollbackDeploy(fx.SERVICE_ID, fx.DEPLOY_ID)).trigger, 'rollback');
    const request = only(t, server.requests);
    t.is(request.path, `/services/${fx.SERVICE_ID}/rollback`);
    t.deepEqual(request.json, { deployId: fx.DEPLOY_ID });
    t.deepEqual(server.violations, []);
  },
} satisfies ContractCases;
