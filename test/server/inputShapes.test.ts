import test from 'ava';
import { gzipSync } from 'node:zlib';
import { startStack, type Stack } from '../helpers/stack.js';
import { createService, tenant, type Tenant } from './support/renderTenants.js';
import { duplicateJsonKey } from '../../server/middleware/jsonKeys.js';
import { openSseAs } from '../helpers/sse.js';
import { Agent } from '../helpers/agent.js';

// Request input whose parsed form is not what the client sent: each must be refused (400, nothing made),
// never read as something else.

let stack: Stack;
test.before(async () => { stack = await startStack(); });
test.after.always(async () => { await stack?.close(); });

const deployments = async (tn: Tenant) => (await tn.agent.get('/api/render/my-deployments')).json.deployments.length as number;

// U+212A KELVIN SIGN looks like K, and String.prototype.toLowerCase() turns it into ASCII "k": a name typed
// or pasted with it was accepted as a different, all-ASCII name ("Kapp" became the service "kapp").
const KELVIN = '\u212A';

test('a service name with a Unicode lookalike that lowercases to ASCII is refused, not renamed', async (t) => {
  const ren = await tenant(stack, 'shapes-name');
  const before = await deployments(ren);
  const deploy = await ren.agent.post('/api/render/deploy', { github_repo: 'shapes/app', project_name: `${KELVIN}app` });
  t.is(deploy.status, 400, deploy.text);
  t.is(deploy.json.error.code, 'validation_failed');
  t.regex(deploy.json.error.message, /^project_name: /);
  t.is(await deployments(ren), before, 'no deployment was made');

  for (const route of ['name-check', 'lookup']) {
    const res = await ren.agent.get(`/api/render/services/${route}?name=${encodeURIComponent(`${KELVIN}app`)}`);
    t.is(res.status, 400, `${route}: ${res.text}`);
    t.is(res.json.error.code, 'validation_failed');
  }
  // ASCII capitals are still lowercased, as before.
  const upper = await ren.agent.get('/api/render/services/name-check?name=KApp');
  t.is(upper.status, 200, upper.text);
  t.is(upper.json.name, 'kapp');
});

test('a custom domain with a Unicode lookalike that lowercases to ASCII is refused, not added as another name', async (t) => {
  const ren = await tenant(stack, 'shapes-domain');
  const svc = await createService(ren, 'shapes-web');
  const res = await ren.agent.post(`/api/render/services/${svc.id}/custom-domains`, { name: `${KELVIN}ite.example.com` });
  t.is(res.status, 400, res.text);
  t.is(res.json.error.code, 'validation_failed');
  t.deepEqual(await ren.render.listCustomDomains(svc.id), [], 'nothing added on Render');
  // ASCII capitals are still lowercased, as before.
  const upper = await ren.agent.post(`/api/render/services/${svc.id}/custom-domains`, { name: 'Site.Example.com' });
  t.is(upper.status, 201, upper.text);
  t.is(upper.json.domains[0].name, 'site.example.com');
});

const rawJson = (tn: Tenant, method: string, path: string, body: string) =>
  tn.agent.request(method, path, { body, headers: { 'content-type': 'application/json' } });

