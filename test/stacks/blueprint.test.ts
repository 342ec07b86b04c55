/**
 * The linear render.yaml reader (server/stacks/blueprintServices.ts) against the yaml package as the
 * reference: on block-style blueprints it must read exactly the fields yaml reads; on anything it does
 * not support it answers null ("not readable here"), never a different service.
 */
import test from 'ava';
import fc from 'fast-check';
import { parse } from 'yaml';
import { blueprintServices } from '../../server/stacks/blueprintServices.js';
import { stackFromBlueprint } from '../../server/stacks/blueprint.js';

const FIELDS = ['type', 'name', 'runtime', 'env', 'buildCommand', 'startCommand', 'staticPublishPath', 'dockerfilePath'];

/** What the reader should return, computed with the yaml package. */
function reference(raw: string): unknown[] | 'error' {
  let doc: unknown;
  try {
    doc = parse(raw);
  } catch {
    return 'error';
  }
  const services = (doc as { services?: unknown } | null)?.services;
  if (!Array.isArray(services)) return [];
  return services.map((s: unknown) => {
    if (!s || typeof s !== 'object' || Array.isArray(s)) return 'not a mapping';
    return Object.fromEntries(FIELDS.filter((f) => f in s).map((f) => [f, (s as Record<string, unknown>)[f]]));
  });
}

const BLUEPRINTS: Record<string, string> = {
  docs: `# Render blueprint
services:
  - type: web
    name: api
    runtime: node
    plan: starter # the smallest paid plan
    buildCommand: npm ci && npm run build
    startCommand: "node dist/server.js"
    envVars:
      - key: NODE_ENV
        value: production
      - key: DATABASE_URL
        fromDatabase:
          name: db
          property: connectionString
  - type: worker
    name: jobs
    runtime: python
    buildCommand: 'pip install -r requirements.txt'
    startCommand: celery -A app worker
databases:
  - name: db
`,
  compact: 'services:\n- type: web\n  name: site\n  runtime: static\n  buildCommand: npm run build\n  staticPublishPath: ./dist\nenvVarGroups:\n- name: shared\n  envVars:\n  - key: A\n    value: b\n',
  blockScalars: 'services:\n  - type: web\n    runtime: ruby\n    buildCommand: |\n      bundle install\n\n      bundle exec rake assets:precompile\n    startCommand: >-\n      bundle exec puma\n      -C config/puma.rb\n',
  dashAlone: 'services:\n  -\n    type: web\n    runtime: go\n    buildCommand: go build -o app\n    startCommand: ./app\n',
  quoting: "services:\n  - type: \"web\"\n    runtime: node\n    buildCommand: 'it''s fine'\n    startCommand: \"node \\\"a b\\\".js\" # quoted\n",
  multiLinePlain: 'services:\n  - type: web\n    runtime: node\n    buildCommand: npm ci &&\n      npm run build\n    startCommand: npm start\n',
  crlf: 'services:\r\n  - type: web\r\n    runtime: node\r\n    buildCommand: npm ci\r\n    startCommand: npm start\r\n',
  numbersAndNulls: 'services:\n  - type: web\n    name: 2024\n    runtime: node\n    buildCommand: ~\n    startCommand: true\n  - type: web\n    runtime: node\n    buildCommand: npm ci\n    startCommand: npm start\n',
  scalarItems: 'services:\n  - web\n  - type: web\n    runtime: elixir\n    buildCommand: mix release\n    startCommand: _build/prod/rel/app/bin/app start\n',
  docStart: '---\nservices:\n  - type: web\n    runtime: docker\n    dockerfilePath: ./docker/Dockerfile\n',
};

test('reads the same fields as the yaml package on block-style blueprints', (t) => {
  for (const [name, raw] of Object.entries(BLUEPRINTS)) {
    const expected = reference(raw);
    t.not(expected, 'error', `${name} is valid YAML`);
    t.deepEqual(blueprintServices(raw), expected, name);
  }
  t.like(stackFromBlueprint(BLUEPRINTS.docs!), { stack: 'node', startCommand: 'node dist/server.js', buildCommand: 'npm ci && npm run build' });
  t.like(stackFromBlueprint(BLUEPRINTS.blockScalars!), { stack: 'ruby', buildCommand: 'bundle install\n\nbundle exec rake assets:precompile\n', startCommand: 'bundle exec puma -C config/puma.rb' });
  t.like(stackFromBlueprint(BLUEPRINTS.numbersAndNulls!), { stack: 'node', buildCommand: 'npm ci' });
  t.like(stackFromBlueprint(BLUEPRINTS.docStart!), { stack: 'docker', dockerfilePath: './docker/Dockerfile' });
});

