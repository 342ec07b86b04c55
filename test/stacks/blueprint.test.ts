/**
 * The linear render.yaml reader (server/stacks/blueprintServices.ts) against the yaml package as the
 * reference: on block-style blueprints it must read exactly the fields yaml reads; on anything it does
 * not support it answers null ("not readable here"), never a different service.
 */
import test from 'ava';
import fc from 'fast-check';
import { parse } from 'yaml';
import { blueprintServices, YAML_BUDGET } from '../../server/stacks/blueprintServices.js';
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

// Pieces of one-line values: what quoting, escapes, comments, numbers and the core schema's words turn on.
const ASCII_PIECES = [
  'a', 'Z', ' ', '  ', '\t', "'", "''", '"', '\\', '\\"', '\\n', '\\x41', '\\u00e9', '\\q', '#', ' #', ':', ': ', '-', '+', '.', ',', ']', '}', '[', '?',
  '0', '1', '7', '9', '0x', '0o', 'e', 'E', 'F', 'inf', 'Inf', 'nan', 'NaN', '.inf', 'null', 'Null', '~', 'true', 'FALSE', 'yes', '_',
];
// Characters JavaScript's trim takes and YAML does not (U+00A0, U+2028, U+FEFF, a lone \r): the reader
// trims a line's ends and a plain value's before its comment so, as it did before reading values itself;
// they are probed inside quotes only.
const OTHER_PIECES = ['\u00e9', '\u00a0', '\u2028', '\u0085', '\ufeff', '\u0001', '\r', '\ud83d\ude80'];
const piecesOf = (pieces: string[]) => fc.array(fc.constantFrom(...pieces), { maxLength: 8 }).map((parts) => parts.join(''));
const AFTER = fc.constantFrom('', ' # note', '\t# note', '#x', ' x', '  ');
// A value as a Blueprint may write it: plain, or quoted (closed or not), then perhaps a comment or more.
const ONE_LINE_VALUE = fc.oneof(
  fc.tuple(piecesOf(ASCII_PIECES), AFTER).map(([body, after]) => `${body}${after}`),
  fc.tuple(fc.constantFrom("'", '"'), piecesOf([...ASCII_PIECES, ...OTHER_PIECES]), fc.constantFrom('', "'", '"'), AFTER)
    .map(([open, body, close, after]) => `${open}${body}${close}${after}`),
);
const yamlTrimmed = (value: string) => value.trim() === value.replace(/^[ \t]+|[ \t]+$/g, '');

test('a one-line value (plain, quoted, numeric) reads as the yaml package reads it, or the file is not read', (t) => {
  let read = 0;
  fc.assert(fc.property(ONE_LINE_VALUE, (value) => {
    if (!yamlTrimmed(value)) return; // a quoted value ending in U+FEFF…, unclosed: as above
    const raw = `services:\n  - type: web\n    name: ${value}\n    runtime: node\n`;
    const expected = reference(raw);
    const got = blueprintServices(raw);
    if (expected === 'error') return t.is(got, null, JSON.stringify(value));
    if (got === null && '[{&*!%@`'.includes(value.trim()[0] ?? '')) return; // not read here, by design
    t.deepEqual(got, expected, JSON.stringify(value));
    read++;
  }), { numRuns: 5_000 });
  t.true(read > 2_000, `read ${read} of 5000 values`);
  // And a few written out: each of these is read without the yaml package (see the next test).
  const cases: Array<[string, unknown]> = [
    ['"a"', 'a'], ["''", ''], ["'it''s'", "it's"], ["''''", "'"], ['"a # b" # c', 'a # b'], ["'x'\t# c", 'x'], ['" a "', ' a '],
    ["'\\n'", '\\n'], ['"caf\u00e9"', 'caf\u00e9'], ['1', 1], ['-0', -0], ['007', 7], ['0o17', 15], ['0x1F', 31], ['1.', 1], ['-.5e3', -500],
    ['.inf', Infinity], ['-.Inf', -Infinity], ['.NaN', NaN], ['+0x1', '+0x1'], ['1_000', '1_000'], ['1.2.3', '1.2.3'], ['2024-01-01', '2024-01-01'],
    ['12:30', '12:30'], ['-x', '-x'], ['.x', '.x'], ['./dist', './dist'], ['?x', '?x'], [':x', ':x'], ['~', null], ['True', true], ['no', 'no'],
  ];
  for (const [value, name] of cases) {
    const raw = `services:\n  - name: ${value}\n`;
    t.deepEqual(reference(raw), [{ name }], `yaml: ${value}`);
    t.deepEqual(blueprintServices(raw), [{ name }], value);
  }
});

