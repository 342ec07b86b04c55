// Contract cases for the service calls: list, read, create, update, delete, lifecycle, scale, events.
import type { ServicePOST } from '../../../../server/render/client.js';
import * as fx from '../fixtures.js';
import { only, scripted, type ContractCases } from '../scripted.js';

const minimalService: ServicePOST = {
  type: 'web_service',
  name: 'my-app',
  ownerId: fx.OWNER_ID,
  repo: 'https://github.com/render-examples/express-hello-world',
  branch: 'main',
  autoDeploy: 'yes',
  envVars: [{ key: 'NODE_ENV', value: 'production' }, { key: 'SECRET', generateValue: true }],
  serviceDetails: {
    runtime: 'node',
    plan: 'starter',
    region: 'oregon',
    envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' },
  },
};

export const servicesCases = {
  async listServices(t) {
    const { server, client } = await scripted(t, { 'list-services': () => ({ status: 200, json: fx.wrap('service', [fx.service(1)]) }) });
    const services = await client.listServices({
      ownerId: [fx.OWNER_ID, 'tea-other'],
      name: 'my-app',
      type: ['web_service', 'static_site'],
      region: 'oregon',
      suspended: 'not_suspended',
      environmentId: null,
      includePreviews: false,
    });
    t.is(services.length, 1);
    t.is(services[0]!.id, fx.service(1).id);
    const request = only(t, server.requests);
    // Shared filter params are comma-separated, never repeated (docs/render-api.md §1).
    t.is(request.rawQuery, `name=my-app&type=web_service,static_site&ownerId=${fx.OWNER_ID},tea-other&region=oregon&suspended=not_suspended&includePreviews=false&limit=100`);
    t.deepEqual(server.violations, []);
  },

  async listServicesDated(t) {
    // Every page, with Render's clock at the last page's answer: Sentinel's windows end by it (§6.3).
    const [first, last] = ['Mon, 02 Dec 2024 18:24:16 GMT', 'Mon, 02 Dec 2024 18:24:17 GMT'];
    const full = Array.from({ length: 100 }, (_, i) => fx.service(i + 1));
    let n = 0;
    const { server, client } = await scripted(t, {
      'list-services': () => {
        n += 1;
        return n === 1 ? { status: 200, headers: { Date: first }, json: fx.wrap('service', full, 'p1-') } : { status: 200, headers: { Date: last }, json: fx.wrap('service', [fx.service(101)], 'p2-') };
      },
    });
    const page = await client.listServicesDated({ ownerId: fx.OWNER_ID });
    t.is(page.items.length, 101);
    t.is(page.nextCursor, undefined, 'every page read');
    t.is(page.serverDate, Date.parse(last));
    t.deepEqual(server.requests.map((r) => r.rawQuery), [`ownerId=${fx.OWNER_ID}&limit=100`, `ownerId=${fx.OWNER_ID}&cursor=p1-99&limit=100`]);
    t.deepEqual(server.violations, []);
  },

  async listServicesPage(t) {
    const { server, client } = await scripted(t, {
      'list-services': () => ({ status: 200, json: fx.wrap('service', [fx.service(1), fx.service(2)], 'page2-') }),
    });
    const page = await client.listServicesPage({ cursor: 'abc=', limit: 2, ownerId: fx.OWNER_ID, name: null });
    t.deepEqual(page.items.map((s) => s.id), [fx.service(1).id, fx.service(2).id]);
    t.is(page.nextCursor, 'page2-1');
    t.is(only(t, server.requests).rawQuery, `ownerId=${fx.OWNER_ID}&cursor=abc%3D&limit=2`);
    t.deepEqual(server.violations, []);
  },

  async listServicesNamed(t) {
    // Render's clock at the answer, for comparing its createdAt without our clock's skew (§6.3).
    const date = 'Mon, 02 Dec 2024 18:24:16 GMT';
    const { server, client } = await scripted(t, { 'list-services': () => ({ status: 200, headers: { Date: date }, json: fx.wrap('service', [fx.service(1)]) }) });
    const page = await client.listServicesNamed(fx.OWNER_ID, 'my-app', 20);
    t.deepEqual(page.items.map((s) => s.id), [fx.service(1).id]);
    t.is(page.nextCursor, undefined, 'a short page is the last one');
    t.is(page.serverDate, Date.parse(date));
    t.is(only(t, server.requests).rawQuery, `name=my-app&ownerId=${fx.OWNER_ID}&limit=20`);
    t.deepEqual(server.violations, []);
  },

  async getService(t) {
    const { server, client } = await scripted(t, { 'retrieve-service': () => ({ status: 200, json: fx.service() }) });
    const service = await client.getService(fx.SERVICE_ID);
    t.is(service.serviceDetails && 'url' in service.serviceDetails ? service.serviceDetails.url : undefined, 'https://my-app-0.onrender.com');
    t.is(only(t, server.requests).path, `/services/${fx.SERVICE_ID}`);
    t.deepEqual(server.violations, []);
  },

  async createService(t) {
    const { server, client } = await scripted(t, {
      'create-service': () => ({ status: 201, json: { service: fx.service(), deployId: fx.DEPLOY_ID } }),
    });
    const created = await client.createService(minimalService);
    t.is(created.deployId, fx.DEPLOY_ID);
    t.is(created.service?.id, fx.SERVICE_ID);
    const request = only(t, server.requests);
    t.is(request.method, 'POST');
    t.is(request.path, '/services');
    t.deepEqual(request.json, minimalService);
    t.regex(String(request.headers['content-type']), /^application\/json/);
    t.deepEqual(server.violations, []);
  },

  async updateService(t) {
    const { server, client } = await scripted(t, { 'update-service': () => ({ status: 200, json: fx.service(0, { branch: 'release' }) }) });
    const patch = { branch: 'release', autoDeploy: 'no', serviceDetails: { plan: 'standard', healthCheckPath: '/healthz' } } as const;
    const updated = await client.updateService(fx.SERVICE_ID, patch);
    t.is(updated.branch, 'release');
    const request = only(t, server.requests);
    t.is(request.method, 'PATCH');
    t.deepEqual(request.json, patch);
    t.deepEqual(server.violations, []);
  },

  async deleteService(t) {
    const { server, client } = await scripted(t, { 'delete-service': () => ({ status: 204 }) });
    t.is(await client.deleteService(fx.SERVICE_ID), undefined);
    const request = only(t, server.requests);
    t.is(request.method, 'DELETE');
    t.is(request.path, `/services/${fx.SERVICE_ID}`);
    t.deepEqual(server.violations, []);
  },

  async suspendService(t) {
    const { server, client } = await scripted(t, { 'suspend-service': () => ({ status: 202 }) });
    await client.suspendService(fx.SERVICE_ID);
    t.is(only(t, server.requests).path, `/services/${fx.SERVICE_ID}/suspend`);
    t.deepEqual(server.violations, []);
  },

  async resumeService(t) {
    const { server, client } = await scripted(t, { 'resume-service': () => ({ status: 202 }) });
    await client.resumeService(fx.SERVICE_ID);
    t.is(only(t, server.requests).path, `/services/${fx.SERVICE_ID}/resume`);
    t.deepEqual(server.violations, []);
  },

  async restartService(t) {
    const { server, client } = await scripted(t, { 'restart-service': () => ({ status: 200 }) });
    await client.restartService(fx.SERVICE_ID);
    t.is(only(t, server.requests).path, `/services/${fx.SERVICE_ID}/restart`);
    t.deepEqual(server.violations, []);
  },

  async scaleService(t) {
    const { server, client } = await scripted(t, { 'scale-service': () => ({ status: 202 }) });
    await client.scaleService(fx.SERVICE_ID, 3);
    t.deepEqual(only(t, server.requests).json, { numInstances: 3 });
    t.deepEqual(server.violations, []);
  },

  async listServiceEvents(t) {
    const event = (n: number) => ({ id: `evt-${String(n).padStart(20, '0')}`, timestamp: '2026-11-01T12:00:00Z', serviceId: fx.SERVICE_ID, type: 'server_failed' as const, details: { reason: { nonZeroExit: 1 } } });
    const date = 'Sun, 01 Nov 2026 12:00:05 GMT';
    const { server, client } = await scripted(t, {
      'list-events': () => ({ status: 200, headers: { Date: date }, json: fx.wrap('event', [event(1), event(2)], 'evt-c') }),
    });
    const page = await client.listServiceEvents(fx.SERVICE_ID, { startTime: '2026-11-01T11:00:00Z', limit: 2 });
    t.deepEqual(page.items.map((e) => e.type), ['server_failed', 'server_failed']);
    t.is(page.nextCursor, 'evt-c1');
    t.is(page.serverDate, Date.parse(date), 'Render\'s clock at the answer (§6.3)');
    const request = only(t, server.requests);
    t.is(request.path, `/services/${fx.SERVICE_ID}/events`);
    t.is(request.rawQuery, 'startTime=2026-11-01T11%3A00%3A00Z&limit=2');
    t.deepEqual(server.violations, []);
  },
} satisfies ContractCases;