// JSON.parse keeps the last of two members with one name, so a body naming a field twice was judged by its
// last value alone: an env var given twice in the object form of env_vars escaped the "given twice" rule the
// list form has, and a setup body with two keys connected the second. RFC 8259 leaves such a document's
// meaning to the reader; here it is refused, as a form field sent twice is (an array, not a string).
test('a JSON body naming a member twice is refused, not read as its last value', async (t) => {
  const ren = await tenant(stack, 'shapes-dup');
  const before = await deployments(ren);
  const bodies = [
    '{"github_repo":"shapes/app","project_name":"dup-app","env_vars":{"A":"secret-value-1","A":"secret-value-2"}}',
    '{"github_repo":"shapes/app","project_name":"dup-app","project_name":"other-app"}',
    // Escapes name the same member: "\u0041" is "A".
    '{"github_repo":"shapes/app","project_name":"dup-app","env_vars":{"A":"secret-value-1","\\u0041":"secret-value-2"}}',
  ];
  for (const body of bodies) {
    const res = await rawJson(ren, 'POST', '/api/render/deploy', body);
    t.is(res.status, 400, `${body}: ${res.text}`);
    t.is(res.json.error.code, 'validation_failed');
    t.regex(res.json.error.message, /twice/);
    t.false(res.text.includes('secret-value'), 'no value is echoed');
  }
  t.is(await deployments(ren), before, 'no deployment was made');

  const agent = stack.agent();
  await stack.signIn(agent, 'shapes-dupkey');
  const first = 'rnd_dupkeyfirstxxxxxxxxxxxx';
  const second = 'rnd_dupkeysecondxxxxxxxxxxx';
  stack.render.addAccount({ apiKey: first });
  stack.render.addAccount({ apiKey: second });
  const setup = await agent.request('POST', '/api/render/setup', { body: `{"api_key":"${first}","api_key":"${second}"}`, headers: { 'content-type': 'application/json' } });
  t.is(setup.status, 400, setup.text);
  t.is(setup.json.error.code, 'validation_failed');
  t.false(setup.text.includes(first) || setup.text.includes(second), 'no key is echoed');
  t.false((await agent.get('/api/render/status')).json.configured, 'no key stored');

  // The same name in two different objects is not a duplicate.
  const fine = await rawJson(ren, 'POST', '/api/render/deploy', '{"github_repo":"shapes/app","project_name":"dup-fine","env_vars":[{"key":"A","value":"1"},{"key":"B","value":"2"}]}');
  t.is(fine.status, 202, fine.text);
});

test('duplicateJsonKey: names per object, decoded; strings holding braces, quotes and commas are values', (t) => {
  const cases: Array<[string, string | null]> = [
    ['{}', null], ['[]', null], ['{"a":1,"b":2}', null], ['{"a":{"a":1},"b":[{"a":1},{"a":2}]}', null],
    ['{"a":"{\\"a\\":1,","b":"\\\\","c":["a","a"]}', null], ['{"a":1,"a":2}', 'a'], ['{"x":[{"a":1,"b":{},"a":2}]}', 'a'],
    ['{"a\\"":1,"a\\u0022":2}', 'a"'], ['{"\\\\":1,"\\u005c":2}', '\\'], [' { "a" : 1 , "a" : 2 } ', 'a'], ['{"a":{},"a":[]}', 'a'],
  ];
  for (const [raw, twice] of cases) {
    JSON.parse(raw); // each case is JSON the parser read
    t.is(duplicateJsonKey(raw), twice, raw);
  }
});

test('duplicateJsonKey on hostile JSON the size of the body limit: deep nesting, thousands of names, long escaped names', (t) => {
  // No recursion (32,000 open arrays), one Set per open object, escapes decoded once per name.
  const deep = (inner: string) => `${'['.repeat(32_000)}${inner}${']'.repeat(32_000)}`;
  const many = (n: number, extra = '') => `{${Array.from({ length: n }, (_, i) => `"k${i}":0`).join(',')}${extra}}`;
  const escaped = (n: number) => `"${'\\u0041'.repeat(n)}"`;
  const cases: Array<[string, string | null]> = [
    [deep('{"a":1,"a":2}'), 'a'], [deep('{"a":1}'), null],
    [many(5_000), null], [many(5_000, ',"k4999":1'), 'k4999'],
    [`[${Array.from({ length: 5_000 }, () => '{"a":1}').join(',')}]`, null],
    [`{${escaped(5_000)}:1,"${'A'.repeat(5_000)}":2}`, 'A'.repeat(5_000)],
  ];
  for (const [raw, twice] of cases) {
    t.true(Buffer.byteLength(raw) <= 64 * 1024 + 100, `${raw.length} bytes`);
    JSON.parse(raw);
    t.is(duplicateJsonKey(raw), twice, raw.slice(0, 60));
  }
});

