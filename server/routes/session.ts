import type Router from '@koa/router';
import { getSession } from '../sessions/middleware.js';
import { requireUser } from '../middleware/security.js';
import { presentSession } from '../presenters/session.js';

export function sessionRoutes(router: Router) {
  router.get('/api/session', requireUser(), (ctx) => {
    const sess = getSession(ctx);
    ctx.body = presentSession(sess as Parameters<typeof presentSession>[0]);
  });
}
