// Contract tests: every client method against a real HTTP server that validates each request
// (method, path, query encoding, headers, body) against Render's OpenAPI spec and answers with
// replies that themselves validate against the spec.
import test, { type ExecutionContext } from 'ava';
import type { ServicePOST } from '../../server/render/client.js';
import type { TestRenderClient } from '../helpers/renderTestClient.js';
import type { RecordedRequest, Reply } from './support/contract-server.js';
import * as fx from './support/fixtures.js';
import { API_KEY, clientFor, startServer } from './support/harness.js';

type Script = Record<string, (request: RecordedRequest) => Reply>;

/** A server answering by operationId; anything unscripted is a 500 the test will notice. */
async function scripted(t: ExecutionContext, script: Script) {
  const server = await startServer(t, (request) => {
    const answer = script[request.operationId ?? ''];
    return answer ? answer(request) : { status: 500, json: { message: `unscripted ${request.operationId}` } };
  });
  return { server, client: clientFor(server) };
}

function only(t: ExecutionContext, requests: RecordedRequest[]): RecordedRequest {
  t.is(requests.length, 1);
  return requests[0]!;
}

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

function customDomain(name: string, domainType: 'apex' | 'subdomain' = 'subdomain', redirectForName = '') {
  return { id: 'cdm-00000000000000000001', name, domainType, publicSuffix: 'com', redirectForName, verificationStatus: 'unverified' as const, createdAt: '2026-11-01T12:00:00Z' };
}

