import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import helmet from 'koa-helmet';
import Keygrip from 'keygrip';
import type { AppDeps } from './deps.js';
import { requestContext } from './middleware/requestContext.js';
import { errorHandler } from './middleware/errorHandler.js';
import { noStore, sameOrigin } from './middleware/security.js';
import { sessionMiddleware, touchSession } from './sessions/middleware.js';
import { authRoutes, type AuthHooks } from './routes/auth.js';
import { sessionRoutes } from './routes/session.js';
import { renderKeyRoutes, type RenderKeyHooks } from './routes/renderKey.js';
import { healthRoutes, type ReadinessCheck } from './routes/health.js';

export const BODY_LIMIT = '64kb';

export interface CreateAppOptions {
  authHooks?: AuthHooks;
  renderKeyHooks?: RenderKeyHooks;
  readiness?: ReadinessCheck[];
  /** Extra route modules (deployments, events, audit, UI) mounted after the core ones. */
  routes?: Array<(router: Router) => void>;
  /** Middleware mounted after sessions and before routes (e.g. security-event detectors). */
  middleware?: Koa.Middleware[];
  /** How often an active session's idle window is slid forward (one Redis write per interval). */
  sessionTouchMs?: number;
}

/**
 * The web app, built from injected dependencies. Tests construct real instances on private ports.
 * Order matters: request id/logging → errors → headers → body → same-origin → session → routes.
 */
export function createApp(deps: AppDeps, opts: CreateAppOptions = {}): Koa {
  const { config } = deps;
  const app = new Koa({ proxy: config.trustProxy, maxIpsCount: 1 });
  const cookieKeys = [deps.keyring.current.cookieSigning];
  if (deps.keyring.previous) cookieKeys.push(deps.keyring.previous.cookieSigning);
  app.keys = new Keygrip(cookieKeys, 'sha256') as unknown as string[];
  app.silent = true; // errors are logged by our middleware, with the request id

  app.use(requestContext(deps.logger));
  app.use(errorHandler());
  if (config.httpsOnly && config.trustProxy) {
    app.use(async (ctx, next) => {
      if (ctx.protocol === 'http' && ctx.path !== '/healthz' && ctx.path !== '/readyz') {
        ctx.status = 308;
        ctx.redirect(`https://${ctx.host}${ctx.originalUrl}`);
        return;
      }
      await next();
    });
  }
  app.use(helmet({
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
  }));
  app.use(noStore());
  app.use(bodyParser({ enableTypes: ['json', 'form'], jsonLimit: BODY_LIMIT, formLimit: BODY_LIMIT, textLimit: BODY_LIMIT }));
  app.use(sameOrigin([config.origin, ...config.corsOrigins]));
  app.use(sessionMiddleware(app, { store: deps.sessions, secure: config.httpsOnly }));
  app.use(touchSession(deps.clock, opts.sessionTouchMs ?? 60_000));
  for (const mw of opts.middleware ?? []) app.use(mw);

  const router = new Router();
  healthRoutes(router, deps, opts.readiness);
  authRoutes(router, deps, opts.authHooks);
  sessionRoutes(router);
  renderKeyRoutes(router, deps, opts.renderKeyHooks);
  for (const mount of opts.routes ?? []) mount(router);
  app.use(async (ctx, next) => { ctx.state.routePath = undefined; await next(); });
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