// Koa reads "?branch[]=py" as a parameter named "branch[]": the query schemas of these routes dropped a
// name they did not know, and answered as if nothing had been asked (the default branch, the first page).
test('a query parameter a route does not take (a misspelt or array-style name) is refused, not ignored', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'shapes-query');
  stack.github.addRepo({
    owner: 'shapes-query', name: 'app',
    branches: {
      main: { 'package.json': JSON.stringify({ name: 'app', scripts: { start: 'node server.js' } }), 'package-lock.json': '{}' },
      py: { 'requirements.txt': 'flask\ngunicorn\n', 'app.py': '' },
    },
  });
  t.is((await agent.get('/api/github/repos/shapes-query/app/detect?branch=py')).json.stack, 'python');
  for (const path of [
    '/api/github/repos/shapes-query/app/detect?branch[]=py', '/api/github/repos/shapes-query/app/detect?brnach=py',
    '/api/render/my-deployments?cursor[]=x', '/api/render/my-deployments?limit[]=1',
    '/api/audit?cursor[]=1', '/api/audit?untill=2026-01-01', '/api/sentinel/findings?limit[]=1',
  ]) {
    const res = await agent.get(path);
    t.is(res.status, 400, `${path}: ${res.text.slice(0, 200)}`);
    t.is(res.json.error.code, 'validation_failed', path);
  }
  // What the pages send is read as before.
  for (const path of ['/api/render/my-deployments?limit=20', '/api/audit?limit=50&until=2026-01-01', '/api/sentinel/findings?limit=100']) {
    t.is((await agent.get(path)).status, 200, path);
  }
});

test('the live stream refuses a query parameter other than logs, instead of streaming without the log lines asked for', async (t) => {
  const agent = stack.agent();
  await stack.signIn(agent, 'shapes-events');
  for (const path of ['/api/events?logs[]=dpl-00000000000000000000', '/api/events?log=dpl-00000000000000000000', '/api/events?x=1',
    '/api/events?opened=address', '/api/events?logs=dpl-00000000000000000000&opened=link']) {
    const sse = await openSseAs(agent, path);
    sse.close();
    t.is(sse.status, 400, `${path}: ${sse.text().slice(0, 200)}`);
    // An answer the API document describes (the agent checks every answer against it).
    t.is((await agent.get(path)).json.error.code, 'validation_failed');
  }
  const plain = await openSseAs(agent, '/api/events');
  plain.close();
  t.is(plain.status, 200);
});

// qs decodes a form's %XX escapes as UTF-8 and keeps an escape that is not UTF-8 as its three characters:
// "value=caf%E9" (café as a Latin-1 page sends it, whatever its charset parameter says) set the variable
// to the text "caf%E9". Such a body is refused; an escape of no bytes ("100%", "%zz") stays text, as the
// URL standard's form parser keeps it.
test('a form body whose percent-escapes are not UTF-8 is refused, not stored as the escape text', async (t) => {
  const ren = await tenant(stack, 'shapes-form');
  const svc = await createService(ren, 'shapes-form-web');
  const put = (key: string, body: string, type = 'application/x-www-form-urlencoded') =>
    ren.agent.request('PUT', `/api/render/services/${svc.id}/env-vars/${key}`, { body: `${body}&_csrf=${ren.agent.csrfToken!}`, headers: { 'content-type': type }, csrf: false });
  for (const [body, type] of [['value=caf%E9'], ['value=caf%E9', 'application/x-www-form-urlencoded; charset=iso-8859-1'], ['value=%FF%FE'], ['value=ok&value%C0=1'], ['value=%ED%A0%80']] as Array<[string, string?]>) {
    const res = await put('LATIN', body, type);
    t.is(res.status, 400, `${body}: ${res.text}`);
    t.is(res.json.error.code, 'validation_failed');
  }
  t.deepEqual((await ren.render.listEnvVars(svc.id)).filter((v) => v.key === 'LATIN'), [], 'nothing set on Render');
  // UTF-8 escapes, and a % that escapes nothing, are read as before.
  for (const [body, value] of [['value=caf%C3%A9', 'café'], ['value=100%', '100%'], ['value=a%zz+b', 'a%zz b']]) {
    const res = await put('FINE', body!);
    t.is(res.status, 200, `${body}: ${res.text}`);
    t.is((await ren.render.listEnvVars(svc.id)).find((v) => v.key === 'FINE')?.value, value);
  }
});

