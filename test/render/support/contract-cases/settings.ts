// Contract cases for a service's settings: env vars, secret files, custom domains.
import * as fx from '../fixtures.js';
import { only, scripted, type ContractCases } from '../scripted.js';

function customDomain(name: string, domainType: 'apex' | 'subdomain' = 'subdomain', redirectForName = '') {
  return { id: 'cdm-00000000000000000001', name, domainType, publicSuffix: 'com', redirectForName, verificationStatus: 'unverified' as const, createdAt: '2026-11-01T12:00:00Z' };
}

const envGroupMeta = { id: 'evg-00000000000000000001', name: 'shared', ownerId: 'tea-00000000000000000001', createdAt: '2026-11-01T12:00:00Z', updatedAt: '2026-11-01T12:00:00Z', serviceLinks: [{ id: 'srv-00000000000000000001', name: 'web', type: 'web' as const }] };

export const settingsCases = {
  async listEnvGroups(t) {
    const { server, client } = await scripted(t, { 'list-env-groups': () => ({ status: 200, json: [envGroupMeta] }) });
    t.deepEqual(await client.listEnvGroups('tea-00000000000000000001'), [envGroupMeta]);
    const request = only(t, server.requests);
    t.is(request.path, '/env-groups');
    t.is(request.rawQuery, 'ownerId=tea-00000000000000000001&limit=100');
    t.deepEqual(server.violations, []);
  },

  async getEnvGroup(t) {
    const group = { ...envGroupMeta, envVars: [fx.envVar('SHARED', 'v')], secretFiles: [{ name: 'a.pem', content: 'PEM' }] };
    const { server, client } = await scripted(t, { 'retrieve-env-group': () => ({ status: 200, json: group }) });
    t.deepEqual(await client.getEnvGroup(group.id), group);
    t.is(only(t, server.requests).path, `/env-groups/${group.id}`);
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
} satisfies ContractCases;
