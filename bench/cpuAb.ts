/**
 * `flock /tmp/bench.lock npx tsx bench/cpuAb.ts [checkout[#NAME=value,…] …] [--rounds=N] [--requests=N]
 * [--paths=/api/session,bearer:/api/session,…]`: web-process CPU per authenticated
 * read (GET /api/session, GET /api/render/status; a path written `bearer:/api/…` is read with
 * `Authorization: Bearer <GitHub token>` instead of the cookie) for one or more checkouts, measured in
 * alternation in one run. CPU time, not throughput: a loaded machine stretches wall time far more than
 * it stretches the µs a request costs, so an A/B of two checkouts (old code in a second worktree) holds
 * on a shared machine where the `api` scenario's ratios swing by ±0.1×. Each checkout runs its own
 * production web composition (its bench/children/webMain.ts) on the same Redis and simulators; a fixed
 * number of requests per slice, CPU read by the child itself around each slice. Bare Koa is measured
 * in the same rounds as the reference the `api` rows divide by. `#NAME=value` gives that checkout's web
 * process extra environment; BENCH_CPU_PROF=dir writes their CPU profiles (bench/profile.ts). A checkout may
 * be a tsc build of one (`npx tsc -p bench/tsconfig.compiled.json` there, then `<checkout>/dist/bench`):
 * run by plain node, as production runs, without tsx's transform (up to ~3 µs of a read, bench/README.md `api`).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { createCleanup } from './lib/cleanup.js';
import { startBench } from './lib/bench.js';
import { cpuMsBetween, startChild, type BenchChild } from './lib/children.js';
import { appEnv, configOf } from './lib/env.js';
import { BENCH_USER_AGENT, createTenant, headersOf, serverSide } from './lib/tenants.js';
import { startRenderSimulator } from '../sandbox/render/index.js';
import { freePort } from '../test/helpers/ports.js';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
/** A checkout to measure, with extra environment for its web process (`path#NAME=value,NAME=value`). */
function checkout(arg: string) {
  const [dir = '.', extra = ''] = arg.split('#');
  const env = Object.fromEntries(extra.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return { dir: resolve(dir), extra, env };
}
/** A checkout's web main: its TypeScript under tsx, or a tsc build of it (a directory holding bench/children/webMain.js). */
const webMainOf = (dir: string) => (existsSync(`${dir}/bench/children/webMain.ts`) ? `${dir}/bench/children/webMain.ts` : `${dir}/bench/children/webMain.js`);
const roots = args.filter((a) => !a.startsWith('--')).map(checkout);
if (roots.length === 0) roots.push(checkout(new URL('..', import.meta.url).pathname));
const ROUNDS = flag('rounds', 5);
const REQUESTS = flag('requests', 20_000);
const CONNECTIONS = 20;
const USERS = 20;
const PATHS = (args.find((a) => a.startsWith('--paths='))?.slice(8) ?? '/api/session,/api/render/status').split(',');

const cleanup = createCleanup();
process.once('SIGINT', () => { void cleanup.runAll().finally(() => process.exit(130)); });
try {
  const bench = await startBench(cleanup, { log: () => {} });
  const render = await startRenderSimulator({ maxCalls: 2_000_000 });
  cleanup.add('Render simulator', () => render.close());
  const bare = await startChild(cleanup, 'bare-koa', 'bareKoaMain.ts', {});
  const webs: Array<{ root: (typeof roots)[number]; web: BenchChild; url: string; headers: Array<Record<string, string>>; bearer: Array<Record<string, string>> }> = [];
  for (const [i, root] of roots.entries()) {
    const port = await freePort();
    const env = appEnv({
      port, secretKeyHex: randomBytes(32).toString('hex'), redisUrl: bench.redis.url, redisPrefix: `ab${i}${randomBytes(3).toString('hex')}`,
      github: { clientId: bench.github.clientId, clientSecret: bench.github.clientSecret, oauthUrl: bench.github.oauthUrl, apiUrl: bench.github.apiUrl },
      renderApiUrl: render.url,
    });
    const deps = serverSide(cleanup, configOf(env));
    const web = await startChild(cleanup, `web-${i}`, pathToFileURL(webMainOf(root.dir)).href, { ...env, ...root.env }, { cpuProfDir: process.env.BENCH_CPU_PROF });
    process.stderr.write(`[${i}] web pid ${web.pid}\n`); // for perf record -p
    const tenants = [];
    for (let u = 0; u < USERS; u++) tenants.push(await createTenant(deps, bench.github, render, { login: `ab-${i}-${u}`, repos: 0 }));
    webs.push({ root, web, url: String(web.ready.url), headers: tenants.map((t) => headersOf(t)), bearer: tenants.map((t) => ({ authorization: `Bearer ${t.githubToken}`, 'user-agent': BENCH_USER_AGENT })) });
  }

  /** µs of the server child's CPU per request over `amount` requests (all must be 2xx). */
  const slice = async (server: BenchChild, url: string, headers: Array<Record<string, string>>, amount: number) => {
    let next = 0;
    const before = await server.stats();
    const r = await autocannon({ url, connections: CONNECTIONS, amount, setupClient: (c: { setHeaders(h: Record<string, string>): void }) => c.setHeaders(headers[next++ % headers.length]!) });
    const after = await server.stats();
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    return (cpuMsBetween(before, after) * 1000) / (r['2xx'] || 1);
  };

  const targets = [
    { name: 'bare Koa', run: (n: number) => slice(bare, `${String(bare.ready.url)}/api/session`, [{ 'user-agent': 'bench' }], n) },
    ...webs.flatMap((w, i) => PATHS.map((p) => ({
      name: `[${i}] ${p}`,
      run: (n: number) => (p.startsWith('bearer:') ? slice(w.web, `${w.url}${p.slice(7)}`, w.bearer, n) : slice(w.web, `${w.url}${p}`, w.headers, n)),
    }))),
  ];
  for (const t of targets) await t.run(REQUESTS); // warm-up: JIT, caches
  const results = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order each round, so neither side always follows the other.
    for (const t of round % 2 ? [...targets].reverse() : targets) results.get(t.name)!.push(await t.run(REQUESTS));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [i, w] of webs.entries()) process.stdout.write(`[${i}] ${w.root.dir} ${w.root.extra}\n`);
  for (const [name, us] of results) {
    process.stdout.write(`${name.padEnd(28)} median ${median(us).toFixed(1).padStart(6)} µs  min ${Math.min(...us).toFixed(1).padStart(6)}  runs ${us.map((x) => x.toFixed(1)).join(' ')}\n`);
  }
} finally {
  await cleanup.runAll();
}
