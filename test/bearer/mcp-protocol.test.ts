import test from 'ava';
import type Koa from 'koa';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { createMcpServer } from '../../server/mcp/server.js';
import { startStack, type Stack } from '../helpers/stack.js';

// POST /mcp answers on its own small transport (server/mcp/transport.ts) instead of the SDK's
// Streamable HTTP transport. Every case here is sent both to the app over HTTP and to the SDK's own
// transport around the same MCP server; the answers must be the same (status, JSON-RPC body, a
// body or none). Tool calls themselves are driven by the SDK's client in mcp*.test.ts.
let stack: Stack;
let token: string;
test.before(async () => {
  stack = await startStack();
  stack.github.addUser({ id: 9100, login: 'protocol' });
  token = stack.github.issueToken('protocol');
  // The token's first request starts its session; the cases below then run concurrently on it.
  const first = await fetch(`${stack.url}/api/session`, { headers: { authorization: `Bearer ${token}` } });
  if (first.status !== 200) throw new Error(`bearer session: ${first.status}`);
});
test.after.always(async () => { await stack?.close(); });

const BOTH = 'application/json, text/event-stream';
const rpc = (id: number, method: string, params?: object) => ({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
const init = (version: string) => rpc(1, 'initialize', { protocolVersion: version, capabilities: {}, clientInfo: { name: 'parity', version: '1' } });

interface Case { name: string; body: string; accept?: string; contentType?: string; version?: string }
const json = (name: string, body: unknown, extra: Partial<Case> = {}): Case => ({ name, body: JSON.stringify(body), ...extra });
const CASES: Case[] = [
  json('initialize', init(LATEST_PROTOCOL_VERSION)),
  json('initialize, a version we do not speak', init('1999-01-01')),
  json('initialized notification', { jsonrpc: '2.0', method: 'notifications/initialized' }),
  json('notifications only, in a batch', [{ jsonrpc: '2.0', method: 'notifications/initialized' }, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 9 } }]),
  json('ping', rpc(2, 'ping'), { version: LATEST_PROTOCOL_VERSION }),
  json('tools/list', rpc(3, 'tools/list')),
  json('unknown method', rpc(4, 'resources/list')),
  json('tools/call without a name', rpc(5, 'tools/call', { arguments: {} })),
  json('tools/call with arguments that are not an object', rpc(13, 'tools/call', { name: 'list_deployments', arguments: 'all' })),
  json('a batch of two requests and a notification', [rpc(6, 'ping'), { jsonrpc: '2.0', method: 'notifications/initialized' }, rpc(7, 'tools/list')]),
  json('initialize in a batch', [init(LATEST_PROTOCOL_VERSION), rpc(8, 'ping')]),
  json('a batch too large', Array.from({ length: 101 }, (_, i) => rpc(i, 'ping'))),
  json('not JSON-RPC', { jsonrpc: '1.0', id: 1, method: 'ping' }),
  json('an empty batch', []),
  json('no Accept', rpc(9, 'ping'), { accept: '' }),
  json('Accept without text/event-stream', rpc(10, 'ping'), { accept: 'application/json' }),
  json('an unsupported MCP-Protocol-Version', rpc(11, 'ping'), { version: '2024-01-01' }),
  { name: 'a form body', body: 'jsonrpc=2.0&id=1&method=ping', contentType: 'application/x-www-form-urlencoded' },
  json('JSON under another media type', rpc(12, 'ping'), { contentType: 'application/vnd.api+json' }),
  // Bodies the app's body parser refuses before /mcp is reached (not JSON; over the 64 KiB body limit,
  // such as a tool argument of 70 KB): answered as JSON-RPC errors, as the SDK's transport does, not as
  // the REST routes' {"error":{"code":"malformed_json"}} and 413 payload_too_large.
  { name: 'a body that is not JSON', body: '{"jsonrpc":"2.0","id":14,"method":' },
  json('a tool argument that takes the body over the size limit', rpc(15, 'tools/call', { name: 'get_deployment', arguments: { deployment_id: 'x'.repeat(70_000) } })),
  json('a task-augmented tools/call (no tasks capability here)', rpc(16, 'tools/call', { name: 'no_such_tool', arguments: {}, task: { ttl: 60000 } }), { version: LATEST_PROTOCOL_VERSION }),
];
/** The app's body limit (server/app.ts BODY_LIMIT, 64kb): the SDK's transport is given the same. */
const BODY_LIMIT_BYTES = 64 * 1024;

