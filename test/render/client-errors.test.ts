// Error mapping: every failure becomes a RenderApiError with the right kind, retryability and
// Render's own message, and the API key can never be reached through the error.
import { once } from 'node:events';
import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { Writable } from 'node:stream';
import test from 'ava';
import pino from 'pino';
import { RenderApiError, isRetryable, type RenderErrorKind } from '../../server/render/errors.js';
import { createTestRenderClient } from '../helpers/renderTestClient.js';
import { API_KEY, clientFor, startServer } from './support/harness.js';
import type { Handler } from './support/contract-server.js';
import * as fixtures from './support/fixtures.js';

/** Every way an error can be looked at by a logger or a person. */
function renderings(err: unknown): string[] {
  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  logger.error({ err }, 'render call failed');
  logger.error(err as Error);
  return [
    String((err as Error).message),
    String((err as Error).stack),
    JSON.stringify(err),
    inspect(err, { depth: Infinity, showHidden: true, getters: true }),
    ...lines,
  ];
}

function assertNoKey(t: import('ava').ExecutionContext, err: unknown): void {
  for (const text of renderings(err)) t.false(text.includes(API_KEY), `key leaked in: ${text.slice(0, 200)}`);
  t.is((err as Error).cause, undefined, 'no underlying (axios) error is kept');
}

const statusCases: Array<{ status: number; kind: RenderErrorKind; retryable: boolean; says: RegExp }> = [
  { status: 400, kind: 'bad_request', retryable: false, says: /rejected the request as invalid \(400\)/ },
  { status: 401, kind: 'unauthorized', retryable: false, says: /Render rejected the API key \(401\)/ },
  { status: 402, kind: 'payment_required', retryable: false, says: /payment information/ },
  { status: 403, kind: 'forbidden', retryable: false, says: /refused access \(403\)/ },
  { status: 404, kind: 'not_found', retryable: false, says: /could not find the resource \(404\)/ },
  { status: 409, kind: 'conflict', retryable: false, says: /conflict/ },
  { status: 410, kind: 'not_found', retryable: false, says: /\(410\)/ },
  { status: 500, kind: 'server_error', retryable: true, says: /internal error \(500\)/ },
  { status: 503, kind: 'unavailable', retryable: true, says: /temporarily unavailable \(503\)/ },
];

for (const { status, kind, retryable, says } of statusCases) {
  test(`${status} maps to ${kind} with Render's message`, async (t) => {
    const server = await startServer(t, () => ({ status, json: { message: `not found: ${fixtures.SERVICE_ID}` } }));
    const err = await t.throwsAsync(clientFor(server).getService(fixtures.SERVICE_ID), { instanceOf: RenderApiError });
    t.is(err.kind, kind);
    t.is(err.status, status);
    t.is(err.retryable, retryable);
    t.is(isRetryable(err), retryable);
    t.is(err.renderMessage, `not found: ${fixtures.SERVICE_ID}`);
    t.regex(err.message, says);
    t.true(err.message.includes(`not found: ${fixtures.SERVICE_ID}`));
    t.is(err.method, 'GET');
    t.is(err.route, '/services/{serviceId}');
    t.is(err.requestId, 'api-test/contract-000001');
    assertNoKey(t, err);
    t.deepEqual(server.violations, []);
  });
}

test('401 on listOwners says the key was rejected, and a key echoed by the server is redacted', async (t) => {
  const server = await startServer(t, () => ({ status: 401, json: { id: 'unauthorized', message: `invalid key ${API_KEY}` } }));
  const err = await t.throwsAsync(clientFor(server).listOwners(), { instanceOf: RenderApiError });
  t.is(err.kind, 'unauthorized');
  t.is(err.route, '/owners');
  t.regex(err.message, /^Render rejected the API key \(401\)/);
  t.is(err.renderMessage, 'invalid key [redacted]');
  assertNoKey(t, err);
});

/** Every string a request body carried, quoted back in a 400 the way a validation error might. */
function quotingEverySentString(): Handler {
  const strings = (json: unknown): string[] =>
    typeof json === 'string' ? [json] : Array.isArray(json) ? json.flatMap(strings) : json && typeof json === 'object' ? Object.values(json).flatMap(strings) : [];
  return (request) => ({ status: 400, json: { message: `invalid: ${strings(request.json).map((s) => `"${s}"`).join(', ')}` } });
}

