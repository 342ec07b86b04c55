import test from 'ava';
import { startRenderSimulator } from '../../sandbox/render/index.js';
import { renderTestClient, webServiceBody } from './render-test-client.js';

// The /__control surface (for other processes) and the simulator's lifecycle.

const json = (body: unknown) => ({ method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

test('starts quickly on an ephemeral loopback port', async (t) => {
  const started = performance.now();
  const sim = await startRenderSimulator();
  const elapsed = performance.now() - started;
  t.teardown(() => sim.close());
  t.log(`render simulator started in ${elapsed.toFixed(1)} ms`);
  t.regex(sim.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  t.regex(sim.controlUrl, /^http:\/\/127\.0\.0\.1:\d+\/__control$/);
});

test('control surface: accounts, revoke, advance, calls, stats, reset', async (t) => {
  const sim = await startRenderSimulator({ manualDeploys: true });
  t.teardown(() => sim.close());
  const c = sim.controlUrl;
  const accountRes = await fetch(`${c}/accounts`, json({ apiKey: 'rnd_ctl', user: { name: 'Cy', email: 'cy@example.com' }, workspaces: [{ name: 'Cy Co' }] }));
  t.is(accountRes.status, 201);
  const account = (await accountRes.json()) as { id: string; ownerId: string; workspaces: Array<{ id: string; name: string; type: string }> };
  t.regex(account.id, /^usr-[0-9a-z]{20}$/);
  t.regex(account.ownerId, /^tea-[0-9a-z]{20}$/);
  t.deepEqual(account.workspaces, [{ id: account.ownerId, name: 'Cy Co', type: 'team' }]);
  t.is((await fetch(`${c}/accounts`, json({ apiKey: 'rnd_ctl' }))).status, 400, 'a key can be registered once');

  const api = renderTestClient(sim.url, 'rnd_ctl');
  const created = (await api.call('POST', '/services', webServiceBody(account.ownerId, 'ctl'))).body;
  const advance = await fetch(`${c}/deploys/${created.deployId}/advance`, { method: 'POST' });
  t.is(advance.status, 200);
  t.is((await api.get(`/services/${created.service.id}/deploys/${created.deployId}`)).body.status, 'build_in_progress');
  t.is((await fetch(`${c}/deploys/dep-nope/advance`, { method: 'POST' })).status, 400);

  const calls = (await (await fetch(`${c}/calls`)).json()) as Array<{ method: string; route: string; accountId: string; status: number; path: string }>;
  t.deepEqual(calls.map((x) => [x.method, x.route, x.status]), [
    ['POST', '/services', 201],
    ['GET', '/services/{serviceId}/deploys/{deployId}', 200],
  ]);
  t.is(calls[0]?.accountId, account.id);
  t.is(calls[1]?.path, `/services/${created.service.id}/deploys/${created.deployId}`);
  const stats = (await (await fetch(`${c}/stats`)).json()) as { requests: number; rateLimited: number; byRoute: Record<string, number> };
  t.is(stats.requests, 2);
  t.is(stats.byRoute['POST /services'], 1);

  t.is((await fetch(`${c}/keys/revoke`, json({ apiKey: 'rnd_ctl' }))).status, 204);
  t.is((await api.get('/owners')).status, 401);

  t.is((await fetch(`${c}/reset`, { method: 'POST' })).status, 204);
  t.deepEqual(sim.calls, []);
  t.is(sim.stats().requests, 0);
  sim.addAccount({ apiKey: 'rnd_ctl' });
  t.deepEqual((await api.get('/services')).body, [], 'reset dropped all services');
  t.is((await fetch(`${c}/nothing-here`)).status, 404);
});

test('the control surface does not answer under /v1, and the API does not answer outside it', async (t) => {
  const sim = await startRenderSimulator();
  t.teardown(() => sim.close());
  const origin = sim.url.replace(/\/v1$/, '');
  t.is((await fetch(`${sim.url}/__control/calls`)).status, 401);
  sim.addAccount({ apiKey: 'rnd_x' });
  t.is((await fetch(`${sim.url}/__control/calls`, { headers: { Authorization: 'Bearer rnd_x' } })).status, 404);
  t.is((await fetch(`${origin}/owners`, { headers: { Authorization: 'Bearer rnd_x' } })).status, 404);
  t.is((await fetch(`${origin}/v2/owners`, { headers: { Authorization: 'Bearer rnd_x' } })).status, 404);
});

test('two simulators are independent and close() frees the port', async (t) => {
  const a = await startRenderSimulator();
  const b = await startRenderSimulator();
  a.addAccount({ apiKey: 'rnd_same' });
  t.is((await fetch(`${a.url}/owners`, { headers: { Authorization: 'Bearer rnd_same' } })).status, 200);
  t.is((await fetch(`${b.url}/owners`, { headers: { Authorization: 'Bearer rnd_same' } })).status, 401);
  const port = Number(new URL(a.url).port);
  await a.close();
  await b.close();
  const again = await startRenderSimulator({ port });
  t.teardown(() => again.close());
  t.is(new URL(again.url).port, String(port));
});

test('calls keeps the most recent requests only; stats count them all, per method and route', async (t) => {
  const sim = await startRenderSimulator({ maxCalls: 10 });
  t.teardown(() => sim.close());
  sim.addAccount({ apiKey: 'rnd_many' });
  const api = renderTestClient(sim.url, 'rnd_many');
  for (let i = 0; i < 25; i++) await api.get('/owners');
  await api.get('/services/srv-00000000000000000000');
  t.true(sim.calls.length <= 10);
  t.is(sim.calls.at(-1)?.route, '/services/{serviceId}');
  t.is(sim.calls.at(-1)?.status, 404);
  t.deepEqual(sim.stats(), { requests: 26, rateLimited: 0, byRoute: { 'GET /owners': 25, 'GET /services/{serviceId}': 1 } });
});
