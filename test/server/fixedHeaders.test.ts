import test from 'ava';
import Koa from 'koa';
import helmet from 'koa-helmet';
import type { AddressInfo } from 'node:net';
import { fixedHeaders } from '../../server/middleware/security.js';

// fixedHeaders runs helmet once and replays what it set: every response must carry exactly the
// headers helmet itself would have set (and none it removes), on the first request and later ones.

const options = (httpsOnly: boolean) => ({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"], imgSrc: ["'self'", 'data:'], objectSrc: ["'none'"], frameAncestors: ["'none'"],
      ...(httpsOnly ? { upgradeInsecureRequests: [] } : {}),
    },
  },
  strictTransportSecurity: httpsOnly ? { maxAge: 31_536_000, includeSubDomains: true } : false as const,
  crossOriginEmbedderPolicy: false,
});

async function headersOf(mw: Koa.Middleware, times: number): Promise<Array<Record<string, string>>> {
  const app = new Koa();
  app.use(async (ctx, next) => { ctx.res.setHeader('X-Powered-By', 'something'); await next(); });
  app.use(mw);
  app.use((ctx) => { ctx.body = { ok: true }; });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  try {
    const out: Array<Record<string, string>> = [];
    for (let i = 0; i < times; i++) {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      const headers = Object.fromEntries([...res.headers].filter(([k]) => k !== 'date' && k !== 'keep-alive' && k !== 'connection'));
      await res.text();
      out.push(headers);
    }
    return out;
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

for (const httpsOnly of [false, true]) {
  test(`the same headers as helmet itself (httpsOnly ${String(httpsOnly)}), on every response`, async (t) => {
    const [expected] = await headersOf(helmet(options(httpsOnly)), 1);
    const replayed = await headersOf(fixedHeaders(helmet(options(httpsOnly))), 3);
    t.truthy(expected!['content-security-policy']);
    t.falsy(expected!['x-powered-by'], 'helmet removes X-Powered-By');
    for (const got of replayed) t.deepEqual(got, expected);
  });
}