test('a 400 quoting the env values and secret files a request sent has them redacted; keys and names stay', async (t) => {
  const server = await startServer(t, quotingEverySentString());
  const client = clientFor(server);
  const value = 'sk_live_EnvValueMustNotLeak42';
  const tabbed = 'tab\tinside-value';
  const pem = '-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END KEY-----';
  const created = await t.throwsAsync(
    client.createService({ type: 'web_service', name: 'leaky-app', ownerId: fixtures.OWNER_ID, envVars: [{ key: 'STRIPE_KEY', value }, { key: 'TABBED', value: tabbed }], secretFiles: [{ name: 'key.pem', content: pem }] }),
    { instanceOf: RenderApiError },
  );
  const putVar = await t.throwsAsync(client.putEnvVar(fixtures.SERVICE_ID, 'STRIPE_KEY', value), { instanceOf: RenderApiError });
  const putFile = await t.throwsAsync(client.putSecretFile(fixtures.SERVICE_ID, 'key.pem', pem), { instanceOf: RenderApiError });
  for (const err of [created, putVar, putFile]) {
    t.is(err.kind, 'bad_request');
    t.true(err.renderMessage?.includes('[redacted]'), err.renderMessage);
    for (const text of renderings(err)) {
      for (const secret of [value, 'inside-value', 'MIIBOgIBAAJBAKj34GkxFhD9']) t.false(text.includes(secret), `${secret} in: ${text.slice(0, 300)}`);
    }
  }
  // What identifies the request stays readable: the env var's key, the service's and the file's names.
  t.true(created.renderMessage!.includes('"STRIPE_KEY"') && created.renderMessage!.includes('"leaky-app"') && created.renderMessage!.includes('"key.pem"'), created.renderMessage);
});

test('toJSON carries only safe fields', async (t) => {
  const server = await startServer(t, () => ({ status: 403, json: { message: 'scoped key' } }));
  const err = await t.throwsAsync(clientFor(server).getUser(), { instanceOf: RenderApiError });
  const json = err.toJSON();
  t.deepEqual(Object.keys(json).sort(), ['kind', 'message', 'method', 'name', 'renderMessage', 'requestId', 'retryAfterMs', 'retryable', 'route', 'status'].sort());
  t.is(json.kind, 'forbidden');
  t.is(json.route, '/users');
});

test('429 with Retry-After (seconds) gives retryAfterMs', async (t) => {
  const server = await startServer(t, () => ({
    status: 429,
    json: { message: 'rate limit exceeded' },
    headers: { 'retry-after': '7', 'ratelimit-limit': '400', 'ratelimit-remaining': '0', 'ratelimit-reset': '30' },
  }));
  const err = await t.throwsAsync(clientFor(server).listServices(), { instanceOf: RenderApiError });
  t.is(err.kind, 'rate_limited');
  t.true(err.retryable);
  t.is(err.retryAfterMs, 7000);
  t.regex(err.message, /rate limit was reached \(429\).*Retry after 7 s/);
  assertNoKey(t, err);
});

test('429 without Retry-After falls back to Ratelimit-Reset as a seconds delta', async (t) => {
  const server = await startServer(t, () => ({
    status: 429,
    json: { message: 'rate limit exceeded' },
    headers: { 'ratelimit-limit': '20', 'ratelimit-remaining': '0', 'ratelimit-reset': '1200' },
  }));
  const err = await t.throwsAsync(clientFor(server).createService({ type: 'web_service', name: 'x', ownerId: fixtures.OWNER_ID }), {
    instanceOf: RenderApiError,
  });
  t.is(err.kind, 'rate_limited');
  t.is(err.retryAfterMs, 1_200_000);
});

test('429 with Ratelimit-Reset as epoch seconds converts to a delay', async (t) => {
  const resetAt = Math.floor(Date.now() / 1000) + 60;
  const server = await startServer(t, () => ({
    status: 429,
    json: { message: 'slow down' },
    headers: { 'ratelimit-limit': '10', 'ratelimit-remaining': '0', 'ratelimit-reset': String(resetAt) },
  }));
  const err = await t.throwsAsync(clientFor(server).triggerDeploy(fixtures.SERVICE_ID), { instanceOf: RenderApiError });
  t.is(err.kind, 'rate_limited');
  t.truthy(err.retryAfterMs);
  // Epoch seconds are not mistaken for a 55-year delta: the delay is within the minute.
  t.true(err.retryAfterMs! > 0 && err.retryAfterMs! <= 61_000, String(err.retryAfterMs));
});

