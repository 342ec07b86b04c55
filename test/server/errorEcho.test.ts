import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { createService, tenant, type Tenant } from './support/renderTenants.js';
import { call, mcpUsers, type McpUser } from '../bearer/support/mcpUsers.js';

// Found by probing the API's error answers: a validation error listed every key it did not know, so a
// ~59 KB body of unknown keys came back as a ~41 KB message (twice over through MCP, in the tool's text
// and its structured content). What an error echoes is bounded now, on every validation path (body,
// query string, MCP tool arguments), and still says what was wrong.

let stack: Stack;
test.after.always(async () => { await stack?.close(); });
const users = mcpUsers(() => stack, 8600);
let ren: Tenant;
let serviceId: string;
let mcp: McpUser;
test.before(async () => {
  stack = await startStack({ env: { BEARER_RECHECK_SECONDS: '120' } });
  ren = await tenant(stack, 'echo-ren');
  serviceId = (await createService(ren, 'echo-web')).id;
  mcp = await users.create('mcpecho');
});

/** Small enough for a person to read and a log line to hold; the old answers were tens of KB. */
const SMALL = 600;
const keys = (n: number, prefix = 'k') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);

test('a body with thousands of unknown keys: a short message naming the first few and how many more', async (t) => {
  const names = keys(5000);
  const body = Object.fromEntries(names.map((k) => [k, 1]));
  t.true(JSON.stringify(body).length > 40_000, 'a body of tens of KB');
  const res = await ren.agent.post(`/api/render/services/${serviceId}/redeploy`, body);
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'validation_failed');
  t.true(res.text.length < SMALL, `${res.text.length} bytes: ${res.text.slice(0, 300)}`);
  t.regex(res.json.error.message, /^Unrecognized keys: k0000, k0001, k0002, k0003, k0004 and 4995 more$/);
});

test('a body with one very long key: a short message that still says the key is unknown', async (t) => {
  for (const long of ['a'.repeat(50_000), `${'x-'.repeat(25_000)}`]) {
    const res = await ren.agent.post(`/api/render/services/${serviceId}/redeploy`, { [long]: 1 });
    t.is(res.status, 400, res.text.slice(0, 300));
    t.is(res.json.error.code, 'validation_failed');
    t.true(res.text.length < SMALL, `${res.text.length} bytes`);
    t.regex(res.json.error.message, /^Unrecognized key: /);
    t.false(res.text.includes('a'.repeat(100)) || res.text.includes('x-'.repeat(50)), 'the key is not echoed whole');
  }
  // Thousands of long keys (each under the body limit's share): still short.
  const many = Object.fromEntries(keys(600, 'y'.repeat(90)).map((k) => [k, 1]));
  const res = await ren.agent.post(`/api/render/services/${serviceId}/redeploy`, many);
  t.is(res.status, 400, res.text.slice(0, 300));
  t.true(res.text.length < SMALL, `${res.text.length} bytes`);
  t.regex(res.json.error.message, /^Unrecognized keys: .* and 595 more$/);
});

test('a deploy body with unknown keys at the top and in thousands of bad env var names: short', async (t) => {
  const envVars = Object.fromEntries(keys(2000, 'bad-name-').map((k) => [k, 'v']));
  const body = { github_repo: 'echo/app', project_name: 'echo-app', env_vars: envVars, ...Object.fromEntries(keys(1000).map((k) => [k, 1])) };
  const res = await ren.agent.post('/api/render/deploy', body);
  t.is(res.status, 400, res.text.slice(0, 300));
  t.is(res.json.error.code, 'validation_failed');
  t.true(res.text.length < SMALL, `${res.text.length} bytes: ${res.text.slice(0, 300)}`);
  t.regex(res.json.error.message, /Unrecognized keys: k0000, k0001, k0002, k0003, k0004 and 995 more/);
});

test('token-like unknown keys stay masked among many', async (t) => {
  const token = `ghp_${'Z'.repeat(36)}`;
  const body = { [token]: 1, ...Object.fromEntries(keys(2000).map((k) => [k, 1])) };
  const res = await ren.agent.post(`/api/render/services/${serviceId}/redeploy`, body);
  t.is(res.status, 400, res.text.slice(0, 300));
  t.false(res.text.includes(token));
  t.true(res.text.length < SMALL, `${res.text.length} bytes`);
  t.regex(res.json.error.message, /^Unrecognized keys: \(unnamed field\), k0000, k0001, k0002, k0003 and 1996 more$/);
});

