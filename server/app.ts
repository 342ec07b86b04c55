import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import helmet from 'koa-helmet';
import { createCookieKeys } from './crypto/cookieKeys.js';
import type { AppDeps } from './deps.js';
import { AppError, errors } from './errors.js';
import { requestContext } from './middleware/requestContext.js';
import { errorHandler } from './middleware/errorHandler.js';
import { crossSiteCookieUse, crossSiteCovers, fixedHeaders, forUnsafeMethods, sameOrigin } from './middleware/security.js';
import { httpsRedirect } from './middleware/httpsRedirect.js';
import { cors } from './middleware/cors.js';
import { memoizeMatch } from './middleware/memoRouter.js';
import { SESSION_COOKIE_PLAIN, SESSION_COOKIE_SECURE, sessionMiddleware } from './sessions/middleware.js';
import { authRoutes } from './routes/auth.js';
import { sessionRoutes } from './routes/session.js';
import { renderKeyRoutes } from './routes/renderKey.js';
import { healthRoutes, type ReadinessCheck } from './routes/health.js';
import { deploymentRoutes } from './routes/deployments.js';
import { detectRoutes } from './routes/detect.js';
import { defaultWebRoot, uiRelease, uiRoutes } from './routes/ui.js';
import { githubRoutes } from './routes/github.js';
import { serviceRoutes } from './routes/services.js';
import { serviceSettingsRoutes } from './routes/serviceSettings/index.js';
import { eventRoutes, type EventRouteOptions } from './routes/events.js';
import { sentinelRoutes, type SentinelRouteOptions } from './routes/sentinel.js';
import { mcpRoutes } from './routes/mcp.js';
import { auditRoutes } from './routes/audit.js';
import { clientFingerprintGuard } from './security/fingerprint.js';
import { bearerAuth, bearerCovers, BEARER_REFUSALS } from './bearer/middleware.js';
import { documented } from './openapi/describe.js';
import { openApiRoutes } from './openapi/route.js';
import { MetaView } from './presenters/meta.js';
import type { SecurityOptions } from './security/options.js';
import { gateCovers, GATE_REFUSALS, telemetryMiddleware } from './telemetry/middleware.js';
import { inProcessRoutes } from './mcp/dispatch.js';
import { isMcpPath } from './mcp/path.js';
import { answerUnreadMcpBody } from './mcp/transport.js';
import { endSessionOnGitHubRefusal } from './sessions/githubRefusal.js';
import { noteRenderKeyRejection } from './render/keyRejected.js';
import { unreadFormField } from './middleware/formFields.js';
import { duplicateJsonKey, duplicateKeyMessage } from './middleware/jsonKeys.js';
import { watchBodyBytes } from './middleware/bodyBytes.js';

const BODY_LIMIT = '64kb';
/** BODY_LIMIT in bytes, as the parser reads it (quoted in /mcp's 413, which says it in bytes as the SDK does). */
const BODY_LIMIT_BYTES = 64 * 1024;
const NOT_UTF8 = 'The request body is not UTF-8 text (bodies are read as UTF-8, whatever their charset parameter says). Send it encoded as UTF-8.';
/**
 * The methods whose bodies koa-bodyparser reads: only these can be refused for their body. DELETE too (its
 * default leaves it out): a DELETE's body went unread, so `{"dry_run": true}` deleted (takesNoBody).
 */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A body the parser did not read: under a type that is neither JSON nor a form (text/plain, fetch's default
 * for a string body) or none. It was taken as no body, and the route then called fields the client had sent
 * missing. /mcp answers this itself, as a JSON-RPC error (server/mcp/transport.ts).
 */
function unreadBody(ctx: Koa.Context): boolean {
  if (!BODY_METHODS.has(ctx.method) || ctx.request.rawBody !== undefined || isMcpPath(ctx.path)) return false;
  const length = ctx.request.length;
  return length === undefined ? ctx.get('transfer-encoding') !== '' : length > 0;
}

