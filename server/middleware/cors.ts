import type { Middleware } from 'koa';
import { isMcpPath } from '../mcp/path.js';
import { errors } from '../errors.js';

/** The methods the API's routes answer (server/routes/, /mcp). */
const ALLOW_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
/**
 * The request headers the API reads beyond the CORS-safelisted ones: the JSON body's type, the CSRF
 * token (cookie sessions), a bearer token, a per-request Render key, the deploy Idempotency-Key, MCP's
 * protocol version, a caller's request id (server/middleware/requestContext.ts) and X-Background (a read
 * that is not a person's activity: server/sessions/middleware.ts).
 */
const ALLOW_HEADERS = 'content-type, authorization, x-csrf-token, idempotency-key, x-render-api-key, mcp-protocol-version, x-request-id, x-background';
/** Response headers a client needs beyond the safelisted ones (errors.ts, presenters/deployment.ts, requestContext.ts). */
const EXPOSE_HEADERS = 'Idempotent-Replayed, Location, Retry-After, X-Request-Id, Content-Disposition, Allow, WWW-Authenticate';
/** How long a browser may reuse a preflight answer (Chromium caps it at 2 hours). */
const MAX_AGE_SECONDS = '600';

/**
 * CORS for the origins in CORS_ORIGINS, on the API (/api/*, /mcp) only, and nothing for any other
 * origin. Mounted before body parsing, the same-origin check, bearer auth and sessions: a preflight
 * (OPTIONS with Origin and Access-Control-Request-Method; browsers send no credentials with it) is
 * answered here, 204, so it reads no body, runs no auth, CSRF check or limit and makes no session.
 * Other requests from a listed origin get the headers that let its page read the answer, errors
 * included (the error middleware keeps headers set before it). A preflight from any other origin, or
 * to a path that is not shared, is refused here just as early: 403, no CORS headers. Credentials are
 * allowed: a page on a same-site origin sends the SameSite=Lax session cookie (and then the
 * X-CSRF-Token like the UI); a cross-site page's fetch carries no such cookie, so it can only use a
 * bearer token. For live updates that rules out EventSource (it sends cookies, never an Authorization
 * header): such a page reads GET /api/events with fetch() (SECURITY.md, test/ui/cors.test.ts).
 */
export function cors(allowed: readonly string[]): Middleware {
  const origins = new Set(allowed);
  return (ctx, next) => {
    const origin = ctx.get('origin');
    const preflight = ctx.method === 'OPTIONS' && origin !== '' && ctx.get('access-control-request-method') !== '';
    const shared = ctx.path.startsWith('/api/') || isMcpPath(ctx.path);
    if (!shared || !origins.has(origin)) {
      // A preflight this server will not allow (an unlisted origin, or a path that is not shared) ends
      // here too, before the bearer check, the session, telemetry and limits: it used to run them all (a
      // bearer token in it was checked at GitHub, made a token session and an audit entry for an OPTIONS).
      // 403 with no CORS headers: the Fetch standard's CORS-preflight fetch needs both a passing CORS
      // check and an ok status (https://fetch.spec.whatwg.org/#cors-preflight-fetch), so this fails it
      // twice over, even behind a proxy that adds its own Allow-Origin; the browser blocks the request
      // and never sends it. Spring answers so ("Invalid CORS request"); the expressjs and rs/cors
      // middlewares answer 204 without headers, which a person reading curl output takes for success.
      // Vary: the answer depends on the Origin.
      if (preflight) { ctx.vary('Origin'); throw errors.originRejected(); }
      return next();
    }
    ctx.set('Access-Control-Allow-Origin', origin);
    ctx.set('Access-Control-Allow-Credentials', 'true');
    ctx.vary('Origin');
    if (preflight) {
      ctx.set('Access-Control-Allow-Methods', ALLOW_METHODS);
      ctx.set('Access-Control-Allow-Headers', ALLOW_HEADERS);
      ctx.set('Access-Control-Max-Age', MAX_AGE_SECONDS);
      ctx.status = 204;
      return Promise.resolve();
    }
    ctx.set('Access-Control-Expose-Headers', EXPOSE_HEADERS);
    return next();
  };
}