interface Answer { status: number; body: unknown }
const read = async (res: Response): Promise<Answer> => {
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text) };
};
const headersOf = (c: Case) => ({
  'content-type': c.contentType ?? 'application/json',
  ...(c.accept === '' ? {} : { accept: c.accept ?? BOTH }),
  ...(c.version ? { 'mcp-protocol-version': c.version } : {}),
});

async function viaApp(c: Case): Promise<Answer> {
  return read(await fetch(`${stack.url}/mcp`, { method: 'POST', headers: { ...headersOf(c), authorization: `Bearer ${token}` }, body: c.body }));
}

/** The SDK's transport around the same server (a tool call would need the request: none of these reach one). */
async function viaSdk(c: Case): Promise<Answer> {
  const server = createMcpServer(stack.web.deps, {} as Koa.Context, 0, () => Promise.reject(new Error('no tool call expected')));
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true, maxRequestBodySize: BODY_LIMIT_BYTES });
  await server.connect(transport);
  let parsedBody: unknown;
  // Handed over parsed only when a body parser would have parsed it: the SDK then reads (and refuses) the rest itself.
  try { parsedBody = Buffer.byteLength(c.body) > BODY_LIMIT_BYTES ? undefined : JSON.parse(c.body); } catch { parsedBody = undefined; }
  const res = await transport.handleRequest(new Request('http://sdk.test/mcp', { method: 'POST', headers: headersOf(c), body: c.body }), parsedBody === undefined ? {} : { parsedBody });
  const answer = await read(res);
  await server.close();
  return answer;
}

for (const c of CASES) {
  test(`same answer as the SDK's transport: ${c.name}`, async (t) => {
    const [ours, sdk] = await Promise.all([viaApp(c), viaSdk(c)]);
    t.deepEqual(ours, sdk);
  });
}

test('the parity cases reach every branch: 200, 202 and each refusal status', async (t) => {
  const statuses = new Set((await Promise.all(CASES.map(viaApp))).map((a) => a.status));
  t.deepEqual([...statuses].sort(), [200, 202, 400, 406, 413, 415]);
  const doc = await (await fetch(`${stack.url}/api/openapi.json`)).json() as { paths: Record<string, { post: { responses: Record<string, unknown> } }> };
  for (const status of statuses) t.truthy(doc.paths['/mcp']!.post.responses[String(status)], `POST /mcp declares ${status}`);
});

// Answers are matched to requests by id: a batch that named one id twice, or cancelled one of its own
// requests, used to leave a request unanswered and the POST open until the client gave up.
test('a batch naming one request id twice is refused; one cancelling its own request answers the rest', async (t) => {
  const twice = await viaApp(json('one id twice', [rpc(20, 'ping'), rpc(20, 'tools/list')]));
  t.is(twice.status, 400);
  t.like(twice.body, { error: { code: -32600 } });
  const cancelling = await viaApp(json('a request and its cancellation', [rpc(21, 'tools/list'), rpc(22, 'ping'), { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 21 } }]));
  t.is(cancelling.status, 200);
  const answers = [cancelling.body].flat() as Array<{ id: number }>;
  t.deepEqual(answers.map((a) => a.id), [22]);
});

// Accept was searched for the two names as substrings (as the SDK's transport does): media types are
// case-insensitive (RFC 9110 8.3.1), so a client's "Application/JSON, Text/Event-Stream" was refused 406,
// while "application/json-seq" passed for application/json, and a type its client marked q=0 (not
// acceptable, RFC 9110 12.4.2) counted as accepted.
test('Accept is read as a list of media types: case-insensitive, whole types, q=0 not accepted', async (t) => {
  const ping = (accept: string) => viaApp(json(`Accept: ${accept}`, rpc(50, 'ping'), { accept }));
  for (const accept of ['Application/JSON, Text/Event-Stream', 'TEXT/EVENT-STREAM;q=0.5 , application/json;charset=utf-8', 'application/json;q=0.9, text/event-stream;q=1']) {
    const answer = await ping(accept);
    t.is(answer.status, 200, accept);
    t.like(answer.body, { jsonrpc: '2.0', id: 50, result: {} }, accept);
  }
  for (const accept of ['application/json-seq, text/event-stream', 'application/json, text/event-streams', 'application/json;q=0, text/event-stream', 'application/json, text/event-stream; q=0.000']) {
    const answer = await ping(accept);
    t.is(answer.status, 406, accept);
    t.like(answer.body, { jsonrpc: '2.0', error: { code: -32000 }, id: null }, accept);
  }
});

