import test from 'ava';
import { startRenderSimulator } from '../../sandbox/render/index.js';

// POST /blueprints/validate: multipart upload, YAML + Blueprint JSON Schema validation, plan summary.

async function setup() {
  const sim = await startRenderSimulator();
  const account = sim.addAccount({ apiKey: 'rnd_bp' });
  const validate = async (yaml: string | null, ownerId: string | null = account.ownerId, key = 'rnd_bp') => {
    const form = new FormData();
    if (ownerId) form.set('ownerId', ownerId);
    if (yaml !== null) form.set('file', new Blob([yaml], { type: 'application/x-yaml' }), 'render.yaml');
    const res = await fetch(`${sim.url}/blueprints/validate`, { method: 'POST', headers: { Authorization: `Bearer ${key}` }, body: form });
    return { status: res.status, body: (await res.json()) as { valid?: boolean; errors?: Array<{ path?: string; error: string; line?: number; column?: number }>; plan?: Record<string, unknown>; message?: string } };
  };
  return { sim, account, validate };
}

const ORCHESTRATOR_YAML = `
services:
  - type: web
    name: orchestrator-web
    runtime: node
    plan: starter
    buildCommand: npm ci && npm run build
    startCommand: npm run start:web
    envVars:
      - key: REDIS_URL
        fromService:
          type: keyvalue
          name: orchestrator-kv
          property: connectionString
      - key: SECRET_KEY
        generateValue: true
  - type: worker
    name: orchestrator-worker
    runtime: node
    buildCommand: npm ci && npm run build
    startCommand: npm run start:worker
  - type: keyvalue
    name: orchestrator-kv
    ipAllowList: []
    maxmemoryPolicy: noeviction
  - type: web
    name: docs
    runtime: static
    buildCommand: npm run docs
    staticPublishPath: ./site
databases:
  - name: main-db
envVarGroups:
  - name: shared
    envVars:
      - key: LOG_LEVEL
        value: info
`;

test('a valid Blueprint answers valid with a plan', async (t) => {
  const { sim, validate } = await setup();
  t.teardown(() => sim.close());
  const { status, body } = await validate(ORCHESTRATOR_YAML);
  t.is(status, 200);
  t.true(body.valid, JSON.stringify(body.errors));
  t.deepEqual(body.plan, {
    services: ['orchestrator-web', 'orchestrator-worker', 'docs'],
    databases: ['main-db'],
    keyValue: ['orchestrator-kv'],
    envGroups: ['shared'],
    totalActions: 6,
  });
});

test('schema errors come with a path, a message and a 1-based line and column', async (t) => {
  const { sim, validate } = await setup();
  t.teardown(() => sim.close());
  const yaml = [
    'services:',
    '  - type: web',
    '    name: app',
    '    runtime: cobol',
    '    buildCommand: make',
    '    startCommand: ./app',
    '    plann: starter',
    '  - type: keyvalue',
    '    name: app',
    '    ipAllowList: []',
    '    maxmemoryPolicy: forget-everything',
  ].join('\n');
  const { status, body } = await validate(yaml);
  t.is(status, 200);
  t.false(body.valid);
  t.is(body.plan, undefined);
  const byPath = new Map(body.errors?.map((e) => [e.path, e]));
  t.like(byPath.get('services[0].runtime'), { line: 4, column: 5 });
  t.like(byPath.get('services[0].plann'), { line: 7, column: 5 });
  t.like(byPath.get('services[1].maxmemoryPolicy'), { line: 11, column: 5 });
  t.like(byPath.get('services[1].name'), { line: 9 });
  t.regex(byPath.get('services[1].name')?.error ?? '', /duplicate/);
});

test('YAML syntax errors and non-mapping documents are invalid, not 500s', async (t) => {
  const { sim, validate } = await setup();
  t.teardown(() => sim.close());
  const syntax = await validate('services:\n  - type: web\n   name: x: y\n');
  t.is(syntax.status, 200);
  t.false(syntax.body.valid);
  t.true((syntax.body.errors?.[0]?.line ?? 0) >= 1);
  t.false((await validate('- just\n- a list\n')).body.valid);
  t.false((await validate('version: "2"\n')).body.valid);
});

test('ownerId and file are required; the owner must be the caller\'s; multipart only', async (t) => {
  const { sim, validate } = await setup();
  t.teardown(() => sim.close());
  t.is((await validate(ORCHESTRATOR_YAML, null)).status, 400);
  t.is((await validate(null)).status, 400);
  t.is((await validate(ORCHESTRATOR_YAML, 'tea-zzzzzzzzzzzzzzzzzzzz')).status, 400);
  t.is((await validate(ORCHESTRATOR_YAML, undefined, 'rnd_unknown')).status, 401);
  const json = await fetch(`${sim.url}/blueprints/validate`, { method: 'POST', headers: { Authorization: 'Bearer rnd_bp', 'Content-Type': 'application/json' }, body: '{}' });
  t.is(json.status, 400);
});

test('hostile files are invalid Blueprints, never 500s: an alias bomb, a key written twice, a file over the simulator\'s 1 MiB', async (t) => {
  const { sim, validate } = await setup();
  t.teardown(() => sim.close());
  let bomb = ORCHESTRATOR_YAML + 'bomb0: &a0 [x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 9; i++) bomb += `bomb${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(', ')}]\n`;
  const aliases = await validate(bomb);
  t.is(aliases.status, 200);
  t.false(aliases.body.valid);
  t.regex(aliases.body.errors?.[0]?.error ?? '', /alias/);
  const twice = await validate('services: []\nversion: "1"\nversion: "1"\n');
  t.is(twice.status, 200);
  t.false(twice.body.valid);
  t.like(twice.body.errors?.[0], { error: 'YAML syntax error: Map keys must be unique', line: 3, column: 1 });
  const large = await validate(`${ORCHESTRATOR_YAML}# ${'x'.repeat(1024 * 1024)}\n`);
  t.is(large.status, 200);
  t.false(large.body.valid);
  t.regex(large.body.errors?.[0]?.error ?? '', /larger than the simulator reads/);
});

test('a large Blueprint is judged without holding up the event loop: the simulator (and whatever shares its process) answers other calls meanwhile', async (t) => {
  // Render is another machine: however long it takes over a file, its client's process goes on. The
  // simulator shares a process with the worker in tests and sandbox mode, where a validation judged in one
  // go (~0.4-1 s of CPU for 256 KiB, up to ten seconds under load) let the worker's job locks lapse.
  const { sim, validate } = await setup();
  t.teardown(() => sim.close());
  // The first service with thousands of unknown fields: 256 KiB, what the orchestrator sends at most.
  let fields = '';
  for (let i = 0; fields.length < 256 * 1024 - ORCHESTRATOR_YAML.length; i++) fields += `    field${i}: v\n`;
  const huge = ORCHESTRATOR_YAML.replace('    plan: starter\n', `    plan: starter\n${fields}`);
  const order: string[] = [];
  const hold = sim.holdRequest({ method: 'POST', route: '/blueprints/validate' });
  const judged = validate(huge).then((r) => { order.push('validate'); return r; });
  await hold.arrived;
  hold.release();
  const owners = await fetch(`${sim.url}/owners`, { headers: { Authorization: 'Bearer rnd_bp' } });
  order.push('owners');
  t.is(owners.status, 200);
  const { status, body } = await judged;
  t.is(status, 200);
  t.false(body.valid);
  t.regex(body.errors?.[0]?.error ?? '', /unknown field "field\d+"/);
  t.deepEqual(order, ['owners', 'validate'], 'the validation held nothing up');
});