test('429 with Retry-After as an HTTP date', async (t) => {
  const at = new Date(Date.now() + 120_000).toUTCString();
  const server = await startServer(t, () => ({ status: 429, json: { message: 'slow down' }, headers: { 'retry-after': at } }));
  const err = await t.throwsAsync(clientFor(server).getUser(), { instanceOf: RenderApiError });
  t.true(err.retryAfterMs! > 60_000 && err.retryAfterMs! <= 120_000, String(err.retryAfterMs));
});

test('a reset socket is a retryable network error', async (t) => {
  const server = await startServer(t, () => ({ action: 'reset' }));
  const err = await t.throwsAsync(clientFor(server).listOwners(), { instanceOf: RenderApiError });
  t.is(err.kind, 'network');
  t.true(err.retryable);
  t.is(err.status, undefined);
  t.regex(err.message, /Could not reach Render/);
  assertNoKey(t, err);
});

test('a refused connection is a network error', async (t) => {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as import('node:net').AddressInfo;
  probe.close();
  await once(probe, 'close');
  const client = createTestRenderClient({ baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: API_KEY });
  const err = await t.throwsAsync(client.getUser(), { instanceOf: RenderApiError });
  t.is(err.kind, 'network');
  t.regex(err.message, /ECONNREFUSED/);
  assertNoKey(t, err);
});

test('no answer within timeoutMs is a retryable timeout', async (t) => {
  const server = await startServer(t, () => ({ action: 'hang' }));
  const err = await t.throwsAsync(clientFor(server, { timeoutMs: 200 }).getService(fixtures.SERVICE_ID), { instanceOf: RenderApiError });
  t.is(err.kind, 'timeout');
  t.true(err.retryable);
  assertNoKey(t, err);
});

test('malformed JSON on a 2xx is a retryable bad_response', async (t) => {
  const server = await startServer(t, () => ({ status: 200, text: '[{"owner": {"id": "tea-', headers: { 'content-type': 'application/json' } }));
  const err = await t.throwsAsync(clientFor(server).listOwners(), { instanceOf: RenderApiError });
  t.is(err.kind, 'bad_response');
  t.is(err.status, 200);
  t.true(err.retryable);
  t.regex(err.message, /malformed JSON/);
  assertNoKey(t, err);
});

test('an empty 200 where a body is required is a bad_response', async (t) => {
  const server = await startServer(t, () => ({ status: 200 }));
  const err = await t.throwsAsync(clientFor(server).getUser(), { instanceOf: RenderApiError });
  t.is(err.kind, 'bad_response');
});

test('JSON of the wrong shape (object instead of list) is a bad_response', async (t) => {
  const server = await startServer(t, () => ({ status: 200, json: { owners: [] }, unchecked: true }));
  const err = await t.throwsAsync(clientFor(server).listOwners(), { instanceOf: RenderApiError });
  t.is(err.kind, 'bad_response');
});

test('an HTML 502 from a proxy is unavailable, without a Render message', async (t) => {
  const server = await startServer(t, () => ({ status: 502, text: '<html>Bad Gateway</html>', headers: { 'content-type': 'text/html' } }));
  const err = await t.throwsAsync(clientFor(server).getUser(), { instanceOf: RenderApiError });
  t.is(err.kind, 'unavailable');
  t.true(err.retryable);
  t.is(err.renderMessage, undefined);
});

test('a 4xx without a JSON body still maps by status', async (t) => {
  const server = await startServer(t, () => ({ status: 404 }));
  const err = await t.throwsAsync(clientFor(server).getDeploy(fixtures.SERVICE_ID, fixtures.DEPLOY_ID), { instanceOf: RenderApiError });
  t.is(err.kind, 'not_found');
  t.is(err.renderMessage, undefined);
  t.is(err.route, '/services/{serviceId}/deploys/{deployId}');
});

test('an aborted signal rejects with AbortError, not a RenderApiError', async (t) => {
  const server = await startServer(t, () => ({ action: 'hang' }));
  const controller = new AbortController();
  const pending = clientFor(server, { signal: controller.signal }).getUser();
  setTimeout(() => controller.abort(), 50);
  const err = await t.throwsAsync(pending);
  t.is(err.name, 'AbortError');
  t.false(err instanceof RenderApiError);
  t.false(isRetryable(err));
  assertNoKey(t, err);
});

test('isRetryable is false for things that are not Render errors', (t) => {
  t.false(isRetryable(new Error('boom')));
  t.false(isRetryable(undefined));
  t.false(isRetryable({ kind: 'network' }));
});
