// Contract tests: every client method against a real HTTP server that validates each request
// (method, path, query encoding, headers, body) against Render's OpenAPI spec and answers with
// replies that themselves validate against the spec. The cases live per Render resource in
// ./support/contract-cases/ (shared set-up: ./support/scripted.ts).
import test from 'ava';
import type { TestRenderClient } from '../helpers/renderTestClient.js';
import { API_KEY, clientFor, startServer } from './support/harness.js';
import type { ContractCase } from './support/scripted.js';
import { deploysCases } from './support/contract-cases/deploys.js';
import { logsCases } from './support/contract-cases/logs.js';
import { servicesCases } from './support/contract-cases/services.js';
import { settingsCases } from './support/contract-cases/settings.js';
import { workspaceCases } from './support/contract-cases/workspace.js';

const cases: Record<keyof TestRenderClient, ContractCase> = { ...workspaceCases, ...servicesCases, ...deploysCases, ...settingsCases, ...logsCases };

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