// A tools/call whose params are not a CallToolRequest's (no name, a name that is not a string, arguments
// that are not an object) is the client's malformed request: JSON-RPC 2.0's -32602 Invalid params, and
// what the MCP spec names for "malformed requests (that fail to satisfy the CallToolRequest schema)".
// The SDK's Protocol parsed them with the handler's schema before its own InvalidParams check could run,
// and the ZodError left as -32603 Internal error (server/mcp/server.ts). Arguments that are an object
// but not the tool's are still a tool execution error (validation_failed), which the model can correct.
test('malformed tools/call params are -32602 Invalid params, never -32603; wrong argument values stay a tool error', async (t) => {
  const malformed: Array<[string, object]> = [
    ['no name', { arguments: {} }],
    ['a name that is a number', { name: 5, arguments: {} }],
    ['arguments a string', { name: 'list_deployments', arguments: 'all' }],
    ['arguments an array', { name: 'list_deployments', arguments: [1] }],
    ['arguments null', { name: 'get_deployment', arguments: null }],
  ];
  for (const [i, [name, params]] of malformed.entries()) {
    const answer = await viaApp(json(name, rpc(30 + i, 'tools/call', params), { version: LATEST_PROTOCOL_VERSION }));
    t.is(answer.status, 200, name);
    t.like(answer.body, { jsonrpc: '2.0', id: 30 + i, error: { code: -32602 } }, name);
    t.regex((answer.body as { error: { message: string } }).error.message, /Invalid tools\/call request/, name);
  }
  const wrongValue = await viaApp(json('a wrong argument value', rpc(40, 'tools/call', { name: 'get_deployment', arguments: { deployment_id: 5 } }), { version: LATEST_PROTOCOL_VERSION }));
  t.like(wrongValue.body, { id: 40, result: { isError: true, structuredContent: { error: { code: 'validation_failed' } } } });
});

// The same for the methods the SDK's Server answers itself (initialize, and tools/list registered under
// its SDK schema): params that fail the method's schema were answered -32603 Internal error, with the
// ZodError's JSON as the message, so a client's malformed initialize read as a server fault.
test('initialize and tools/list with params that fail their schema are -32602 Invalid params, never -32603', async (t) => {
  const malformed: Array<[string, string, object | undefined]> = [
    ['initialize without params', 'initialize', undefined],
    ['initialize with a protocolVersion that is a number', 'initialize', { protocolVersion: 5, capabilities: {}, clientInfo: { name: 'c', version: '1' } }],
    ['initialize without clientInfo', 'initialize', { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {} }],
    ['tools/list with a cursor that is a number', 'tools/list', { cursor: 5 }],
  ];
  for (const [i, [name, method, params]] of malformed.entries()) {
    const answer = await viaApp(json(name, rpc(70 + i, method, params)));
    t.is(answer.status, 200, name);
    t.like(answer.body, { jsonrpc: '2.0', id: 70 + i, error: { code: -32602 } }, name);
    t.regex((answer.body as { error: { message: string } }).error.message, new RegExp(`^MCP error -32602: Invalid ${method} request: `), name);
  }
  // Well-formed ones are answered as before.
  t.like((await viaApp(json('tools/list with a cursor', rpc(80, 'tools/list', { cursor: 'next' })))).body, { id: 80, result: { tools: [{ name: 'list_services' }] } });
  t.like((await viaApp(json('initialize', init(LATEST_PROTOCOL_VERSION)))).body, { id: 1, result: { protocolVersion: LATEST_PROTOCOL_VERSION } });
});

