import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { accessLogger, type Logger } from '../logger.js';
import { holdsCredential } from '../text.js';

const INBOUND_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * An inbound X-Request-Id taken as this request's id: well formed, and not what looks like a credential. The
 * id is echoed in the X-Request-Id answer header and written on every log line of the request, so a client
 * that sent its token or Render key there (a misplaced variable) had it kept in the logs in plain text.
 */
const takenId = (inbound: string): boolean => inbound !== '' && INBOUND_ID.test(inbound) && !holdsCredential(inbound);

/**
 * `ctx.state` of a request: the request id, and its logger (a child carrying the id), made on first
 * use: most requests never log beyond the access line, and a redacting child logger costs ~4 µs to
 * build (pino redacts its bindings), a few % of an authenticated GET (see bench/). Other middleware
 * add their own fields.
 */
class RequestState {
  #log: Logger | undefined;
  private readonly logger: Logger;
  readonly requestId: string;
  constructor(logger: Logger, requestId: string) {
    this.logger = logger;
    this.requestId = requestId;
  }
  get log(): Logger { return (this.#log ??= this.logger.child({ requestId: this.requestId })); }
  set log(value: Logger) { this.#log = value; }
}

/**
 * Request id (Render's x-request-id when it is well formed and looks like no credential, else a new one), a
 * child logger, and one access-log line per request. Only the path is logged, with its segments that look like
 * credentials masked (server/logger.ts accessLogger): query strings can hold OAuth codes, and are never logged.
 */
export function requestContext(logger: Logger): Middleware {
  // Not through pino's generic serialisation (its fields are fixed and carry no secret: no headers, no
  // query string, no body): server/logger.ts accessLogger writes the same line from a template.
  const access = accessLogger(logger);
  return async (ctx, next) => {
    const inbound = ctx.get('x-request-id');
    const requestId = takenId(inbound) ? inbound : randomUUID();
    ctx.state = new RequestState(logger, requestId);
    ctx.res.setHeader('X-Request-Id', requestId); // not ctx.set: its checks cost more than the header
    const started = performance.now();
    try {
      await next();
    } finally {
      const status = ctx.status;
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
      if (ctx.path !== '/healthz' && ctx.path !== '/readyz' && access.enabled(level)) {
        access.write(level, {
          requestId,
          method: ctx.method,
          path: ctx.path,
          route: (ctx as { _matchedRoute?: string })._matchedRoute ?? null,
          status,
          ms: Math.round((performance.now() - started) * 10) / 10,
          userId: (ctx.state as { userId?: number }).userId ?? null,
          ip: ctx.ip,
        });
      }
    }
  };
}
