import test from 'ava';
import Koa from 'koa';
import type { AddressInfo } from 'node:net';
import { pino, type DestinationStream } from 'pino';
import { createLogger } from '../../server/logger.js';
import { requestContext } from '../../server/middleware/requestContext.js';
import { errorHandler } from '../../server/middleware/errorHandler.js';

// The access line is written from a template (server/logger.ts accessLogger), not by pino's generic
// serialisation: it must be the line pino itself writes for the same fields, field for field and in the
// same order, valid JSON whatever the client put in the path or X-Forwarded-For, at the status's level.

async function serve(logger: ReturnType<typeof createLogger>, requests: Array<{ path: string; headers?: Record<string, string> }>): Promise<void> {
  const app = new Koa({ proxy: true, maxIpsCount: 1 });
  app.use(requestContext(logger));
  app.use(errorHandler());
  app.use((ctx) => {
    if (ctx.path === '/api/boom') throw new Error('boom');
    if (ctx.path.startsWith('/api/missing')) { ctx.status = 404; ctx.body = { error: 'not found' }; return; }
    ctx.state.userId = 7;
    ctx.body = { ok: true };
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  try {
    for (const r of requests) {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${r.path}`, { headers: r.headers });
      await res.text();
    }
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const capture = () => {
  const lines: string[] = [];
  // Access lines only (the error middleware logs a 500's error on a line of its own).
  return { lines, destination: { write: (s: string) => { if (s.includes('"msg":"request"')) lines.push(s); } } satisfies DestinationStream };
};

test('the access line is the line pino writes for the same fields, and valid JSON for any path or address', async (t) => {
  const out = capture();
  await serve(createLogger({ name: 'web', destination: out.destination }), [
    { path: '/api/session', headers: { 'x-request-id': 'abc-1' } },
    { path: '/api/a%22b/%E2%80%A6/\\x', headers: { 'x-forwarded-for': '10.0.0.1"},"admin":true' } },
    { path: '/api/missing?code=secret-oauth-code' },
    { path: '/api/boom' },
    { path: '/healthz' },
  ]);
  t.is(out.lines.length, 4, 'one line per request, none for /healthz');
  const parsed = out.lines.map((l) => { t.true(l.endsWith('}\n')); return JSON.parse(l) as Record<string, unknown>; });
  t.deepEqual(parsed.map((p) => [p.level, p.status]), [[30, 200], [30, 200], [40, 404], [50, 500]]);
  t.is(parsed[0]!.requestId, 'abc-1');
  t.is(parsed[0]!.userId, 7);
  t.is(parsed[1]!.ip, '"admin":true'); // Koa keeps the last X-Forwarded-For entry, quotes and all
  t.is(parsed[1]!.admin, undefined);
  t.false(out.lines.join('').includes('secret-oauth-code'), 'no query string in the log');

  // pino's own line for the same fields, through the same kind of logger (time aside).
  for (const [i, line] of out.lines.entries()) {
    const fields = parsed[i]!;
    const ref = capture();
    const reference = createLogger({ name: 'web', destination: ref.destination });
    const { level, time, pid, name, msg, ...rest } = fields;
    t.deepEqual([pid, name, msg], [process.pid, 'web', 'request']);
    const method = level === 50 ? 'error' : level === 40 ? 'warn' : 'info';
    reference.child({}, { redact: { paths: [] } })[method](rest, 'request');
    t.is(line.replace(/"time":\d+/, '"time":0'), ref.lines[0]!.replace(/"time":\d+/, '"time":0'));
    t.true(typeof time === 'number' && Math.abs(time - Date.now()) < 60_000);
  }
});

test('a destination that routes by level (pino.multistream, the sandbox log) gets each line at its level', async (t) => {
  const all = capture();
  const errors = capture();
  const logger = createLogger({ name: 'web', destination: pino.multistream([{ level: 'info', stream: all.destination }, { level: 'error', stream: errors.destination }]) });
  await serve(logger, [{ path: '/api/session' }, { path: '/api/boom' }]);
  t.deepEqual(all.lines.map((l) => (JSON.parse(l) as { status: number }).status), [200, 500]);
  t.deepEqual(errors.lines.map((l) => (JSON.parse(l) as { status: number; msg: string }).status), [500]);
});

test('levels below the logger\'s write nothing', async (t) => {
  const out = capture();
  await serve(createLogger({ name: 'web', level: 'warn', destination: out.destination }), [{ path: '/api/session' }, { path: '/api/missing' }]);
  t.deepEqual(out.lines.map((l) => (JSON.parse(l) as { status: number }).status), [404]);
});

test('a path segment that looks like a credential is masked on the access line, the template\'s and pino\'s own', async (t) => {
  const token = `ghp_${'Zx9'.repeat(12)}`;
  const direct = capture();
  const routed = capture();
  const paths = [{ path: `/api/missing/${token}` }, { path: `/api/missing/gh%70_${token.slice(4)}/x` }, { path: '/api/missing/my_repo' }];
  await serve(createLogger({ name: 'web', destination: direct.destination }), paths);
  await serve(createLogger({ name: 'web', destination: pino.multistream([{ level: 'info', stream: routed.destination }]) }), paths);
  for (const out of [direct, routed]) {
    t.deepEqual(out.lines.map((l) => (JSON.parse(l) as { path: string }).path), ['/api/missing/[redacted]', '/api/missing/[redacted]/x', '/api/missing/my_repo']);
    t.false(out.lines.join('').includes(token.slice(4)));
  }
});