// A probe found the unsupported MCP-Protocol-Version quoted back whole, up to Node's ~16 KB header
// limit, and a tool name starting like a GitHub token quoted back with the whole token in it (the cut
// at 80 characters left 40-character tokens whole). Both are the caller's own input: cut short, and
// not shown at all when it looks like a credential (server/text.ts echoed()).
const GITHUB_TOKEN_LIKE = `ghp_${'A1b2C3d4E5'.repeat(4).slice(0, 36)}`;
test('an unsupported MCP-Protocol-Version is quoted cut short, and not at all when it looks like a token', async (t) => {
  const huge = await viaApp(json('a 12 KB version', rpc(50, 'ping'), { version: `v${'9'.repeat(12_000)}` }));
  t.is(huge.status, 400);
  t.like(huge.body, { jsonrpc: '2.0', id: null, error: { code: -32000 } });
  const message = (huge.body as { error: { message: string } }).error.message;
  t.true(message.length < 300, `message of ${message.length} characters`);
  t.regex(message, /^Bad Request: Unsupported protocol version: v9{79}… \(supported versions: /);
  for (const version of [GITHUB_TOKEN_LIKE, `rnd_${'x'.repeat(30)}`, `2025-06-18 ${GITHUB_TOKEN_LIKE}`]) {
    const answer = await viaApp(json('a token as the version', rpc(51, 'ping'), { version }));
    t.is(answer.status, 400);
    const text = JSON.stringify(answer.body);
    t.false(text.includes(version), version.slice(0, 4));
    t.false(/ghp_|rnd_/i.test(text), version.slice(0, 4));
    t.regex(text, /Unsupported protocol version: \(not shown: it looks like a credential\) \(supported versions: /);
  }
});

test('an unknown tool name is quoted cut short, and not at all when it looks like a token', async (t) => {
  const call = (id: number, name: string) => viaApp(json('unknown tool', rpc(id, 'tools/call', { name, arguments: {} }), { version: LATEST_PROTOCOL_VERSION }));
  const long = await call(60, `n${'o'.repeat(20_000)}`);
  t.like(long.body, { id: 60, result: { isError: true, structuredContent: { error: { code: 'not_found' } } } });
  t.true(JSON.stringify(long.body).length < 600, `answer of ${JSON.stringify(long.body).length} characters`);
  t.regex((long.body as { result: { structuredContent: { error: { message: string } } } }).result.structuredContent.error.message, /^There is no tool named "no{79}…"\.$/);
  const token = await call(61, GITHUB_TOKEN_LIKE);
  t.like(token.body, { id: 61, result: { isError: true, structuredContent: { error: { code: 'not_found' } } } });
  t.false(JSON.stringify(token.body).includes(GITHUB_TOKEN_LIKE));
  t.false(JSON.stringify(token.body).includes('ghp_'));
});

// MCP 2025-11-25 lets a client augment a request with a task (params.task) when the server declares the
// tasks capability for it; this one declares none, and the spec's Tasks "Behavior Requirements" say a
// receiver that does not declare it MUST process the request normally, ignoring the task metadata. The
// SDK's Protocol refused it with a plain Error ("Server does not support task creation"): -32603 Internal
// error, as if the server had failed, for tools/call, tools/list and ping alike.
test('a request augmented with a task is handled as any other (this server declares no tasks capability), never -32603', async (t) => {
  const init0 = await viaApp(json('initialize', init(LATEST_PROTOCOL_VERSION)));
  t.falsy((init0.body as { result: { capabilities: { tasks?: unknown } } }).result.capabilities.tasks, 'no tasks capability is declared');
  const cases: Array<[string, string, object]> = [
    ['tools/call', 'tools/call', { name: 'list_deployments', arguments: { limit: 5 }, task: { ttl: 60000 } }],
    ['tools/call with an empty task', 'tools/call', { name: 'list_deployments', arguments: {}, task: {} }],
    ['tools/call with a task that is not an object', 'tools/call', { name: 'list_deployments', arguments: {}, task: 'later' }],
    ['tools/list', 'tools/list', { task: { ttl: 1000 } }],
    ['ping', 'ping', { task: {} }],
  ];
  for (const [i, [name, method, params]] of cases.entries()) {
    const answer = await viaApp(json(name, rpc(90 + i, method, params), { version: LATEST_PROTOCOL_VERSION }));
    t.is(answer.status, 200, name);
    const body = answer.body as { id: number; error?: unknown; result?: Record<string, unknown> };
    t.is(body.id, 90 + i, name);
    t.is(body.error, undefined, `${name}: ${JSON.stringify(body.error)}`);
    t.is(body.result?.task, undefined, `${name}: no task is created`);
    if (method === 'tools/call') t.like(body.result, { structuredContent: { deployments: [] } }, name);
  }
  t.like((await viaApp(json('tools/list', rpc(99, 'tools/list', { task: {} })))).body, { id: 99, result: { tools: [{ name: 'list_services' }] } });
});