/**
 * Why the body the parser read is not the one sent, or null: a form's field it left out (server/middleware/
 * formFields.ts; not at /mcp, which reads JSON only), a JSON member named twice (server/middleware/jsonKeys.ts).
 * A read body that is not a form is JSON (of any of the parser's JSON types, +json ones included).
 */
function bodyNotAsSent(ctx: Koa.Context): string | null {
  const raw = ctx.request.rawBody;
  if (typeof raw !== 'string' || raw === '') return null;
  if (ctx.request.is('urlencoded')) return isMcpPath(ctx.path) ? null : unreadFormField(raw);
  const name = duplicateJsonKey(raw);
  return name === null ? null : duplicateKeyMessage(name);
}

export interface CreateAppOptions {
  /**
   * Rate limits, lock-out, alerts (server/security/options.ts documents the defaults; tests shrink them).
   * Read by startWeb, which hands them to buildDeps: the security layer is built there, once per process.
   */
  security?: SecurityOptions;
  readiness?: ReadinessCheck[];
  /** Extra route modules (deployments, events, audit, UI) mounted after the core ones. */
  routes?: Array<(router: Router) => void>;
  /** Sandbox mode (npm start without GitHub credentials): the UI shows a banner and the demo key. */
  sandbox?: { renderApiKey: string; login: string };
  /** How often an active session's idle window is slid forward (one Redis write per interval). */
  sessionTouchMs?: number;
  /**
   * Mounted before everything else, so it sees whole requests and final statuses: request metrics
   * (server/metrics/http.ts) and the web process's in-flight tracking for graceful shutdown.
   */
  outer?: Koa.Middleware | Koa.Middleware[];
  /** Live stream limits (tests and the bench open many streams). */
  events?: EventRouteOptions;
  /** Sentinel's tenant alerts (allowed webhook hosts, guard; tests point them at a local receiver). */
  sentinel?: SentinelRouteOptions;
  /** The UI's files (index.html, assets/); default <package root>/web. Tests serve another release's. */
  webRoot?: string;
  /** Called once with the router after every route is mounted (tests walk it to discover all routes). */
  onRouter?(router: Router): void;
}

/**
 * The web app, built from injected dependencies. Tests construct real instances on private ports.
 * Order matters: request id/logging → errors → headers → CORS → body → same-origin → bearer → session → routes.
 */