/** A services list: `count` entries whose name is `value`, then a web service the reader must find. */
function manyNames(value: string, count: number): string {
  return `services:\n${`  - name: ${value}\n`.repeat(count)}  - type: web\n    runtime: node\n    buildCommand: npm ci\n    startCommand: node a.js\n`;
}

test('a file hands the yaml package only so many values: past its budget it is not read, one-line values never count', (t) => {
  const { values, sourceChars } = YAML_BUDGET;
  // Block scalars, escapes, values over several lines: each is one yaml run, and the file has a budget.
  for (const value of ['|\n      a', '>-\n      a\n      b', '"\\x41"', '"a\n      b"', "'a\n      b'", 'a\n      b']) {
    const within = manyNames(value, values);
    t.deepEqual(blueprintServices(within), reference(within), `${JSON.stringify(value)}: ${values} values are read`);
    t.like(stackFromBlueprint(within), { stack: 'node', startCommand: 'node a.js' });
    // One more, and the file is not read here (detection falls back to the other files), whatever it declares.
    t.is(blueprintServices(manyNames(value, values + 1)), null, `${JSON.stringify(value)}: ${values + 1} values`);
    t.is(stackFromBlueprint(manyNames(value, values + 1)), null);
  }
  // The budget also counts the values' source: a few long block scalars use it up.
  const long = `|\n${'      echo step\n'.repeat(200)}`.trimEnd(); // a 2 KiB value
  // Its source as counted: the lines as written from the key's column (4 in manyNames), with their breaks.
  const source = long.split('\n').reduce((n, line, i) => n + (i === 0 ? line.length : line.length - 4 + 1), 0);
  const fit = Math.floor(sourceChars / source);
  t.true(fit < values);
  t.not(blueprintServices(manyNames(long, fit)), null, `${fit} long values`);
  t.is(blueprintServices(manyNames(long, fit + 1)), null, `${fit + 1} long values`);
  // What a real Blueprint writes on one line (quoted, numbers, words, paths) is read here: far past the
  // budget, the file still reads as the yaml package reads it.
  for (const value of ['"a"', "''", "'it''s'", '"a # b" # c', '1', '-0.5', '0x1F', '.inf', 'true', '~', './dist', '-x', 'api']) {
    const raw = manyNames(value, 4 * values);
    t.deepEqual(blueprintServices(raw), reference(raw), value);
    t.like(stackFromBlueprint(raw), { stack: 'node', startCommand: 'node a.js' }, value);
  }
});

test('the deprecated env: names the runtime as runtime: does, and a number or null is no runtime', (t) => {
  const yaml = (field: string) => `services:\n  - type: worker\n    ${field}\n    buildCommand: pip install .\n    startCommand: python w.py\n`;
  t.like(stackFromBlueprint(yaml('env: python')), { stack: 'python', serviceType: 'background_worker', startCommand: 'python w.py' });
  t.like(stackFromBlueprint(yaml('runtime: python')), { stack: 'python', serviceType: 'background_worker' });
  for (const field of ['runtime: 1', 'env: ~', 'runtime: true', 'runtime: "rust"x']) t.is(stackFromBlueprint(yaml(field)), null, field);
});

// A lone carriage return is a line break to YAML, not to the line reader: the one-line shortcut read
// `-\r- 1` as a string where yaml.parse refuses the file (found by a review). Such values go to yaml.
for (const value of ['-\r- 1', '?\r? a']) {
  test(`a value with a carriage return the yaml package refuses (${JSON.stringify(value)}) makes the file unreadable here too`, (t) => {
    const raw = `services:\n  - type: web\n    runtime: node\n    name: ${value}\n`;
    t.throws(() => parse(raw));
    t.is(blueprintServices(raw), null, `read as ${JSON.stringify(blueprintServices(raw))}`);
  });
}