test('a query string with hundreds of unknown parameters, or a very long one: a short message', async (t) => {
  const query = keys(900, 'q').map((k) => `${k}=1`).join('&');
  const res = await ren.agent.get(`/api/render/services/name-check?name=echo-web&${query}`);
  t.is(res.status, 400, res.text.slice(0, 300));
  t.is(res.json.error.code, 'validation_failed');
  t.true(res.text.length < SMALL, `${res.text.length} bytes: ${res.text.slice(0, 300)}`);
  t.regex(res.json.error.message, /^Unrecognized keys: q0000, q0001, q0002, q0003, q0004 and 895 more$/);

  const long = await ren.agent.get(`/api/render/services/name-check?name=echo-web&${'b'.repeat(8000)}=1`);
  t.is(long.status, 400, long.text.slice(0, 300));
  t.true(long.text.length < SMALL, `${long.text.length} bytes`);
  t.regex(long.json.error.message, /^Unrecognized key: /);
});

test('an MCP tool call with thousands of unknown arguments, or a very long one: a short tool error', async (t) => {
  const many = await call(mcp, 'list_services', Object.fromEntries(keys(3000).map((k) => [k, 1])));
  t.true(many.isError);
  t.is(many.structuredContent?.error?.code, 'validation_failed');
  t.true(JSON.stringify(many).length < 2 * SMALL, `${JSON.stringify(many).length} bytes`);
  t.regex(many.structuredContent?.error?.message, /^Unrecognized keys: k0000, k0001, k0002, k0003, k0004 and 2995 more$/);

  const long = await call(mcp, 'suspend_service', { service_id: mcp.serviceId, ['c'.repeat(30_000)]: true });
  t.true(long.isError);
  t.is(long.structuredContent?.error?.code, 'validation_failed');
  t.true(JSON.stringify(long).length < 2 * SMALL, `${JSON.stringify(long).length} bytes`);
  t.regex(long.structuredContent?.error?.message, /^Unrecognized key: /);
});

// Found by this probe's second round: a deploy naming one env var twice was answered "env var <key> is
// given twice" with the key whole, checked or not (zod runs the body's duplicate check even when the
// key itself failed its rule): a 30 KB key came back whole, and a key that is a GitHub token (it fits
// the env var name rule) came back as sent. Quoted now as echoed() quotes caller input (server/text.ts).
test('a deploy body naming one env var twice: short, and a token-like name not quoted', async (t) => {
  const long = 'K'.repeat(30_000);
  const res = await ren.agent.post('/api/render/deploy', { github_repo: 'echo/app', project_name: 'echo-app', env_vars: [{ key: long, value: '1' }, { key: long, value: '2' }] });
  t.is(res.status, 400, res.text.slice(0, 300));
  t.is(res.json.error.code, 'validation_failed');
  t.true(res.text.length < SMALL, `${res.text.length} bytes: ${res.text.slice(0, 300)}`);
  t.regex(res.json.error.message, /env_vars: env var K{80}… is given twice/);

  const token = `ghp_${'Q7'.repeat(18)}`;
  const twice = await ren.agent.post('/api/render/deploy', { github_repo: 'echo/app', project_name: 'echo-app', env_vars: [{ key: token, value: '1' }, { key: token, value: '2' }] });
  t.is(twice.status, 400, twice.text.slice(0, 300));
  t.false(twice.text.includes(token));
  t.false(twice.text.includes('ghp_'));
  t.regex(twice.json.error.message, /^env_vars: env var \(not shown: it looks like a credential\) is given twice$/);

  const plain = await ren.agent.post('/api/render/deploy', { github_repo: 'echo/app', project_name: 'echo-app', env_vars: [{ key: 'PORT', value: '1' }, { key: 'PORT', value: '2' }] });
  t.is(plain.json.error.message, 'env_vars: env var PORT is given twice');
});
