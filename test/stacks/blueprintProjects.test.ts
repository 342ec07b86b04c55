/**
 * Services a render.yaml declares under projects → environments → services and under ungrouped → services
 * (spec/render.yaml.json: `projects[].environments[]` and `ungrouped` hold the same resources as the root;
 * Render's tutorial https://render.com/tutorials/advanced-blueprint-patterns/projects-and-environments).
 * Unread, a repository whose render.yaml groups its services was deployed from its other files, as if it
 * declared none. The linear reader (server/stacks/blueprintServices.ts) reads them in document order, as
 * the yaml package does, or answers null.
 */
import test from 'ava';
import fc from 'fast-check';
import { parse } from 'yaml';
import { blueprintServices } from '../../server/stacks/blueprintServices.js';
import { isEmptyBlueprint, stackFromBlueprint } from '../../server/stacks/blueprint.js';
import { detectStack, type RepoFiles } from '../../server/stacks/detect.js';

const FIELDS = ['type', 'name', 'runtime', 'buildCommand', 'startCommand'];

/** Every services entry in document order, as the yaml package reads the file (the reference). */
function reference(raw: string): unknown[] | 'error' {
  let doc: unknown;
  try {
    doc = parse(raw);
  } catch {
    return 'error';
  }
  const out: unknown[] = [];
  const isMap = (v: unknown): v is Record<string, unknown> => Boolean(v) && typeof v === 'object' && !Array.isArray(v);
  const services = (list: unknown) => {
    if (!Array.isArray(list)) return;
    for (const s of list) out.push(isMap(s) ? Object.fromEntries(FIELDS.filter((f) => f in s).map((f) => [f, s[f]])) : 'not a mapping');
  };
  if (!isMap(doc)) return out;
  for (const [key, value] of Object.entries(doc)) {
    if (key === 'services') services(value);
    if (key === 'ungrouped' && isMap(value)) services(value.services);
    if (key === 'projects' && Array.isArray(value)) {
      for (const p of value) {
        if (!isMap(p) || !Array.isArray(p.environments)) continue;
        for (const e of p.environments) if (isMap(e)) services(e.services);
      }
    }
  }
  return out;
}

/** Render's tutorial file: one project, production and staging environments, each with its web service. */
const TUTORIAL = `projects:
- name: my-app
  environments:
  - name: production
    databases:
    - name: app-db
      plan: basic-256mb
    services:
    - type: web
      name: api
      runtime: node
      plan: standard
      buildCommand: npm ci && npm run build
      startCommand: npm start
      envVars:
      - key: DATABASE_URL
        fromDatabase:
          name: app-db
          property: connectionString
  - name: staging
    services:
    - type: web
      name: api-staging
      runtime: node
      plan: starter
      buildCommand: npm ci && npm run build
      startCommand: npm run start:staging
`;

const UNGROUPED = `ungrouped:
  envVarGroups:
    - name: shared
  services:
    - type: worker
      name: jobs
      runtime: python
      buildCommand: pip install -r requirements.txt
      startCommand: celery -A app worker
`;

const INDENTED = `version: "1"
projects:
  - name: shop
    environments:
      - name: prod
        networking:
          isolation: enabled
        services:
          - type: pserv
            name: internal
            runtime: go
            buildCommand: go build -o app
            startCommand: ./app
      -
        name: empty
      - name: none
        services: []
  - name: other
    environments: []
services:
  - type: web
    name: root
    runtime: ruby
    buildCommand: bundle install
    startCommand: bundle exec puma
`;

test('services under projects → environments and under ungrouped are read, in document order, as the yaml package reads them', (t) => {
  for (const [name, raw] of Object.entries({ TUTORIAL, UNGROUPED, INDENTED })) {
    const expected = reference(raw);
    t.not(expected, 'error', `${name} is valid YAML`);
    t.true((expected as unknown[]).length > 0, name);
    t.deepEqual(blueprintServices(raw), expected, name);
  }
  t.deepEqual((blueprintServices(INDENTED) ?? []).map((s) => (s as { name: string }).name), ['internal', 'root'], 'the project\'s service first, where the file puts it');
});

test('the first deployable service of a projects-form render.yaml is the one detected', (t) => {
  t.like(stackFromBlueprint(TUTORIAL), { stack: 'node', serviceType: 'web_service', startCommand: 'npm start', reason: 'render.yaml declares the node web service "api". Its envVars and plan in render.yaml are not applied by this deploy (Deploy as Blueprint applies the whole file).' });
  t.like(stackFromBlueprint(UNGROUPED), { stack: 'python', serviceType: 'background_worker', startCommand: 'celery -A app worker' });
  t.like(stackFromBlueprint(INDENTED), { stack: 'go', serviceType: 'private_service', startCommand: './app' });
});