// The body parser decodes bytes as UTF-8 whatever the charset parameter says, and a byte sequence that is
// not UTF-8 became U+FFFD: a JSON body with "café" in Latin-1 set the variable to "caf\uFFFD".
test('a JSON or form body whose bytes are not UTF-8 is refused, not stored with U+FFFD in their place', async (t) => {
  const ren = await tenant(stack, 'shapes-bytes');
  const svc = await createService(ren, 'shapes-bytes-web');
  const put = (key: string, bytes: Buffer, type: string, gzip = false) =>
    ren.agent.request('PUT', `/api/render/services/${svc.id}/env-vars/${key}`, {
      body: (gzip ? gzipSync(bytes) : bytes) as unknown as string, headers: { 'content-type': type, ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
    });
  const latin1 = (text: string) => Buffer.from(text, 'latin1');
  for (const [bytes, type, gzip] of [
    [latin1('{"value":"caf\u00e9"}'), 'application/json'],
    [latin1('{"value":"caf\u00e9"}'), 'application/json; charset=iso-8859-1'],
    [Buffer.concat([Buffer.from('{"value":"ab'), Buffer.from([0xf0, 0x9f, 0x98]), Buffer.from('"}')]), 'application/json'],
    [latin1('value=caf\u00e9'), 'application/x-www-form-urlencoded'],
    [latin1('{"value":"caf\u00e9"}'), 'application/json', true],
  ] as Array<[Buffer, string, boolean?]>) {
    const res = await put('BYTES', bytes, type, gzip);
    t.is(res.status, 400, `${type}: ${res.text}`);
    t.is(res.json.error.code, 'validation_failed');
  }
  t.deepEqual((await ren.render.listEnvVars(svc.id)).filter((v) => v.key === 'BYTES'), [], 'nothing set on Render');
  // UTF-8, U+FFFD itself included, is read as before.
  for (const [value, gzip] of [['café'], ['a\uFFFDb'], ['😀'], ['a\uFFFDb', true]] as Array<[string, boolean?]>) {
    const res = await put('FINE', Buffer.from(JSON.stringify({ value }), 'utf8'), 'application/json', gzip);
    t.is(res.status, 200, `${value}: ${res.text}`);
    t.is((await ren.render.listEnvVars(svc.id)).find((v) => v.key === 'FINE')?.value, value);
  }
});

// An empty or blank URL (trimmed to '') skipped the webhook check and was answered slack_not_configured,
// "no webhook saved", for a user who has one: the URL sent is what is wrong, and the answer says so.
test('a Sentinel test alert with a blank webhook URL is a field error about the URL, not "no webhook configured"', async (t) => {
  const ren = await tenant(stack, 'shapes-slack');
  const saved = '/services/T0000/B0000/shapessaved00001';
  const put = await ren.agent.request('PUT', '/api/sentinel', { json: { enabled: true, slackWebhookUrl: `https://hooks.slack.com${saved}` } });
  t.is(put.status, 200, put.text);
  const sent = () => stack.slack.bodies.filter((b) => b.startsWith(`POST ${saved} `)).length;
  for (const url of ['', '   ', '\t']) {
    const res = await ren.agent.post('/api/sentinel/test-alert', { slackWebhookUrl: url });
    t.is(res.status, 400, `${JSON.stringify(url)}: ${res.text}`);
    t.is(res.json.error.code, 'validation_failed');
    t.regex(res.json.error.message, /^slackWebhookUrl: /);
  }
  t.is(sent(), 0, 'nothing sent to the saved webhook');
  // Absent is still the saved one.
  const absent = await ren.agent.post('/api/sentinel/test-alert', {});
  t.is(absent.status, 200, absent.text);
  t.is(sent(), 1);
});

// No state-changing route reads the query string, so a field put there instead of the body was dropped
// unseen: "POST …/redeploy?commit_sha=<sha>" redeployed the branch's head, and "DELETE …?dry_run=true"
// deleted the service.
test('a state-changing request with a query string is refused, not carried out without it', async (t) => {
  const ren = await tenant(stack, 'shapes-wquery');
  const svc = await createService(ren, 'shapes-wquery-web');
  const before = await deployments(ren);
  const sha = 'a'.repeat(40);
  const cases: Array<[string, string, unknown]> = [
    ['POST', `/api/render/services/${svc.id}/redeploy?commit_sha=${sha}`, {}],
    ['POST', '/api/render/deploy?branch=dev', { github_repo: 'shapes/app', project_name: 'wquery-app' }],
    ['PUT', `/api/render/services/${svc.id}/env-vars/QUERIED?value=x`, { generate_value: true }],
    ['DELETE', `/api/render/services/${svc.id}?dry_run=true`, undefined],
  ];
  for (const [method, path, json] of cases) {
    const res = await ren.agent.request(method, path, { json });
    t.is(res.status, 400, `${method} ${path}: ${res.text.slice(0, 200)}`);
    t.is(res.json.error.code, 'validation_failed');
  }
  t.is(await deployments(ren), before, 'no deployment was made');
  t.truthy(await ren.render.getService(svc.id), 'the service is still there');
  t.deepEqual((await ren.render.listEnvVars(svc.id)).filter((v) => v.key === 'QUERIED'), []);
  // Without one, as before.
  const redeploy = await ren.agent.post(`/api/render/services/${svc.id}/redeploy`, {});
  t.is(redeploy.status, 202, redeploy.text);
});

// The same bodies at /mcp: a tool call's arguments were read as JSON.parse and the UTF-8 decoder left them
// (deploy_repo with env_vars {"A":"x","A":"y"} deployed A=y). Answered as JSON-RPC's parse error there.
test('/mcp: a body naming a member twice or not UTF-8 is a JSON-RPC parse error, and the tool is not called', async (t) => {
  const login = 'shapes-mcp';
  stack.github.addUser({ id: 990_001, login });
  const token = stack.github.issueToken(login);
  const apiKey = `rnd_${'shapesmcp'.padEnd(24, 'm')}`;
  stack.render.addAccount({ apiKey });
  const api = new Agent(stack.url, { authorization: `Bearer ${token}`, accept: 'application/json, text/event-stream' });
  t.is((await api.post('/api/render/setup', { api_key: apiKey })).status, 200);
  const mine = async () => (await api.get('/api/render/my-deployments')).json.deployments.length as number;
  const before = await mine();
  const toolCall = (args: string) => `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"deploy_repo","arguments":${args}}}`;
  const bodies = [
    Buffer.from(toolCall('{"github_repo":"shapes/app","project_name":"mcp-dup","env_vars":{"A":"secret-value-1","A":"secret-value-2"}}')),
    Buffer.from(toolCall('{"github_repo":"shapes/app","project_name":"mcp-latin","env_vars":{"A":"caf\u00e9"}}'), 'latin1'),
    // A member named __proto__: elsewhere a 400 saying so, here JSON-RPC's parse error like any body /mcp cannot take.
    Buffer.from(toolCall('{"github_repo":"shapes/app","project_name":"mcp-proto","env_vars":{"__proto__":"secret-value-3"}}')),
  ];
  for (const body of bodies) {
    const res = await api.request('POST', '/mcp', { body: body as unknown as string, headers: { 'content-type': 'application/json' } });
    t.is(res.status, 400, res.text);
    t.is(res.json.error.code, -32700);
    t.false(res.text.includes('secret-value'));
  }
  t.is(await mine(), before, 'no deployment was made');
  // A well-formed call still deploys.
  const ok = await api.request('POST', '/mcp', { body: toolCall('{"github_repo":"shapes/app","project_name":"mcp-fine","env_vars":{"A":"caf\u00e9"}}'), headers: { 'content-type': 'application/json' } });
  t.is(ok.status, 200, ok.text);
  t.is(await mine(), before + 1);
});

// A body under a Content-Encoding the parser cannot undo (zstd here) was told to "send application/json", which
// it was, and at /mcp got the REST error object a JSON-RPC client cannot read (found by a review).
test('a body under an unknown Content-Encoding: 415 saying which encodings are taken; at /mcp a JSON-RPC error', async (t) => {
  const login = 'shapes-enc';
  stack.github.addUser({ id: 990_002, login });
  const api = new Agent(stack.url, { authorization: `Bearer ${stack.github.issueToken(login)}`, accept: 'application/json, text/event-stream' });
  const headers = { 'content-type': 'application/json', 'content-encoding': 'zstd' };
  const rest = await api.request('POST', '/api/render/setup', { body: '{"api_key":"rnd_x"}', headers });
  t.is(rest.status, 415, rest.text);
  t.is(rest.json.error.code, 'unsupported_media_type');
  t.regex(rest.json.error.message, /Content-Encoding is not supported: send the body uncompressed, or as gzip, deflate or br/);
  const mcp = await api.request('POST', '/mcp', { body: '{"jsonrpc":"2.0","id":1,"method":"ping"}', headers });
  t.is(mcp.status, 415, mcp.text);
  t.like(mcp.json, { jsonrpc: '2.0', id: null, error: { code: -32000 } });
  t.regex(mcp.json.error.message, /^Unsupported Media Type: This Content-Encoding is not supported/);
  // Content-codings are case-insensitive: gzip named in capitals is read as gzip (it was refused, "send … as gzip").
  const gzipped = gzipSync(Buffer.from('{"api_key":"rnd_x"}')) as unknown as string;
  for (const coding of ['gzip', 'GZIP', 'GZip']) {
    const res = await api.request('POST', '/api/render/setup', { body: gzipped, headers: { 'content-type': 'application/json', 'content-encoding': coding } });
    t.is(res.status, 400, `${coding}: ${res.text}`);
    t.is(res.json.error.code, 'validation_failed', `${coding}: read, and its key refused as malformed`);
  }
});

// The branch rule lets in non-ASCII letters, marks and digits "(no bidi overrides or invisible characters)",
// but some letters and marks are invisible: U+3164 HANGUL FILLER (a letter), U+FE0F VARIATION SELECTOR-16 and
// U+034F COMBINING GRAPHEME JOINER (marks). "main\u3164" was deployed as a branch the pages and Slack show as "main".
test('a branch name holding an invisible letter or mark is refused', async (t) => {
  const ren = await tenant(stack, 'shapes-branch');
  const before = await deployments(ren);
  for (const branch of ['main\u3164', 'main\uFE0F', 'ma\u034Fin', 'feature/\u115Fx', 'main\u180B']) {
    const res = await ren.agent.post('/api/render/deploy', { github_repo: 'shapes/app', project_name: 'branch-app', branch });
    t.is(res.status, 400, `${JSON.stringify(branch)}: ${res.text}`);
    t.is(res.json.error.code, 'validation_failed');
    t.regex(res.json.error.message, /^branch: /);
    const detect = await ren.agent.get(`/api/github/repos/shapes/app/detect?branch=${encodeURIComponent(branch)}`);
    t.is(detect.status, 400, `detect ${JSON.stringify(branch)}: ${detect.text}`);
  }
  t.is(await deployments(ren), before, 'no deployment was made');
  // Visible non-ASCII letters and marks, as git and GitHub allow them, are still taken.
  for (const branch of ['fonctionnalité', 'cafe\u0301', 'функция']) {
    const res = await ren.agent.post('/api/render/deploy', { github_repo: 'shapes/app', project_name: 'branch-ok', branch });
    t.is(res.status, 202, `${branch}: ${res.text}`);
  }
});
