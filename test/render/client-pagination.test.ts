// Cursor pagination (docs/render-api.md §4) and time-window log paging (docs/render-api.md §8), against a server that pages
// like Render: `[{<key>, cursor}]`, items after the given cursor, `[]` after the last item.
import test, { type ExecutionContext } from 'ava';
import type { RecordedRequest, Reply } from './support/contract-server.js';
import * as fx from './support/fixtures.js';
import { clientFor, startServer } from './support/harness.js';

/** Serves `items` by cursor like Render: the cursor of an item names the position after it. */
function pagedReply<T>(key: string, items: T[], request: RecordedRequest): Reply {
  const limit = Number(request.query.get('limit') ?? 20);
  const cursor = request.query.get('cursor');
  const start = cursor === null ? 0 : Number(cursor.replace(/^pos-/, '')) + 1;
  const slice = items.slice(start, start + limit).map((item, i) => ({ [key]: item, cursor: `pos-${start + i}` }));
  return { status: 200, json: slice };
}

async function pagedServer<T>(t: ExecutionContext, operationId: string, key: string, items: T[]) {
  const server = await startServer(t, (request) =>
    request.operationId === operationId ? pagedReply(key, items, request) : { status: 500, json: { message: 'unexpected' } },
  );
  return { server, client: clientFor(server) };
}

const services = (n: number) => Array.from({ length: n }, (_, i) => fx.service(i + 1));

test('listServices follows cursors over 3 full pages and stops on the short 4th', async (t) => {
  const { server, client } = await pagedServer(t, 'list-services', 'service', services(350));
  const result = await client.listServices({ ownerId: fx.OWNER_ID });
  t.is(result.length, 350);
  t.deepEqual(result.map((s) => s.id), services(350).map((s) => s.id));
  t.deepEqual(
    server.requests.map((r) => r.rawQuery),
    [`ownerId=${fx.OWNER_ID}&limit=100`, `ownerId=${fx.OWNER_ID}&cursor=pos-99&limit=100`, `ownerId=${fx.OWNER_ID}&cursor=pos-199&limit=100`, `ownerId=${fx.OWNER_ID}&cursor=pos-299&limit=100`],
  );
  t.deepEqual(server.violations, []);
});

test('an exact multiple of the page size ends on an empty page', async (t) => {
  const { server, client } = await pagedServer(t, 'list-services', 'service', services(300));
  t.is((await client.listServices()).length, 300);
  t.is(server.requests.length, 4);
  t.is(server.requests[3]!.query.get('cursor'), 'pos-299');
  t.deepEqual(server.violations, []);
});

test('an empty first page makes one request', async (t) => {
  const { server, client } = await pagedServer(t, 'list-owners', 'owner', []);
  t.deepEqual(await client.listOwners(), []);
  t.is(server.requests.length, 1);
});

test('listServices limit caps the total and shrinks the last page request', async (t) => {
  const { server, client } = await pagedServer(t, 'list-services', 'service', services(500));
  const result = await client.listServices({ limit: 150 });
  t.is(result.length, 150);
  t.deepEqual(server.requests.map((r) => r.query.get('limit')), ['100', '50']);
});

test('listOwners, listEnvVars and listDeploys all page to the end', async (t) => {
  const owners = Array.from({ length: 205 }, (_, i) => fx.owner(i + 1));
  const envVars = Array.from({ length: 230 }, (_, i) => fx.envVar(`KEY_${i}`, String(i)));
  const deploys = Array.from({ length: 301 }, (_, i) => fx.deploy(i + 1));
  const server = await startServer(t, (request) => {
    if (request.operationId === 'list-owners') return pagedReply('owner', owners, request);
    if (request.operationId === 'get-env-vars-for-service') return pagedReply('envVar', envVars, request);
    if (request.operationId === 'list-deploys') return pagedReply('deploy', deploys, request);
    return { status: 500, json: { message: 'unexpected' } };
  });
  const client = clientFor(server);
  t.is((await client.listOwners()).length, 205);
  t.deepEqual((await client.listEnvVars(fx.SERVICE_ID)).map((e) => e.key), envVars.map((e) => e.key));
  t.is((await client.listDeploys(fx.SERVICE_ID)).length, 301);
  t.is(server.requests.filter((r) => r.operationId === 'list-owners').length, 3);
  t.is(server.requests.filter((r) => r.operationId === 'get-env-vars-for-service').length, 3);
  t.is(server.requests.filter((r) => r.operationId === 'list-deploys').length, 4);
  t.deepEqual(server.violations, []);
});

test('a server that keeps returning the same full page does not loop forever', async (t) => {
  const page = services(100).map((service) => ({ service, cursor: 'same' }));
  const server = await startServer(t, () => ({ status: 200, json: page }));
  const result = await clientFor(server).listServices();
  t.is(server.requests.length, 2); // the second request repeats the cursor, so paging stops
  t.is(result.length, 200);
});

test('listServicesPage hands back a cursor for the UI to continue with', async (t) => {
  const { server, client } = await pagedServer(t, 'list-services', 'service', services(45));
  const first = await client.listServicesPage({ limit: 20 });
  t.is(first.items.length, 20);
  t.is(first.nextCursor, 'pos-19');
  const second = await client.listServicesPage({ limit: 20, cursor: first.nextCursor ?? null });
  t.is(second.items[0]!.id, services(45)[20]!.id);
  const third = await client.listServicesPage({ limit: 20, cursor: second.nextCursor ?? null });
  t.is(third.items.length, 5);
  t.is(third.nextCursor, undefined);
  t.deepEqual(server.violations, []);
});

test('listAuditLogs pages by cursor with up to 1000 per page', async (t) => {
  const logs = Array.from({ length: 1500 }, (_, i) => fx.auditLog(i));
  const { server, client } = await pagedServer(t, 'list-owner-audit-logs', 'auditLog', logs);
  const first = await client.listAuditLogs(fx.OWNER_ID, { limit: 5000 });
  t.is(first.items.length, 1000);
  const second = await client.listAuditLogs(fx.OWNER_ID, { limit: 1000, cursor: first.nextCursor ?? null });
  t.is(second.items.length, 500);
  t.is(second.nextCursor, undefined);
  t.deepEqual(server.requests.map((r) => r.query.get('limit')), ['1000', '1000']);
  t.deepEqual(server.violations, []);
});

test('log paging stops when hasMore is false', async (t) => {
  let n = 0;
  const server = await startServer(t, () => {
    n += 1;
    return { status: 200, json: fx.logsPage([`x${n}`], n < 2, { start: `2024-12-02T18:0${n}:00Z`, end: '2024-12-02T19:00:00Z' }) };
  });
  const result = await clientFor(server).collectLogs({ ownerId: fx.OWNER_ID, resource: fx.SERVICE_ID }, { maxPages: 50 });
  t.deepEqual(result.logs.map((l) => l.id), ['x1', 'x2']);
  t.false(result.hasMore);
  t.is(server.requests.length, 2);
});

test('log paging stops when the window does not move', async (t) => {
  const server = await startServer(t, () => ({
    status: 200,
    json: fx.logsPage([], true, { start: '2024-12-02T18:00:00Z', end: '2024-12-02T19:00:00Z' }),
  }));
  await clientFor(server).collectLogs({ ownerId: fx.OWNER_ID, resource: fx.SERVICE_ID }, { maxPages: 50 });
  t.is(server.requests.length, 2);
});
