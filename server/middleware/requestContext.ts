import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../logger.js';

const INBOUND_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Request id (Render's x-request-id when it is well formed, else a new one), a child logger,
 * and one access-log line per request. Only the path is logged: query strings can hold OAuth codes.
 */
export function requestContext(logger: Logger): Middleware {
  // The access line goes through a child with redaction switched off: its fields are fixed and carry no
  // secret (no headers, no query string, no body), and pino's redaction (@pinojs/redact re-parses all
  // ~45 paths on every call) made it ~50 µs of CPU per request, a quarter of an authenticated GET
  // (see bench/). Everything else logged through ctx.state.log is still redacted.
  const access = logger.child({}, { redact: { paths: [] } });
  return async (ctx, next) => {
    const inbound = ctx.get('x-request-id');
    const requestId = INBOUND_ID.test(inbound) ? inbound : randomUUID();
    ctx.state.requestId = requestId;
    // Made on first use: most requests never log beyond the access line, and a redacting child logger
    // costs ~4 µs to build (pino redacts its bindings), a few % of an authenticated GET (see bench/).
    let log: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', {
      get: () => (log ??= logger.child({ requestId })),
      set: (value: Logger) => { log = value; },
      enumerable: true, configurable: true,
    });
    ctx.set('X-Request-Id', requestId);
    const started = performance.now();
    try {
      await next();
    } finally {
      const status = ctx.status;
      if (ctx.path !== '/healthz' && ctx.path !== '/readyz') {
        const line = {
          method: ctx.method,
          path: ctx.path,
          route: (ctx as { _matchedRoute?: string })._matchedRoute ?? null,
          status,
          ms: Math.round((performance.now() - started) * 10) / 10,
          userId: ctx.state.userId ?? null,
          ip: ctx.ip,
        };
        if (status >= 500) access.error({ requestId, ...line }, 'request');
        else if (status >= 400) access.warn({ requestId, ...line }, 'request');
        else access.info({ requestId, ...line }, 'request');
      }
    }
  };
}
