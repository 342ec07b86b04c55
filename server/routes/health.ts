import type Router from '@koa/router';
import type { AppDeps } from '../deps.js';

export interface ReadinessCheck { name: string; check(): Promise<boolean> }

/**
 * Liveness says the process runs; readiness says it can serve: Redis and the deploy queue answer within
 * 1 s each, and any extra checks pass (the web process adds one that fails while it shuts down).
 */
export function healthRoutes(router: Router, deps: AppDeps, extra: ReadinessCheck[] = []) {
  router.get('/healthz', (ctx) => { ctx.body = { status: 'ok' }; });
  router.get('/readyz', async (ctx) => {
    // All at once, each bounded to 1 s. The deploy queue has its own connection: it must answer too,
    // or a deploy accepted now could not be enqueued.
    const all: ReadinessCheck[] = [
      { name: 'redis', check: () => deps.redis.ping().then((r) => r === 'PONG') },
      { name: 'queue', check: () => deps.queue.getJobCounts('waiting').then(() => true) },
      ...extra,
    ];
    const results = await Promise.all(all.map((c) => withTimeout(c.check(), 1000)));
    const checks: Record<string, 'ok' | 'fail'> = {};
    all.forEach((c, i) => { checks[c.name] = results[i] ? 'ok' : 'fail'; });
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
