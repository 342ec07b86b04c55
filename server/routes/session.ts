import type Router from '@koa/router';
import { getSession } from '../sessions/middleware.js';
import { requireUser } from '../middleware/security.js';
import { presentSession, SessionView } from '../presenters/session.js';
import { documented } from '../openapi/describe.js';

export function sessionRoutes(router: Router) {
  router.get('/api/session', documented({ summary: 'The signed-in user, Render key status and CSRF token', tag: 'session', responses: { 200: SessionView } }), requireUser(), (ctx) => {
    const sess = getSession(ctx);
    ctx.body = presentSession(sess as Parameters<typeof presentSession>[0]);
  });
}
