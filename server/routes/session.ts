import type Router from '@koa/router';
import { requireUser } from '../middleware/context.js';
import { presentSession, SessionView } from '../presenters/session.js';
import { documented } from '../openapi/describe.js';

export function sessionRoutes(router: Router) {
  router.get('/api/session', documented({ summary: 'The signed-in user, Render key status and CSRF token', tag: 'session', responses: { 200: SessionView } }), requireUser(), (ctx) => {
    ctx.body = presentSession(ctx.state.session, ctx.state.user);
  });
}
