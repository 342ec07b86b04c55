import type Router from '@koa/router';
import type { AppDeps } from '../deps.js';
import { z } from 'zod';
import { documented, view } from '../openapi/describe.js';

const HealthView = view('Health', z.object({ status: z.literal('ok') }));
type HealthView = z.infer<typeof HealthView>;
const ReadyView = view('Readiness', z.object({ status: z.enum(['ready', 'not_ready']), checks: z.record(z.string(), z.enum(['ok', 'fail'])) }));
type ReadyView = z.infer<typeof ReadyView>;

export interface ReadinessCheck { name: string; check(): Promise<boolean> }

/**
 * Liveness says the process runs; readiness says it can serve: Redis and the deploy queue answer within
 * 1 s each, and any extra checks pass (the web process adds one that fails while it shuts down).
 */
export function healthRoutes(router: Router, deps: AppDeps, extra: ReadinessCheck[] = []) {
  router.get('/healthz', documented({ summary: 'Liveness: the process runs', tag: 'health', responses: { 200: HealthView } }), (ctx) => { ctx.body = { status: 'ok' } satisfies HealthView; });
  router.get('/readyz', documented({ summary: 'Readiness: Redis and the deploy queue answer', tag: 'health', responses: { 200: ReadyView, 503: ReadyView } }), async (ctx) => {
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
    ctx.body = { status: ready ? 'ready' : 'not_ready', checks } satisfies ReadyView;
  });
}

async function withTimeout(p: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.catch(() => false), new Promise<boolean>((r) => { timer = setTimeout(() => r(false), ms); })]);
  } finally { clearTimeout(timer); }
}