export function createApp(deps: AppDeps, opts: CreateAppOptions = {}): Koa {
  const { config } = deps;
  const app = new Koa({ proxy: config.trustProxy, maxIpsCount: 1 });
  const cookieKeys = [deps.keyring.current.cookieSigning];
  if (deps.keyring.previous) cookieKeys.push(deps.keyring.previous.cookieSigning);
  // Keygrip-compatible signatures without keygrip's per-read cost (see crypto/cookieKeys.ts).
  app.keys = createCookieKeys(cookieKeys);
  app.silent = true; // errors are logged by our middleware, with the request id
  const webRoot = opts.webRoot ?? defaultWebRoot();
  const release = uiRelease(webRoot);

  for (const mw of [opts.outer ?? []].flat()) app.use(mw);
  app.use(requestContext(deps.logger));
  app.use(errorHandler());
  if (config.httpsOnly && config.trustProxy) app.use(httpsRedirect(config.origin));
  app.use(fixedHeaders(helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'https://avatars.githubusercontent.com'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        ...(config.httpsOnly ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    strictTransportSecurity: config.httpsOnly ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    crossOriginEmbedderPolicy: false,
  }), { noStoreApi: true, uiRelease: release }));
  // CORS for CORS_ORIGINS on the API: preflights end here, before body, same-origin, auth and sessions.
  // Without any origin listed, not mounted: no layer on every request for nothing.
  if (config.corsOrigins.length > 0) app.use(cors(config.corsOrigins));
  // Body parsing and the same-origin check concern writes only: a GET passes neither layer.
  const parseBody = bodyParser({
    enableTypes: ['json', 'form'], parsedMethods: [...BODY_METHODS], jsonLimit: BODY_LIMIT, formLimit: BODY_LIMIT, textLimit: BODY_LIMIT,
    onError: (err, ctx) => {
      const e = err as { status?: number; type?: string; message?: string };
      if (e.status === 413 || e.type === 'entity.too.large') throw errors.payloadTooLarge(BODY_LIMIT);
      // `inflation` marks a Content-Encoding it cannot undo only by its message; raw-body's 'encoding.unsupported' is a charset.
      if (e.status === 415 && e.message?.startsWith('Unsupported Content-Encoding')) throw errors.unsupportedContentEncoding();
      if (e.status === 415 || e.type === 'encoding.unsupported') throw errors.unsupportedMediaType();
      // The parser refuses a member named __proto__ (prototype poisoning): valid JSON, so "not valid JSON"
      // sent the client looking for a syntax error. /mcp answers JSON-RPC's parse error, as for any body it cannot take.
      if (/forbidden prototype property/.test(e.message ?? '') && !isMcpPath(ctx.path)) {
        throw errors.validation('A JSON member is named "__proto__", which cannot be used: rename it.');
      }
      throw errors.malformedJson();
    },
  });
  const checkOrigin = sameOrigin(config.origin, config.corsOrigins);
  app.use(forUnsafeMethods((ctx, next) => {
    // Content-codings are case-insensitive (RFC 9110 §8.4.1); the parser (`inflation`) knows them in lowercase only.
    const coding = ctx.req.headers['content-encoding'];
    if (coding !== undefined && coding !== coding.toLowerCase()) ctx.req.headers['content-encoding'] = coding.toLowerCase();
    let parsed = false;
    let wasUtf8: ((decoded: string) => boolean) | undefined;
    const rest = parseBody(ctx, () => {
      const raw = ctx.request.rawBody;
      const notUtf8 = wasUtf8 !== undefined && typeof raw === 'string' && !wasUtf8(raw);
      const notAsSent = bodyNotAsSent(ctx);
      // At /mcp such a body is JSON-RPC's parse error, as one the parser could not read (below).
      if (isMcpPath(ctx.path) && (notUtf8 || notAsSent)) throw errors.malformedJson();
      parsed = true;
      if (unreadBody(ctx)) throw errors.unsupportedMediaType();
      if (notUtf8) throw errors.validation(NOT_UTF8);
      if (notAsSent) throw errors.validation(notAsSent);
      return checkOrigin(ctx, next) as Promise<void>;
    }) as Promise<void>;
    // The parser started reading the body (its listener is on the request) in the call above, and no chunk
    // is delivered before this turn ends: watched from here, every byte is seen.
    if (!parsed && ctx.req.listenerCount('data') > 0) wasUtf8 = watchBodyBytes(ctx.req, BODY_LIMIT_BYTES);
    if (!isMcpPath(ctx.path)) return rest;
    // A body /mcp could not read is a JSON-RPC error there (server/mcp/transport.ts); what the rest of the app threw is not.
    return rest.catch((err: unknown) => {
      if (parsed || !(err instanceof AppError) || !answerUnreadMcpBody(ctx, err.code, err.message, BODY_LIMIT_BYTES)) throw err;
    });
  }));
  // Authorization: Bearer <GitHub token> → its token session, loaded by the session middleware below instead of a cookie.
  app.use(bearerAuth(deps));
  // The API used with the cookie by a page on another site (a link opened as a page): refused before the session is read.
  app.use(crossSiteCookieUse(config.corsOrigins, config.httpsOnly ? SESSION_COOKIE_SECURE : SESSION_COOKIE_PLAIN));
  app.use(sessionMiddleware(app, { store: deps.sessions, secure: config.httpsOnly, touch: { clock: deps.clock, everyMs: opts.sessionTouchMs ?? 60_000 } }));
  // Anomaly throttles/blocks, then per-user request telemetry (server/telemetry/).
  const telemetry = config.telemetry.enabled ? telemetryMiddleware(deps.telemetry, deps.clock) : undefined;
  if (telemetry) app.use(telemetry);
  // A cookie replayed from another client ends its session (server/security/fingerprint.ts).
  app.use(clientFingerprintGuard(deps));
  // Refusals of the session's credentials, one layer on the way back (each of them on every request):
  // GitHub refusing its token ends the session with the 401 that says to sign in again; Render refusing its
  // key (401) is noted on the session, so its key status says so (server/render/keyRejected.ts).
  const onGithubRefusal = endSessionOnGitHubRefusal(deps);
  const onRenderKeyRefusal = noteRenderKeyRejection(deps);
  const credentialRefusals: Koa.Middleware = async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      await onGithubRefusal(ctx, err);
      await onRenderKeyRefusal(ctx, err);
      throw err;
    }
  };
  app.use(credentialRefusals);

  // Case-sensitive, like every path check before it (bearer, telemetry's gate, no-store, JSON 404s): a
  // case-insensitive router answered /API/session while the anomaly block and telemetry let it pass unseen.
  const router = new Router({ sensitive: true });
  healthRoutes(router, deps, opts.readiness);
  // Signing out or clearing the key stops that session's unfinished deploys (server/sessions/endSession.ts).
  authRoutes(router, deps);
  sessionRoutes(router);
  router.get('/api/meta', documented({ summary: 'Whether this is sandbox mode (and its demo login and key)', tag: 'meta', responses: { 200: MetaView } }), (ctx) => {
    ctx.body = { sandbox: Boolean(opts.sandbox), demo: opts.sandbox ? { login: opts.sandbox.login, renderApiKey: opts.sandbox.renderApiKey } : null } satisfies MetaView;
  });
  renderKeyRoutes(router, deps);
  deploymentRoutes(router, deps);
  detectRoutes(router, deps);
  githubRoutes(router, deps);
  serviceRoutes(router, deps);
  serviceSettingsRoutes(router, deps);
  eventRoutes(router, deps, opts.events); // uses deps.events (closed by the web process)
  sentinelRoutes(router, deps, opts.sentinel);
  // Bearer only; each tool is one of these routes run in-process for the /mcp request's caller, through
  // what follows the session and the changed-client check here (both already done for that caller): a tool
  // whose route meets GitHub's refusal of the token ends the token as a REST call would (Render's of the key is noted).
  const errorMiddleware = errorHandler();
  mcpRoutes(router, deps, inProcessRoutes(app, () => [errorMiddleware, ...(telemetry ? [telemetry] : []), credentialRefusals, router.routes() as Koa.Middleware]));
  auditRoutes(router, deps);
  openApiRoutes(router, {
    sessionCookie: config.httpsOnly ? SESSION_COOKIE_SECURE : SESSION_COOKIE_PLAIN, version: '1.0.0',
    // What the layers above refuse before any route runs, on the requests each looks at.
    beforeRouter: [
      { covers: (method) => BODY_METHODS.has(method), errors: ['malformed_json', 'payload_too_large', 'unsupported_media_type', 'validation_failed'] },
      { covers: (_method, path) => bearerCovers(path), errors: BEARER_REFUSALS },
      { covers: (_method, path) => crossSiteCovers(path), errors: ['origin_rejected'] },
      ...(telemetry ? [{ covers: (_method: string, path: string) => gateCovers(path), errors: GATE_REFUSALS }] : []),
    ],
  });
  uiRoutes(router, { webRoot, release });
  for (const mount of opts.routes ?? []) mount(router);
  opts.onRouter?.(router);
  memoizeMatch(router);
  // No API route ends in '/', but the router (not strict: /mcp/ is /mcp, server/mcp/path.ts) matched the
  // trailing-slash form: browsers resolve dot segments, even percent-encoded, before sending, so deleting
  // an env var or secret file named ".." from the settings page was DELETE /api/render/services/<id>/,
  // the service's own delete. That form is a 404 here; MCP tools' in-process calls encode their ids.
  app.use((ctx, next) => (ctx.path.endsWith('/') && ctx.path.startsWith('/api/') ? Promise.reject(errors.notFound('Route')) : next()));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
