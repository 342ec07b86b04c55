// beforeRequest / afterResponse hooks: called once per HTTP exchange with the templated route,
// so a shared per-key budget and metrics can key on it without ever seeing ids in the route.
import test from 'ava';
import type { RenderCallInfo, RenderCallOutcome } from '../../server/render/client.js';
import * as fx from './support/fixtures.js';
import { clientFor, startServer } from './support/harness.js';

test('hooks see the templated route, method and serviceId for every request', async (t) => {
  const server = await startServer(t, (request) => {
    if (request.operationId === 'retrieve-deploy') return { status: 200, json: fx.deploy() };
    if (request.operationId === 'create-deploy') return { status: 202 };
    if (request.operationId === 'list-owners') return { status: 200, json: fx.wrap('owner', [fx.owner()]) };
    return { status: 500, json: { message: 'unexpected' } };
  });
  const before: RenderCallInfo[] = [];
  const after: RenderCallOutcome[] = [];
  const client = clientFor(server, {
    beforeRequest: async (call) => {
      before.push(call);
    },
    afterResponse: (call) => after.push(call),
  });
  await client.getDeploy(fx.SERVICE_ID, fx.DEPLOY_ID);
  await client.triggerDeploy(fx.SERVICE_ID);
  await client.listOwners();

  t.deepEqual(before, [
    { method: 'GET', route: '/services/{serviceId}/deploys/{deployId}', serviceId: fx.SERVICE_ID },
    { method: 'POST', route: '/services/{serviceId}/deploys', serviceId: fx.SERVICE_ID },
    { method: 'GET', route: '/owners' },
  ]);
  t.deepEqual(
    after.map(({ method, route, status }) => ({ method, route, status })),
    [
      { method: 'GET', route: '/services/{serviceId}/deploys/{deployId}', status: 200 },
      { method: 'POST', route: '/services/{serviceId}/deploys', status: 202 },
      { method: 'GET', route: '/owners', status: 200 },
    ],
  );
  t.is(after[0]!.serviceId, fx.SERVICE_ID);
  for (const call of after) {
    t.true(call.durationMs >= 0);
    // The contract server sends Ratelimit-Limit 400 / Remaining 399 / Reset 30 (seconds delta).
    t.deepEqual(call.rateLimit, { limit: 400, remaining: 399, resetMs: 30_000 });
  }
  t.deepEqual(server.violations, []);
});

test('beforeRequest is awaited: nothing is sent until it resolves', async (t) => {
  const server = await startServer(t, () => ({ status: 200, json: fx.user() }));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let entered!: () => void;
  const hookEntered = new Promise<void>((resolve) => (entered = resolve));
  const client = clientFor(server, {
    beforeRequest: async () => {
      entered();
      await gate;
    },
  });
  const pending = client.getUser();
  await hookEntered;
  await new Promise((resolve) => setImmediate(resolve));
  t.is(server.requests.length, 0);
  release();
  t.deepEqual(await pending, fx.user());
  t.is(server.requests.length, 1);
});

test('a beforeRequest rejection (budget refused) fails the call without sending it', async (t) => {
  const server = await startServer(t, () => ({ status: 200, json: fx.user() }));
  const refusal = new Error('budget exhausted');
  const client = clientFor(server, { beforeRequest: () => Promise.reject(refusal) });
  const err = await t.throwsAsync(client.getUser());
  t.is(err, refusal);
  t.is(server.requests.length, 0);
});

test('each page of a list is one budgeted request', async (t) => {
  const items = Array.from({ length: 150 }, (_, i) => fx.service(i + 1));
  const server = await startServer(t, (request) => {
    const start = request.query.get('cursor') ? 100 : 0;
    return { status: 200, json: items.slice(start, start + 100).map((service, i) => ({ service, cursor: `c${start + i}` })) };
  });
  const routes: string[] = [];
  await clientFor(server, { beforeRequest: async (call) => void routes.push(call.route) }).listServices();
  t.deepEqual(routes, ['/services', '/services']);
});

test('afterResponse reports error statuses, network failures and timeouts', async (t) => {
  let mode: 'conflict' | 'reset' | 'hang' = 'conflict';
  const server = await startServer(t, () =>
    mode === 'conflict'
      ? { status: 429, json: { message: 'slow down' }, headers: { 'ratelimit-limit': '10', 'ratelimit-remaining': '0', 'ratelimit-reset': '12' } }
      : { action: mode },
  );
  const outcomes: RenderCallOutcome[] = [];
  const client = clientFor(server, { afterResponse: (call) => outcomes.push(call) });
  await t.throwsAsync(client.restartService(fx.SERVICE_ID));
  mode = 'reset';
  await t.throwsAsync(client.restartService(fx.SERVICE_ID));
  mode = 'hang';
  const impatient = clientFor(server, { timeoutMs: 200, afterResponse: (call) => outcomes.push(call) });
  await t.throwsAsync(impatient.restartService(fx.SERVICE_ID));
  t.deepEqual(
    outcomes.map(({ status, route, rateLimit }) => ({ status, route, rateLimit })),
    [
      { status: 429, route: '/services/{serviceId}/restart', rateLimit: { limit: 10, remaining: 0, resetMs: 12_000 } },
      { status: 'network', route: '/services/{serviceId}/restart', rateLimit: undefined },
      { status: 'timeout', route: '/services/{serviceId}/restart', rateLimit: undefined },
    ],
  );
});

test('a throwing afterResponse hook does not fail a good call', async (t) => {
  const server = await startServer(t, () => ({ status: 200, json: fx.user() }));
  const client = clientFor(server, {
    afterResponse: () => {
      throw new Error('metrics broke');
    },
  });
  t.deepEqual(await client.getUser(), fx.user());
});

test('null where the spec says "optional" is accepted, as Render really sends it', async (t) => {
  // A real 201 deploy body has "commit":null and "finishedAt":null (docs/render-api.md §1, §6.2).
  const body = { ...fx.deploy(), commit: null, finishedAt: null, image: null };
  const server = await startServer(t, () => ({ status: 201, json: body, unchecked: true }));
  const result = await clientFor(server).triggerDeploy(fx.SERVICE_ID, {});
  t.is(result.kind, 'created');
  t.like(result.kind === 'created' ? result.deploy : {}, { id: fx.DEPLOY_ID, commit: null, finishedAt: null });
});

test('ids are escaped into the path and empty ids are refused before any request', async (t) => {
  const server = await startServer(t, () => ({ status: 200, json: fx.envVar('A B/C', 'v') }));
  const client = clientFor(server);
  await client.putEnvVar(fx.SERVICE_ID, 'A B/C', 'v');
  t.is(server.requests[0]!.path, `/services/${fx.SERVICE_ID}/env-vars/A%20B%2FC`);
  await t.throwsAsync(client.getService(''), { instanceOf: TypeError });
  await t.throwsAsync(client.deleteService('..'), { instanceOf: TypeError });
  t.is(server.requests.length, 1);
});