test('detection of a repository whose render.yaml groups its services in a project deploys the Blueprint\'s service, not its other files', async (t) => {
  const files = (yaml: string): RepoFiles => ({
    list: ['package.json', 'render.yaml'], dirs: [],
    read: async (p) => (p === 'render.yaml' ? yaml : p === 'package.json' ? '{"scripts":{"start":"node index.js"}}' : null),
  });
  const found = await detectStack(files(TUTORIAL), { repo: 'acme/app' });
  t.like(found, { stack: 'node', startCommand: 'npm start', buildCommand: 'npm ci && npm run build' });
  t.regex(found.reason, /^render\.yaml declares the node web service "api"\./);
  t.is(found.blueprint, TUTORIAL);
  const worker = await detectStack(files(UNGROUPED), { repo: 'acme/app' });
  t.like(worker, { stack: 'python', serviceType: 'background_worker', startCommand: 'celery -A app worker' });
  // Another repository's service in an environment is skipped there as at the root.
  const theirs = TUTORIAL.replace('      plan: standard\n', '      plan: standard\n      repo: https://github.com/someone/else\n');
  t.like(await detectStack(files(theirs), { repo: 'acme/app' }), { startCommand: 'npm run start:staging' });
});

test('a projects or ungrouped shape the reader cannot read plainly is null, never a guess', (t) => {
  const web = '          - type: web\n            runtime: node\n            buildCommand: a\n            startCommand: b\n';
  const unsupported = [
    `projects:\n  - name: p\n    environments:\n      - name: e\n        services:\n${web}        services:\n${web}`, // duplicate key
    `projects:\n  - name: p\n    environments:\n      - name: e\n        name: f\n        services:\n${web}`,
    `projects:\n  - name: p\n    environments:\n    environments: []\n`,
    'projects: [{name: p, environments: [{name: e, services: [{type: web}]}]}]\n',
    'projects:\n  - name: p\n    environments: [{name: e}]\n',
    'projects:\n  - name: p\n    environments:\n      - name: e\n        services: {}\n',
    'projects:\n  - just a name\n',
    'projects:\n  - - nested\n',
    'projects:\n  name: p\n',
    'ungrouped:\n  - services: []\n',
    'ungrouped: services\n',
    'ungrouped:\n  services:\n    - type: web\n   x: 1\n', // under-indented: not the services' nor ungrouped's
    'projects:\n  - name: p\n    environments:\n      - name: e\n     x: 1\n',
    'projects:\n  - name: p\n    environments:\n      - name: e\n        services:\n          type: web\n',
    'projects:\n  - name: p\n    environments:\n      - name: e\n        <<: *x\n',
    'projects:\n  - &p\n    name: p\n',
  ];
  for (const raw of unsupported) t.is(blueprintServices(raw), null, raw);
});

// Pieces of a grouped blueprint (whole levels, and single lines at the indentation they need); fast-check
// glues random sequences of them.
const LINE = fc.constantFrom(
  'projects:\n- name: p\n  environments:\n  - name: e\n    services:', '  - name: e2\n    services:', '- name: p2\n  environments:',
  '    - type: web\n      runtime: node\n      buildCommand: npm ci\n      startCommand: npm start', 'ungrouped:\n  services:',
  '  - type: worker\n    name: w\n    runtime: go\n    buildCommand: b\n    startCommand: s', 'services:\n- type: web\n  runtime: ruby',
  'projects:', 'ungrouped:', 'services:', 'databases:', '- name: p', '  environments:', '  - name: e', '    services:', '    - type: web',
  '      runtime: node', '      buildCommand: npm ci', '    databases:', '    - name: db', '  -', '    name: e2',
  '  services:', '    - type: worker', '      name: w', '  - type: web', '    runtime: go', '    networking:', '      isolation: enabled', '',
  '# comment', '  name: p2', '    -', '      type: web', '  services: []', '  environments: []', '      envVars:', '      - key: A', '        value: b',
  '      startCommand: |', '        npm start', '- web', '    - x', '      - y',
);

test('on random grouped documents: the yaml package\'s answer, or null', (t) => {
  let read = 0;
  let nonEmpty = 0;
  fc.assert(fc.property(fc.array(LINE, { maxLength: 16 }), (lines) => {
    const raw = `${lines.join('\n')}\n`;
    const expected = reference(raw);
    const got = blueprintServices(raw);
    if (got === null) return;
    read++;
    if (expected === 'error') return; // invalid elsewhere: Render's validation reports it
    if (got.length > 0) nonEmpty++;
    t.deepEqual(got, expected, JSON.stringify(raw));
  }), { numRuns: 4_000 });
  t.true(read > 1_000, `read ${read} of 4000 documents`);
  t.true(nonEmpty > 20, `${nonEmpty} documents with services`);
});

