import test from 'ava';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { decodeSecret, loadConfig } from '../../server/config/env.js';
import { startRenderSimulator } from '../../sandbox/render/index.js';

// render.yaml (the orchestrator's own Blueprint) against Render's official schema and the simulator's
// POST /blueprints/validate, and what it must say for the app to boot in production.

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const blueprintText = read('render.yaml');
type Json = Record<string, any>;
const blueprint = parse(blueprintText) as Json;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

function schemaValidator() {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(JSON.parse(read('spec/render.yaml.json')));
}

const service = (type: string) => (blueprint.services as Json[]).find((s) => s.type === type)!;
const group = (name: string) => (blueprint.envVarGroups as Json[]).find((g) => g.name === name)!;

test('render.yaml passes Render\'s official Blueprint schema (and the schema does reject broken ones)', (t) => {
  const validate = schemaValidator();
  t.true(validate(blueprint), JSON.stringify(validate.errors, null, 2));
  const evicting = structuredClone(blueprint);
  evicting.services.find((s: Json) => s.type === 'keyvalue').maxmemoryPolicy = 'evict-everything';
  t.false(validate(evicting));
  const noRuntime = structuredClone(blueprint);
  delete noRuntime.services.find((s: Json) => s.type === 'worker').runtime;
  t.false(validate(noRuntime));
});

test('render.yaml passes POST /blueprints/validate on the Render simulator', async (t) => {
  const sim = await startRenderSimulator();
  t.teardown(() => sim.close());
  const account = sim.addAccount({ apiKey: 'rnd_blueprintcheckkkkkkkk' });
  const form = new FormData();
  form.set('ownerId', account.ownerId);
  form.set('file', new Blob([blueprintText], { type: 'application/x-yaml' }), 'render.yaml');
  const res = await fetch(`${sim.url}/blueprints/validate`, { method: 'POST', headers: { Authorization: 'Bearer rnd_blueprintcheckkkkkkkk' }, body: form });
  t.is(res.status, 200);
  const body = (await res.json()) as { valid: boolean; errors?: unknown; plan?: { services: string[]; keyValue: string[]; envGroups: string[] } };
  t.true(body.valid, JSON.stringify(body.errors));
  t.deepEqual(body.plan?.services.sort(), ['orchestrator-web', 'orchestrator-worker']);
  t.deepEqual(body.plan?.keyValue, ['orchestrator-kv']);
  t.deepEqual(body.plan?.envGroups, ['orchestrator-settings']);
});

test('web, worker and Key Value are wired as the app needs; Procfile and package.json agree', (t) => {
  const web = service('web');
  const worker = service('worker');
  const kv = service('keyvalue');
  t.is(kv.maxmemoryPolicy, 'noeviction', 'BullMQ needs noeviction');
  t.deepEqual(kv.ipAllowList, [], 'internal connections only');
  for (const s of [web, worker]) {
    t.is(s.runtime, 'node');
    t.is(s.buildCommand, 'npm ci --include=dev && npm run build', 'NODE_ENV=production at build time: TypeScript is a dev dependency');
    t.true(s.envVars.some((v: Json) => v.fromGroup === 'orchestrator-settings'), `${s.name} reads the shared group`);
    const redis = s.envVars.find((v: Json) => v.key === 'REDIS_URL');
    t.deepEqual(redis?.fromService, { type: 'keyvalue', name: kv.name, property: 'connectionString' });
    t.true(s.maxShutdownDelaySeconds >= 26, 'longer than the 25 s shutdown bound of our processes');
  }
  t.is(web.startCommand, 'npm run start:web');
  t.is(worker.startCommand, 'npm run start:worker');
  t.true(['/healthz', '/readyz'].includes(web.healthCheckPath));

  const procfile = Object.fromEntries(read('Procfile').trim().split('\n').map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
  t.deepEqual(procfile, { web: web.startCommand, worker: worker.startCommand });

  const pkg = JSON.parse(read('package.json')) as Json;
  t.regex(pkg.engines.node, /^>=\s*24(\.|$)/);
  for (const script of ['build', 'start:web', 'start:worker']) t.truthy(pkg.scripts[script], `npm run ${script} exists`);

  const vars = Object.fromEntries((group('orchestrator-settings').envVars as Json[]).map((v) => [v.key, v]));
  t.is(vars.NODE_ENV?.value, 'production');
  t.is(String(vars.NODE_VERSION?.value), '24');
  t.true(vars.SECRET_KEY?.generateValue, 'one generated SECRET_KEY, shared by web and worker through the group');
  t.true(vars.METRICS_TOKEN?.generateValue);
  for (const key of ['GITHUB_CLIENT_ID', 'GITHUB_CLIENT_SECRET', 'BASE_URL']) t.is(vars[key]?.sync, false, `${key} is asked for, not committed`);
});

test('a value Render generates (base64, 256 bits) is a valid SECRET_KEY and METRICS_TOKEN', (t) => {
  // Render documents generateValue as "a base64-encoded 256-bit value"; accept it with and without
  // padding, and in the URL-safe alphabet, whatever the bytes.
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
    const raw = Buffer.from(bytes);
    for (const text of [raw.toString('base64'), raw.toString('base64').replace(/=+$/, ''), raw.toString('base64url')]) {
      const decoded = decodeSecret(text);
      if (!decoded || !decoded.equals(raw)) return false;
    }
    return true;
  }), { numRuns: 500 });

  // The whole production environment as the Blueprint gives it loads.
  const generated = () => randomBytes(32).toString('base64');
  const config = loadConfig({
    NODE_ENV: 'production', NODE_VERSION: '24', SECRET_KEY: generated(), METRICS_TOKEN: generated(),
    GITHUB_CLIENT_ID: 'Iv1.0123456789abcdef', GITHUB_CLIENT_SECRET: 'f'.repeat(40), BASE_URL: 'https://orchestrator-web.onrender.com',
    REDIS_URL: 'redis://red-abc123def456ghi789:6379', PORT: '10000',
  });
  t.is(config.secretKey.length, 32);
  t.truthy(config.metricsToken);
  t.true(config.httpsOnly);
  t.false(config.sandbox);
});
