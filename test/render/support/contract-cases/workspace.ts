// Contract cases for the workspace calls (owners, Blueprint validation, audit logs) and the key's user.
import * as fx from '../fixtures.js';
import { only, scripted, type ContractCases } from '../scripted.js';

export const workspaceCases = {
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
    const date = 'Mon, 02 Dec 2024 18:24:16 GMT';
    const { server, client } = await scripted(t, {
      'list-owner-audit-logs': () => ({ status: 200, headers: { Date: date }, json: fx.wrap('auditLog', [fx.auditLog(1), fx.auditLog(2)], 'aud-c') }),
    });
    const page = await client.listAuditLogs(fx.OWNER_ID, { limit: 2, cursor: 'start', direction: 'backward' });
    t.deepEqual(page.items.map((a) => a.id), ['aud-1', 'aud-2']);
    t.is(page.nextCursor, 'aud-c1');
    t.is(page.serverDate, Date.parse(date), 'Render\'s clock at the answer (§6.3)');
    const request = only(t, server.requests);
    t.is(request.path, `/owners/${fx.OWNER_ID}/audit-logs`);
    t.is(request.rawQuery, 'direction=backward&cursor=start&limit=2');
    t.deepEqual(server.violations, []);
  },
} satisfies ContractCases;