/** A service entry at column `col` ("-" there), in the style given: a mapping, a scalar, or null. */
function serviceLines(kind: number, col: number, step: number, i: number): string[] {
  const pad = ' '.repeat(col);
  const inner = ' '.repeat(col + step);
  if (kind === 0) return [`${pad}- web`];
  if (kind === 1) return [`${pad}-`];
  const keys = [`type: ${kind === 2 ? 'worker' : 'web'}`, `name: s${i}`, 'runtime: node', 'buildCommand: npm ci', `startCommand: node s${i}.js`];
  const lines = [`${pad}-${' '.repeat(step - 1)}${keys[0]}`, ...keys.slice(1).map((k) => `${inner}${k}`)];
  if (kind === 4) lines.push(`${inner}envVars:`, `${inner}${step === 2 ? '' : '  '}- key: A`, `${inner}${step === 2 ? '  ' : '    '}value: b`);
  return lines;
}

const service = fc.integer({ min: 0, max: 4 });
const environment = fc.record({ services: fc.option(fc.array(service, { maxLength: 3 })), extra: fc.boolean() });
const project = fc.record({ environments: fc.option(fc.array(environment, { maxLength: 3 })) });
const document = fc.record({
  order: fc.shuffledSubarray(['services', 'projects', 'ungrouped', 'databases'] as const),
  root: fc.array(service, { maxLength: 3 }), projects: fc.array(project, { maxLength: 3 }), ungrouped: fc.option(fc.array(service, { maxLength: 3 })),
  step: fc.constantFrom(2, 4), compact: fc.boolean(),
});

/** The document as YAML: `compact` puts each sequence's "-" at its key's column, as Render's tutorial does. */
function render(d: typeof document extends fc.Arbitrary<infer T> ? T : never): string {
  const { step } = d;
  const seqCol = (keyCol: number) => (d.compact ? keyCol : keyCol + step);
  let n = 0;
  const services = (list: number[] | null, keyCol: number, out: string[]) => {
    if (list === null) return;
    if (list.length === 0) { out[out.length - 1] += ' []'; return; }
    for (const kind of list) out.push(...serviceLines(kind, seqCol(keyCol), step, n++));
  };
  const out: string[] = [];
  for (const key of d.order) {
    out.push(`${key}:`);
    if (key === 'services') services(d.root, 0, out);
    if (key === 'databases') out.push(`${' '.repeat(seqCol(0))}- name: db`);
    if (key === 'ungrouped' && d.ungrouped !== null) { out.push(`${' '.repeat(step)}services:`); services(d.ungrouped, step, out); }
    if (key === 'projects') {
      if (d.projects.length === 0) { out[out.length - 1] += ' []'; continue; }
      d.projects.forEach((p, pi) => {
        const pCol = seqCol(0);
        out.push(`${' '.repeat(pCol)}-${' '.repeat(step - 1)}name: p${pi}`, `${' '.repeat(pCol + step)}environments:`);
        if (p.environments === null) return;
        if (p.environments.length === 0) { out[out.length - 1] += ' []'; return; }
        p.environments.forEach((e, ei) => {
          const eCol = seqCol(pCol + step);
          const key = ' '.repeat(eCol + step);
          out.push(`${' '.repeat(eCol)}-${' '.repeat(step - 1)}name: e${ei}`);
          if (e.extra) out.push(`${key}networking:`, `${key}${' '.repeat(step)}isolation: enabled`, `${key}databases:`, `${' '.repeat(seqCol(eCol + step))}- name: db${ei}`);
          if (e.services !== null) { out.push(`${key}services:`); services(e.services, eCol + step, out); }
        });
      });
    }
  }
  return `${out.join('\n')}\n`;
}

test('on random well-formed grouped documents (indented or compact): exactly the yaml package\'s answer', (t) => {
  let withServices = 0;
  fc.assert(fc.property(document, (d) => {
    const raw = render(d);
    const expected = reference(raw);
    t.not(expected, 'error', raw);
    if ((expected as unknown[]).length > 0) withServices++;
    t.deepEqual(blueprintServices(raw), expected, raw);
  }), { numRuns: 1_000 });
  t.true(withServices > 500, `${withServices} documents with services`);
});

test('an empty render.yaml is blank lines, spaces, tabs and comments (a byte-order mark first), as YAML counts them', (t) => {
  for (const raw of ['', '\n', ' \t\r\n', '# a\n  # b\r\n\t# c', '\uFEFF# Blueprint\n', '#']) {
    t.true(isEmptyBlueprint(raw), JSON.stringify(raw));
    t.is(parse(raw), null, `${JSON.stringify(raw)} is an empty document to the yaml package too`);
  }
  for (const raw of ['services:', '# a\nx', '\u00A0', 'a # b', '---', '\n \n-', '"#"']) {
    t.false(isEmptyBlueprint(raw), JSON.stringify(raw));
  }
});
