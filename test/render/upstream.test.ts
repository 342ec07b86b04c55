// The composition root's one factory for upstream clients (server/upstream.ts): every Render call
// reaches the process's metrics as well as the call site's own hooks, with the call site's budget.
import test from 'ava';
import type { Redis } from 'ioredis';
import type { RenderCallInfo, RenderCallOutcome } from '../../server/render/client.js';
import { createUpstreamClients } from '../../server/upstream.js';
import * as fx from './support/fixtures.js';
import { API_KEY, startServer } from './support/harness.js';

test('a Render client from the factory reports every call to metrics and to the call site, after its budget hook', async (t) => {
  const server = await startServer(t, () => ({ status: 200, json: fx.wrap('owner', [fx.owner()]) }));
  const metrics: RenderCallOutcome[] = [];
  const own: RenderCallOutcome[] = [];
  const budget: RenderCallInfo[] = [];
  const upstream = createUpstreamClients({
    config: { renderApiUrl: server.url, redisPrefix: 'test', github: { clientId: '', clientSecret: '', oauthUrl: 'http://127.0.0.1:9', apiUrl: 'http://127.0.0.1:9', retries: false } },
    redis: {} as Redis, // the service cache is built but not used here
    metrics: { onRenderCall: (call) => metrics.push(call) },
  });
  await upstream.render(API_KEY).listOwners();
  t.is(metrics.length, 1, 'metrics alone when the call site adds nothing');
  await upstream.render(API_KEY, { beforeRequest: async (call) => { budget.push(call); }, afterResponse: (call) => own.push(call) }).listOwners();
  t.is(metrics.length, 2);
  t.deepEqual(own.map((c) => [c.method, c.route, c.status]), [['GET', '/owners', 200]]);
  t.deepEqual(budget, [{ method: 'GET', route: '/owners' }]);
  t.deepEqual(server.violations, []);
});
