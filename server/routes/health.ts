import type Router from '@koa/router';
import type { AppDeps } from '../deps.js';

export interface ReadinessCheck { name: string; check(): Promise<boolean> }

/** Liveness says the process runs; readiness says it can serve (Redis answers, and any extra checks). */
export function healthRoutes(router: Router, deps: AppDeps, extra: ReadinessCheck[] = []) {
  router.get('/healthz', (ctx) => { ctx.body = { status: 'ok' }; });
  router.get('/readyz', async (ctx) => {
    const checks: Record<string, 'ok' | 'fail'> = {};
    const redisOk = await withTimeout(deps.redis.ping().then((r) => r === 'PONG'), 1000);
    checks.redis = redisOk ? 'ok' : 'fail';
    for (const c of extra) checks[c.name] = (await withTimeout(c.check(), 1000)) ? 'ok' : 'fail';
    const ready = Object.values(checks).every((v) => v === 'ok');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not_ready', checks };
  });
}

async function withTimeout(p: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.catch(() => false), new Promise<boolean>((r) => { timer = setTimeout(() => r(false), ms); })]);
  } finally { clearTimeout(timer); }
}
