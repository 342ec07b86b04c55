import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type { AppDeps } from '../deps.js';
import { z } from 'zod';
import { documented, view } from '../openapi/describe.js';

const HealthView = view('Health', z.object({ status: z.literal('ok') }));
type HealthView = z.infer<typeof HealthView>;
const ReadyView = view('Readiness', z.object({ status: z.enum(['ready', 'not_ready']), checks: z.record(z.string(), z.enum(['ok', 'fail'])) }));
type ReadyView = z.infer<typeof ReadyView>;

/** The readiness write's key's lifetime, should its DEL ever not run. */
const PROBE_TTL_MS = 10_000;

export interface ReadinessCheck { name: string; check(): Promise<boolean> }

/**
 * Liveness says the process runs; readiness says it can serve: Redis answers and takes a write, and the
 * deploy queue answers, within 1 s each, and any extra checks pass (the web process adds one that fails
 * while it shuts down).
 */
export function healthRoutes(router: Router, deps: AppDeps, extra: ReadinessCheck[] = []) {
  const probeKey = `${deps.config.redisPrefix}:readyz:${randomBytes(9).toString('base64url')}`;
  router.get('/healthz', documented({ summary: 'Liveness: the process runs', tag: 'health', responses: { 200: HealthView } }), (ctx) => { ctx.body = { status: 'ok' } satisfies HealthView; });
  router.get('/readyz', documented({ summary: 'Readiness: Redis answers and takes a write, the deploy queue answers, and the process is not shutting down', tag: 'health', responses: { 200: ReadyView, 503: ReadyView } }), async (ctx) => {
    // All at once, each bounded to 1 s. The deploy queue has its own connection: it must answer too,
    // or a deploy accepted now could not be enqueued.
    const all: ReadinessCheck[] = [
      // A write, not PING: at maxmemory under noeviction (render.yaml's policy), or as a read-only replica,
      // Redis answers PING and reads while every sign-in, session touch and deploy fails. SET and DEL in one
      // MULTI (one round trip): no one ever sees the key, so a poll changes nothing in Redis. A refused SET
      // aborts the MULTI (EXECABORT); PX only in case the DEL is ever lost.
      { name: 'redis', check: () => deps.redis.multi().set(probeKey, '1', 'PX', PROBE_TTL_MS).del(probeKey).exec().then((r) => r?.[0]?.[0] === null && r[0][1] === 'OK') },
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