test('what it does not read is null, never a guess', (t) => {
  const unsupported = [
    'services: [{type: web, runtime: node, buildCommand: a, startCommand: b}]',
    'x: &x\n  type: web\nservices:\n  - <<: *x\n    runtime: node\n',
    'services:\n  - type: web\n    runtime: *rt\n',
    'services:\n  - type: web\n    type: worker\n',
    'services:\n  - type: web\nservices:\n  - type: web\n',
    'services:\n  - type: web\n---\nservices: []\n',
    'services:\n\t- type: web\n',
    'services:\n  - type: web\n    startCommand:\n      - not a string\n',
    'services:\n  - type: web\n    buildCommand: "never closes\n',
    `services:\n  - type: web\n    name: ${'x'.repeat(5000)}\n`,
    'services:\n  type: web\n',
  ];
  for (const raw of unsupported) t.is(blueprintServices(raw), null, raw);
});

// Lines a blueprint may hold, at the indentation they need; fast-check glues random sequences of them.
const LINE = fc.constantFrom(
  'services:', 'databases:', '  - type: web', '  - type: worker', '  - web', '  -', '    type: web', '    runtime: node', '    runtime: 12',
  "    buildCommand: 'npm ci'", '    buildCommand: npm ci # c', '    startCommand: "npm start"', '    startCommand: |', '      npm start', '',
  '    envVars:', '      - key: A', '        value: b', '    name: x: y', '# comment', '  - name: db', '- type: web', '  runtime: go',
  '    startCommand: >', '    plan: free', '    name: ~', '    dockerfilePath: ./Dockerfile',
  '    startCommand: npm start\t# c', '    buildCommand: ]x', '    name: a:\tb', '    runtime: "node" # q', "    name: 'it''s'",
);

test('on random block-style documents: the yaml package\'s answer, or null', (t) => {
  let read = 0;
  fc.assert(fc.property(fc.array(LINE, { maxLength: 14 }), (lines) => {
    const raw = `${lines.join('\n')}\n`;
    const expected = reference(raw);
    const got = blueprintServices(raw);
    if (got === null) return;
    read++;
    if (expected === 'error') return; // invalid elsewhere: Render's validation reports it
    t.deepEqual(got, expected, JSON.stringify(raw));
  }), { numRuns: 3_000 });
  t.true(read > 1_000, `read ${read} of 3000 documents`);
});

test('a service name with control characters or bidirectional overrides is not quoted in the reason', (t) => {
  const yaml = (name: string) => `services:\n  - type: web\n    name: ${name}\n    runtime: node\n    buildCommand: npm ci\n    startCommand: node a.js\n`;
  t.is(stackFromBlueprint(yaml('shop-web'))?.reason, 'render.yaml declares the node web service "shop-web".');
  for (const name of ['"a\\u001b[31mred"', '"two\\nlines"', '"evil\\u202Egnp.exe"', '"x\\u2066y"', '"bell\\u0007"']) {
    t.is(stackFromBlueprint(yaml(name))?.reason, 'render.yaml declares the node web service.', name);
  }
});

test('a service\'s rootDir is read as Render takes it, and one outside the repository is refused', (t) => {
  const yaml = (dir: string) => `services:\n  - type: web\n    name: api\n    runtime: node\n    rootDir: ${dir}\n    buildCommand: npm ci\n    startCommand: npm start\n`;
  t.is(stackFromBlueprint(yaml('apps/api'))?.rootDir, 'apps/api');
  t.is(stackFromBlueprint(yaml('./apps/api/'))?.rootDir, 'apps/api');
  t.is(stackFromBlueprint(yaml('.'))?.rootDir, undefined);
  t.regex(stackFromBlueprint(yaml('apps/api'))!.reason, /"api" in apps\/api\//);
  for (const bad of ['../elsewhere', '/etc', 'apps/../../x']) {
    t.throws(() => stackFromBlueprint(yaml(bad)), { message: /is not a directory inside the repository/ }, bad);
  }
});