const cases: Record<keyof TestRenderClient, (t: ExecutionContext) => Promise<void>> = {
  async listOwners(t) {
    const { server, client } = await scripted(t, { 'list-owners': () => ({ status: 200, json: fx.wrap('owner', [fx.owner(0), fx.owner(1)]) }) });
    const owners = await client.listOwners();
    t.deepEqual(owners.map((o) => o.id), [fx.owner(0).id, fx.owner(1).id]);
    const request = only(t, server.requests);
    t.is(request.method, 'GET');
    t.is(request.path, '/owners');
    t.is(request.rawQuery, 'limit=100');
    t.deepEqual(server.violations, []);
  },

  async getUser(t) {
    const { server, client } = await scripted(t, { 'get-user': () => ({ status: 200, json: fx.user() }) });
    t.deepEqual(await client.getUser(), fx.user());
    t.is(only(t, server.requests).path, '/users');
    t.deepEqual(server.violations, []);
  },

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

  async findQueuedDeploy(t) {
    let calls = 0;
    const { server, client } = await scripted(t, {
      'list-deploys': () => ({ status: 200, json: calls++ === 0 ? fx.wrap('deploy', [fx.deploy(3, { status: 'queued' })]) : [] }),
    });
    const found = await client.findQueuedDeploy(fx.SERVICE_ID);
    t.is(found?.id, fx.deploy(3).id);
    t.is(await client.findQueuedDeploy(fx.SERVICE_ID), null);
    t.is(server.requests[0]!.rawQuery, 'status=queued&limit=1');
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
    const { server, client } = await scripted(t, { 'list-deploys': () => ({ status: 200, json: fx.wrap('deploy', [fx.deploy(1)]) }) });
    const page = await client.listDeploysPage(fx.SERVICE_ID, { limit: 10, cursor: 'xyz' });
    t.is(page.items.length, 1);
    t.is(page.nextCursor, undefined, 'a short page is the last one');
    t.is(only(t, server.requests).rawQuery, 'cursor=xyz&limit=10');
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

  async listEnvVars(t) {
    const { server, client } = await scripted(t, {
      'get-env-vars-for-service': () => ({ status: 200, json: fx.wrap('envVar', [fx.envVar('NODE_ENV', 'production'), fx.envVar('PORT', '10000')]) }),
    });
    t.deepEqual(await client.listEnvVars(fx.SERVICE_ID), [fx.envVar('NODE_ENV', 'production'), fx.envVar('PORT', '10000')]);
    t.is(only(t, server.requests).rawQuery, 'limit=100');
    t.deepEqual(server.violations, []);
  },

  async putEnvVar(t) {
    const { server, client } = await scripted(t, {
      'update-env-var': (request) => ({ status: 200, json: fx.envVar(decodeURIComponent(request.path.split('/').pop()!), 'v') }),
    });
    t.is((await client.putEnvVar(fx.SERVICE_ID, 'DATABASE_URL', 'postgres://x')).key, 'DATABASE_URL');
    await client.putEnvVar(fx.SERVICE_ID, 'SESSION_SECRET', { generateValue: true });
    t.is(server.requests[0]!.method, 'PUT');
    t.is(server.requests[0]!.path, `/services/${fx.SERVICE_ID}/env-vars/DATABASE_URL`);
    t.deepEqual(server.requests[0]!.json, { value: 'postgres://x' });
    t.deepEqual(server.requests[1]!.json, { generateValue: true });
    t.deepEqual(server.violations, []);
  },

  async getEnvVar(t) {
    const { server, client } = await scripted(t, { 'retrieve-env-var': () => ({ status: 200, json: fx.envVar('DATABASE_URL', 'postgres://x') }) });
    t.is((await client.getEnvVar(fx.SERVICE_ID, 'DATABASE_URL')).value, 'postgres://x');
    t.is(only(t, server.requests).path, `/services/${fx.SERVICE_ID}/env-vars/DATABASE_URL`);
    t.deepEqual(server.violations, []);
  },

  async deleteEnvVar(t) {
    const { server, client } = await scripted(t, { 'delete-env-var': () => ({ status: 204 }) });
    await client.deleteEnvVar(fx.SERVICE_ID, 'OLD_KEY');
    const request = only(t, server.requests);
    t.is(request.method, 'DELETE');
    t.is(request.path, `/services/${fx.SERVICE_ID}/env-vars/OLD_KEY`);
    t.deepEqual(server.violations, []);
  },

  async listSecretFiles(t) {
    const { server, client } = await scripted(t, {
      'list-secret-files-for-service': () => ({ status: 200, json: fx.wrap('secretFile', [{ name: '.npmrc', content: 'x' }]) }),
    });
    t.deepEqual(await client.listSecretFiles(fx.SERVICE_ID), [{ name: '.npmrc', content: 'x' }]);
    t.is(only(t, server.requests).rawQuery, 'limit=100');
    t.deepEqual(server.violations, []);
  },

  async getSecretFile(t) {
    const { server, client } = await scripted(t, { 'retrieve-secret-file': () => ({ status: 200, json: { name: 'cert.pem', content: 'PEM' } }) });
    t.is((await client.getSecretFile(fx.SERVICE_ID, 'cert.pem')).content, 'PEM');
    t.is(only(t, server.requests).path, `/services/${fx.SERVICE_ID}/secret-files/cert.pem`);
    t.deepEqual(server.violations, []);
  },

  async putSecretFile(t) {
    const { server, client } = await scripted(t, { 'add-or-update-secret-file': (r) => ({ status: 201, json: { name: 'cert.pem', content: String((r.json as { content: string }).content) } }) });
    t.is((await client.putSecretFile(fx.SERVICE_ID, 'cert.pem', 'PEM')).name, 'cert.pem');
    const request = only(t, server.requests);
    t.is(request.method, 'PUT');
    t.deepEqual(request.json, { content: 'PEM' });
    t.deepEqual(server.violations, []);
  },

  async deleteSecretFile(t) {
    const { server, client } = await scripted(t, { 'delete-secret-file': () => ({ status: 204 }) });
    await client.deleteSecretFile(fx.SERVICE_ID, 'cert.pem');
    t.is(only(t, server.requests).method, 'DELETE');
    t.deepEqual(server.violations, []);
  },

  async listCustomDomains(t) {
    const { server, client } = await scripted(t, { 'list-custom-domains': () => ({ status: 200, json: fx.wrap('customDomain', [customDomain('app.example.com')]) }) });
    t.deepEqual((await client.listCustomDomains(fx.SERVICE_ID)).map((d) => d.name), ['app.example.com']);
    t.is(only(t, server.requests).rawQuery, 'limit=100');
    t.deepEqual(server.violations, []);
  },

  async addCustomDomain(t) {
    const { server, client } = await scripted(t, {
      'create-custom-domain': () => ({ status: 201, json: [customDomain('example.com', 'apex'), customDomain('www.example.com', 'subdomain', 'example.com')] }),
    });
    t.deepEqual((await client.addCustomDomain(fx.SERVICE_ID, 'example.com')).map((d) => d.name), ['example.com', 'www.example.com']);
    t.deepEqual(only(t, server.requests).json, { name: 'example.com' });
    t.deepEqual(server.violations, []);
  },

  async getCustomDomain(t) {
    const { server, client } = await scripted(t, { 'retrieve-custom-domain': () => ({ status: 200, json: customDomain('app.example.com') }) });
    t.is((await client.getCustomDomain(fx.SERVICE_ID, 'cdm-00000000000000000001')).verificationStatus, 'unverified');
    t.is(only(t, server.requests).path, `/services/${fx.SERVICE_ID}/custom-domains/cdm-00000000000000000001`);
    t.deepEqual(server.violations, []);
  },

  async deleteCustomDomain(t) {
    const { server, client } = await scripted(t, { 'delete-custom-domain': () => ({ status: 204 }) });
    await client.deleteCustomDomain(fx.SERVICE_ID, 'cdm-00000000000000000001');
    t.is(only(t, server.requests).method, 'DELETE');
    t.deepEqual(server.violations, []);
  },

  async verifyCustomDomain(t) {
    const { server, client } = await scripted(t, { 'refresh-custom-domain': () => ({ status: 202 }) });
    await client.verifyCustomDomain(fx.SERVICE_ID, 'cdm-00000000000000000001');
    t.is(only(t, server.requests).path, `/services/${fx.SERVICE_ID}/custom-domains/cdm-00000000000000000001/verify`);
    t.deepEqual(server.violations, []);
  },

  async scaleService(t) {
    const { server, client } = await scripted(t, { 'scale-service': () => ({ status: 202 }) });
    await client.scaleService(fx.SERVICE_ID, 3);
    t.deepEqual(only(t, server.requests).json, { numInstances: 3 });
    t.deepEqual(server.violations, []);
  },

  async listLogs(t) {
    const next = { start: '2024-12-02T18:00:00Z', end: '2024-12-02T18:10:00Z' };
    const { server, client } = await scripted(t, { 'list-logs': () => ({ status: 200, json: fx.logsPage(['l1', 'l2'], true, next) }) });
    const page = await client.listLogs({
      ownerId: fx.OWNER_ID,
      resource: [fx.SERVICE_ID, 'srv-second'],
      type: ['build', 'app'],
      startTime: new Date('2024-12-02T17:00:00Z'),
      endTime: null,
      direction: 'forward',
      limit: 50,
    });
    t.deepEqual(page.logs.map((l) => l.id), ['l1', 'l2']);
    t.true(page.hasMore);
    t.is(page.nextStartTime, next.start);
    const request = only(t, server.requests);
    t.is(
      request.rawQuery,
      `ownerId=${fx.OWNER_ID}&resource=${fx.SERVICE_ID}&resource=srv-second&startTime=2024-12-02T17%3A00%3A00.000Z&direction=forward&type=build&type=app&limit=50`,
    );
    t.deepEqual(server.violations, []);
  },

  async logPages(t) {
    const windows = [
      { start: '2024-12-02T18:00:00Z', end: '2024-12-02T18:10:00Z' },
      { start: '2024-12-02T18:10:00Z', end: '2024-12-02T18:20:00Z' },
    ];
    let n = 0;
    const { server, client } = await scripted(t, {
      'list-logs': () => {
        n += 1;
        return { status: 200, json: fx.logsPage([`p${n}`], n < 3, windows[Math.min(n, 2) - 1]!) };
      },
    });
    const seen: string[] = [];
    for await (const page of client.logPages({ ownerId: fx.OWNER_ID, resource: fx.SERVICE_ID })) seen.push(...page.logs.map((l) => l.id));
    t.deepEqual(seen, ['p1', 'p2', 'p3']);
    // Each next request uses the previous page's nextStartTime/nextEndTime (docs/render-api.md §8).
    t.is(server.requests[1]!.query.get('startTime'), windows[0]!.start);
    t.is(server.requests[1]!.query.get('endTime'), windows[0]!.end);
    t.is(server.requests[2]!.query.get('startTime'), windows[1]!.start);
    t.deepEqual(server.violations, []);
  },

  async collectLogs(t) {
    let n = 0;
    const { server, client } = await scripted(t, {
      'list-logs': () => {
        n += 1;
        const start = `2024-12-02T18:${String(n).padStart(2, '0')}:00Z`;
        return { status: 200, json: fx.logsPage([`e${n}`], true, { start, end: '2024-12-02T19:00:00Z' }) };
      },
    });
    // Render always says hasMore here: the helper stops at maxPages and reports that more exist.
    const result = await client.collectLogs({ ownerId: fx.OWNER_ID, resource: [fx.SERVICE_ID] }, { maxPages: 4 });
    t.deepEqual(result.logs.map((l) => l.id), ['e1', 'e2', 'e3', 'e4']);
    t.true(result.hasMore);
    t.is(server.requests.length, 4);
    t.deepEqual(server.violations, []);
  },

  async validateBlueprint(t) {
    const yamlText = 'services:\n  - type: web\n    name: my-app\n    runtime: node\n    buildCommand: npm ci\n    startCommand: npm start\n';
    const { server, client } = await scripted(t, {
      'validate-blueprint': () => ({
        status: 200,
        json: { valid: true, plan: { services: ['my-app'], databases: [], keyValue: [], envGroups: [], totalActions: 1 } },
      }),
    });
    const result = await client.validateBlueprint(fx.OWNER_ID, yamlText);
    t.true(result.valid);
    const request = only(t, server.requests);
    t.regex(String(request.headers['content-type']), /^multipart\/form-data; boundary=/);
    t.deepEqual(request.form?.fields, { ownerId: fx.OWNER_ID });
    t.is(request.form?.files.file?.text, yamlText);
    t.is(request.form?.files.file?.filename, 'render.yaml');
    t.deepEqual(server.violations, []);
  },

  async listAuditLogs(t) {
    const { server, client } = await scripted(t, {
      'list-owner-audit-logs': () => ({ status: 200, json: fx.wrap('auditLog', [fx.auditLog(1), fx.auditLog(2)], 'aud-c') }),
    });
    const page = await client.listAuditLogs(fx.OWNER_ID, { limit: 2, cursor: 'start', direction: 'backward' });
    t.deepEqual(page.items.map((a) => a.id), ['aud-1', 'aud-2']);
    t.is(page.nextCursor, 'aud-c1');
    const request = only(t, server.requests);
    t.is(request.path, `/owners/${fx.OWNER_ID}/audit-logs`);
    t.is(request.rawQuery, 'direction=backward&cursor=start&limit=2');
    t.deepEqual(server.violations, []);
  },

  async listServiceEvents(t) {
    const event = (n: number) => ({ id: `evt-${String(n).padStart(20, '0')}`, timestamp: '2026-11-01T12:00:00Z', serviceId: fx.SERVICE_ID, type: 'server_failed' as const, details: { reason: { nonZeroExit: 1 } } });
    const { server, client } = await scripted(t, {
      'list-events': () => ({ status: 200, json: fx.wrap('event', [event(1), event(2)], 'evt-c') }),
    });
    const page = await client.listServiceEvents(fx.SERVICE_ID, { startTime: '2026-11-01T11:00:00Z', limit: 2 });
    t.deepEqual(page.items.map((e) => e.type), ['server_failed', 'server_failed']);
    t.is(page.nextCursor, 'evt-c1');
    const request = only(t, server.requests);
    t.is(request.path, `/services/${fx.SERVICE_ID}/events`);
    t.is(request.rawQuery, 'startTime=2026-11-01T11%3A00%3A00Z&limit=2');
    t.deepEqual(server.violations, []);
  },
};

for (const [name, run] of Object.entries(cases)) test(`contract: ${name}`, run);

test('every client method has a contract test', (t) => {
  const client = clientFor({ url: 'http://127.0.0.1:9/v1' });
  t.deepEqual(Object.keys(client).sort(), Object.keys(cases).sort());
});

test('the contract server itself catches a wrongly encoded request', async (t) => {
  // Guards against a vacuous contract: a raw request with repeated shared filters, a bad enum and
  // no auth header must be reported.
  const server = await startServer(t, () => ({ status: 200, json: [] }));
  const response = await fetch(`${server.url}/services?type=web_service&type=cron_jobx&limit=100`);
  t.is(response.status, 200);
  t.true(server.violations.some((v) => v.includes('authorization')));
  t.true(server.violations.some((v) => v.includes('comma-separated')));
  t.true(server.violations.some((v) => v.includes('allowed values')), server.violations.join('\n'));
  t.false(server.violations.join('\n').includes(API_KEY));
});

test('the contract server rejects replies that break the spec', async (t) => {
  const server = await startServer(t, () => ({ status: 200, json: [{ owner: { id: 'tea-x', name: 'x', email: 'x', type: 'robot' }, cursor: 'c' }] }));
  await clientFor(server).listOwners();
  t.true(server.violations.some((v) => v.includes('reply 200')));
});
