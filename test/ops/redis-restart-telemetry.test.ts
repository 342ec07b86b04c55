import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { telemetryKeys } from '../../server/telemetry/keys.js';
import { waitUntil } from '../helpers/wait.js';

// Redis restarts and comes back empty while the web process stays up. Telemetry's route names
// (`tel:routes`, route id → "METHOD /template", what `npm run admin -- telemetry <login>` prints each
// per-route line with) were written once per process, the first time it counted a route: after the
// restart the counts came back under bare route ids, and the admin CLI showed `route 3f2a…` for every
// line until each web process restarted.
const run = process.env.REDIS_URL ? test.serial.skip : test.serial; // restarting redis-server needs a private one

let stack: Stack;
test.before(async () => { if (!process.env.REDIS_URL) stack = await startStack({ telemetry: { flushMs: 50 } }); });
test.after.always(async () => { await stack?.close(); });

/** Route ids counted in any user's hourly hashes that `tel:routes` does not name. */
async function unnamedRouteIds(): Promise<{ counted: number; unnamed: string[] }> {
  const keys = telemetryKeys(stack.config.redisPrefix);
  const hourKeys = await stack.redis.client.keys(`${stack.config.redisPrefix}:tel:h:*`);
  const ids = new Set<string>();
  for (const key of hourKeys) for (const field of Object.keys(await stack.redis.client.hgetall(key))) ids.add(field.slice(0, field.indexOf('.')));
  // The names after the counts: a flush writes a route's name with its first count (one script), so names read
  // first missed a route whose first count a flush wrote between the two reads (a CI run failed so).
  const names = await stack.redis.client.hgetall(keys.routes);
  return { counted: ids.size, unnamed: [...ids].filter((id) => !(id in names)) };
}

run('after Redis came back empty, the routes a running web process counts are named again', async (t) => {
  const before = stack.agent();
  await stack.signIn(before, 'tel-ann');
  for (let i = 0; i < 3; i++) t.is((await before.get('/api/session')).status, 200);
  const first = await waitUntil('counts flushed', async () => { const r = await unnamedRouteIds(); return r.counted > 0 ? r : null; }, 10_000, 50);
  t.deepEqual(first.unnamed, [], 'named before the restart');

  await stack.redis.restart({ downMs: 200 });
  await waitUntil('ready', async () => (await fetch(`${stack.url}/readyz`)).status === 200, 20_000, 50);
  const after = stack.agent();
  await stack.signIn(after, 'tel-ann');
  for (let i = 0; i < 3; i++) t.is((await after.get('/api/session')).status, 200);
  const second = await waitUntil('counts flushed again', async () => { const r = await unnamedRouteIds(); return r.counted > 0 ? r : null; }, 10_000, 50);
  // A flush after the counts' own, so a registration that rides with a later flush is seen too.
  await new Promise((r) => setTimeout(r, 300));
  t.deepEqual((await unnamedRouteIds()).unnamed, [], `every counted route is named (${second.counted} counted)`);
});
