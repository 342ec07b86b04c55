/**
 * Hostile repository files at the 256 KiB read limit, shared by test/security/adversarial-files.test.ts
 * and the bench's "stack detection, worst adversarial 256 KiB file" row. Each case names the files a
 * repository root holds and what detection must answer for it: every case is a real repository shape
 * (a manifest the detector reads) padded with the input that made a backtracking parser stall.
 */
import type { DetectedStack } from '../../server/stacks/detect.js';
import { YAML_BUDGET } from '../../server/stacks/blueprintServices.js';
import { MAX_SETTINGS_FILES } from '../../server/stacks/python.js';

/** The GitHub client refuses files above this; every padded file here is exactly this long (ASCII). */
export const LIMIT = 256 * 1024;

interface AdversarialCase {
  name: string;
  files: Record<string, string>;
  /** Fields the detected stack must have, or the message the StackDetectionError must match. */
  expect: Partial<DetectedStack> | { error: RegExp };
}

/**
 * `head`, then `pad` characters, then whole `unit`s, then `tail`: exactly LIMIT characters. The pad
 * (default a space) makes up what whole units cannot, so every unit stays intact (valid JSON, YAML).
 */
export function fill(head: string, unit: string, tail = '', pad = ' '): string {
  const room = LIMIT - head.length - tail.length;
  if (room < 0) throw new Error('fill: head and tail exceed the limit');
  const units = Math.floor(room / unit.length);
  return head + pad.repeat(room - units * unit.length) + unit.repeat(units) + tail;
}

const startScript = JSON.stringify({ scripts: { start: 'node server.js' } });

/** A SvelteKit app and an Astro app with its Node adapter, with no start script: their configs decide. */
const svelteKitPackage = JSON.stringify({ scripts: { build: 'vite build' }, devDependencies: { '@sveltejs/kit': '^2', '@sveltejs/adapter-node': '^5', vite: '^5' } });
const astroNodePackage = JSON.stringify({ scripts: { build: 'astro build' }, dependencies: { astro: '^4', '@astrojs/node': '^8' } });

/** A Django project with WhiteNoise whose settings are a package (mysite/settings/prod.py and the rest). */
const djangoPackage = { 'requirements.txt': 'django\ngunicorn\nwhitenoise\n', 'manage.py': "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings.prod')\n" };
/** Nuxt's starter, with nuxt dev as its start script: the build, nuxt build, decides. */
const nuxtPackage = JSON.stringify({ scripts: { start: 'nuxt dev', build: 'nuxt build' }, dependencies: { nuxt: '^3.13.0' } });

/** YAML "billion laughs": each level aliases the previous one ten times. */
function billionLaughs(): string {
  let doc = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
  for (let i = 1; i <= 9; i++) doc += `a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(',')}]\n`;
  return fill(`${doc}services:\n  - type: web\n    runtime: node\n    buildCommand: npm ci\n    startCommand: node lol.js\n    x: *a9\n`, '#');
}

/** One alias used as often as fits: every use re-expands the anchored collection. */
function aliasFlood(): string {
  const head = 'x: &x [' + Array.from({ length: 2_000 }, () => '"lol"').join(',') + ']\ny: [';
  return fill(head, '*x,', '*x]\n');
}

/** A python web service in a grouped services list whose "-" is at column `col`. */
function groupedWeb(col: number): string {
  const key = ' '.repeat(col + 2);
  return `${' '.repeat(col)}- type: web\n${key}name: grouped\n${key}runtime: python\n${key}buildCommand: pip install .\n${key}startCommand: gunicorn app:app\n`;
}
/** groupedWeb at column 4: an environment's services, compact ("-" at the key's column). */
const GROUPED_WEB = groupedWeb(4);
const GROUPED_EXPECT = { stack: 'python', startCommand: 'gunicorn app:app', reason: 'render.yaml declares the python web service "grouped".' } as const;

/** A web service whose startCommand is a block scalar: what follows it, more indented, is its text. */
const BLOCK_HEAD = 'services:\n  - type: web\n    runtime: node\n    buildCommand: npm ci\n    startCommand: |\n      node a.js\n';

export const ADVERSARIAL_CASES: AdversarialCase[] = [
  // The two stalls the issue reported, at full size.
  { name: 'Procfile: one 256 KiB web: line that never ends cleanly', files: { Procfile: fill('web: a', ' ', '\rx'), 'package.json': startScript }, expect: { error: /Procfile web: line is longer than/ } },
  { name: 'Procfile: 256 KiB of whitespace on one line', files: { Procfile: fill('', ' \t'), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  { name: 'Procfile: 256 KiB of blank lines, web: last', files: { Procfile: fill('', '\n', '\nweb: node web.js\n'), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'node web.js' } },
  // The name everywhere: on one line, and starting every line (each such line is read whole).
  { name: 'Procfile: web repeated on one 256 KiB line', files: { Procfile: fill('', 'web'), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  { name: 'Procfile: 256 KiB of "web x" lines, web: last', files: { Procfile: fill('', 'web x\n', '\nweb: node web.js\n'), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'node web.js' } },
  { name: 'Procfile: a long worker line does not hide web:', files: { Procfile: fill('worker: ', 'x', '\nweb: bin/web\n'), 'package.json': startScript }, expect: { startCommand: 'bin/web' } },
  { name: 'Gemfile: 256 KiB of blank lines', files: { Gemfile: fill('', '\n') }, expect: { stack: 'ruby', startCommand: 'bundle exec puma' } },
  { name: 'Gemfile: one line of spaces, then rails', files: { Gemfile: fill('', ' ', '\ngem "rails", "~> 8.0"\n') }, expect: { stack: 'ruby', startCommand: 'bundle exec puma -C config/puma.rb' } },
  { name: 'Gemfile: gem with whitespace and no quote, repeated', files: { Gemfile: fill('', 'gem \t \n', "gem 'puma'\n") }, expect: { stack: 'ruby', startCommand: 'bundle exec puma' } },
  // JSON.
  { name: 'package.json: 128 Ki nested brackets', files: { 'package.json': `{"scripts":{"start":"node ."},"x":${'['.repeat(LIMIT / 2 - 20)}${']'.repeat(LIMIT / 2 - 20)}}`.padEnd(LIMIT, ' ') }, expect: { stack: 'node', startCommand: 'npm start' } },
  { name: 'package.json: thousands of dependencies, build only', files: { 'package.json': fill('{"scripts":{"build":"vite build"},"dependencies":{', '"d0000000":"1",', '"vite":"7"}}'), 'index.html': '' }, expect: { stack: 'static', publishPath: 'dist' } },
  { name: 'package.json: dependencies as a huge array', files: { 'package.json': fill('{"scripts":{"build":"x"},"dependencies":[', '0,', '0]}') }, expect: { stack: 'static', publishPath: 'dist' } },
  { name: 'package.json: a 256 KiB "main"', files: { 'package.json': fill('{"main":"', 'a', '"}') }, expect: { error: /no start script/ } },
  { name: 'package.json: unclosed brackets', files: { 'package.json': fill('', '[{') }, expect: { error: /package\.json is not valid JSON/ } },
  // Python.
  { name: 'requirements.txt: names glued together', files: { 'requirements.txt': fill('', 'djangofastapigunicorn'), 'app.py': '' }, expect: { stack: 'python', startCommand: 'gunicorn app:app' } },
  { name: 'requirements.txt: blank lines, fastapi last', files: { 'requirements.txt': fill('', '\r\n', '\nfastapi\nuvicorn\n'), 'main.py': '' }, expect: { startCommand: 'uvicorn main:app --host 0.0.0.0 --port $PORT' } },
  // Each `fastapi[` before one far `]`: copying the extras from each occurrence took seconds (python.ts MAX_EXTRAS_CHARS).
  { name: 'requirements.txt: fastapi[ repeated before a far ]', files: { 'requirements.txt': fill('fastapi\n', `${'fastapi['.repeat(256)}${','.repeat(2_040)}]\n`), 'main.py': '' }, expect: { stack: 'python', startCommand: 'uvicorn main:app --host 0.0.0.0 --port $PORT' } },
  { name: 'pyproject.toml: huge TOML, poetry last', files: { 'pyproject.toml': fill('[project]\nname = "x"\n', '[tool.x]\nk = "v"\n', '[tool.poetry]\nname = "x"\n'), 'main.py': '' }, expect: { buildCommand: 'poetry install --no-root' } },
  { name: 'manage.py: settings module name never closes', files: { 'requirements.txt': 'django\ngunicorn\n', 'manage.py': fill('', "'DJANGO_SETTINGS_MODULE' ,  '", "\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n") }, expect: { startCommand: 'gunicorn mysite.wsgi:application' } },
  { name: 'manage.py: whitespace after the key', files: { 'requirements.txt': 'django\n', 'manage.py': fill('"DJANGO_SETTINGS_MODULE"', ' \n') }, expect: { startCommand: 'gunicorn config.wsgi:application' } },
  // Poetry's inline tables: `extras = [` after every comma of a fastapi table, each list looked for only so far (python.ts MAX_EXTRAS_CHARS).
  { name: 'pyproject.toml: fastapi tables of unclosed extras lists, the real one last', files: { 'pyproject.toml': fill('[tool.poetry]\nname = "x"\n[tool.poetry.dependencies]\n', `fastapi = {${', extras = ['.repeat(300)}\n`, 'fastapi = {extras = ["standard"], version = "*"}\n'), 'main.py': '' }, expect: { buildCommand: 'poetry install --no-root', startCommand: 'poetry run uvicorn main:app --host 0.0.0.0 --port $PORT' } },
  // Poetry's tables of their own and dotted keys (python.ts tomlDependencies): key paths read once per line, quoted keys that never close, a header too long to read.
  { name: 'pyproject.toml: dotted headers and keys of other tables, a fastapi table last', files: { 'pyproject.toml': fill('[tool.poetry]\nname = "x"\n', '[tool . poetry . "dependencies" . \'a\' . b]\nx . y . "z" = 1\n', '[tool.poetry.dependencies.fastapi]\nversion = "*"\nextras = ["standard"]\n'), 'main.py': '' }, expect: { buildCommand: 'poetry install --no-root', startCommand: 'poetry run uvicorn main:app --host 0.0.0.0 --port $PORT' } },
  { name: 'pyproject.toml: lines of quoted keys that never close, then fastapi\'s dotted keys', files: { 'pyproject.toml': fill('[tool.poetry]\nname = "x"\n[tool.poetry.dependencies]\n', `${'"a" . '.repeat(600)}"\n`, 'fastapi.version = "*"\nfastapi.extras = ["standard"]\n'), 'main.py': '' }, expect: { startCommand: 'poetry run uvicorn main:app --host 0.0.0.0 --port $PORT' } },
  { name: 'pyproject.toml: a 256 KiB table header, then keys in no table known', files: { 'pyproject.toml': fill('[tool.poetry]\nname = "x"\n[tool.poetry.dependencies]\n[tool.poetry.dependencies.', 'a.', ']\nfastapi.version = "*"\n'), 'main.py': '' }, expect: { startCommand: 'poetry run gunicorn main:app' } },
  // A settings package (python.ts staticRootSetting): up to MAX_SETTINGS_FILES files read, each at the limit.
  { name: 'settings package: files of near-STATIC_ROOT lines, STATIC_ROOT last in base.py', files: { ...djangoPackage, 'mysite/settings/__init__.py': fill('', ' STATIC_ROOTS = 1\n'), 'mysite/settings/base.py': fill('', '\n', "STATIC_ROOT = BASE_DIR / 'staticfiles'\n"), 'mysite/settings/prod.py': fill('from .base import *\n', 'STATIC_ROOT_X = 1\n') }, expect: { buildCommand: 'pip install -r requirements.txt && python manage.py collectstatic --no-input' } },
  { name: 'settings package: as many files as are read, each 256 KiB of near-STATIC_ROOT lines', files: { ...djangoPackage, ...Object.fromEntries(Array.from({ length: MAX_SETTINGS_FILES }, (_, i) => [`mysite/settings/s${i}.py`, fill('', `${'STATIC_ROOT_'.repeat(300)}\n`)])) }, expect: { buildCommand: 'pip install -r requirements.txt', startCommand: 'gunicorn mysite.wsgi:application' } },
  // Django with WhiteNoise: settings.py is scanned for a STATIC_ROOT line before collectstatic is proposed.
  { name: 'settings.py: 256 KiB of near-STATIC_ROOT lines', files: { 'requirements.txt': 'django\ngunicorn\nwhitenoise\n', 'manage.py': "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n", 'mysite/settings.py': fill('', ' STATIC_ROOTS = 1\n') }, expect: { buildCommand: 'pip install -r requirements.txt', startCommand: 'gunicorn mysite.wsgi:application' } },
  { name: 'settings.py: blank lines, STATIC_ROOT last', files: { 'requirements.txt': 'django\ngunicorn\nwhitenoise\n', 'manage.py': "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n", 'mysite/settings.py': fill('', '\n', "STATIC_ROOT = BASE_DIR / 'staticfiles'\n") }, expect: { buildCommand: 'pip install -r requirements.txt && python manage.py collectstatic --no-input' } },
  // Front-end configs (jsConfig.ts): quoted prefixes, keys with no value, values that never close, lines of them.
  { name: 'svelte.config.js: lines of quoted adapter prefixes, adapter-node last', files: { 'package.json': svelteKitPackage, 'svelte.config.js': fill('', `${"'@sveltejs/adapter-".repeat(200)}\n`, "\nimport adapter from '@sveltejs/adapter-node';\n") }, expect: { stack: 'node', startCommand: 'node build' } },
  { name: 'svelte.config.js: lines of out: with no value', files: { 'package.json': svelteKitPackage, 'svelte.config.js': fill("import adapter from '@sveltejs/adapter-node';\n", `${'out :'.repeat(600)}\n`) }, expect: { error: /svelte\.config\.js's out could not be read as one directory/ } },
  { name: 'astro.config.mjs: lines of mode values that never close', files: { 'package.json': astroNodePackage, 'astro.config.mjs': fill("import node from '@astrojs/node';\n", `${"mode: '".repeat(450)}\n`) }, expect: { error: /mode \(standalone or middleware\) could not be read from astro\.config\.mjs/ } },
  { name: 'astro.config.mjs: one 256 KiB line, then standalone mode', files: { 'package.json': astroNodePackage, 'astro.config.mjs': fill("import node from '@astrojs/node';\n", 'mode', "\nadapter: node({ mode: 'standalone' }),\n") }, expect: { stack: 'node', startCommand: 'HOST=0.0.0.0 node ./dist/server/entry.mjs' } },
  { name: 'next.config.js: lines of output keys with no value', files: { 'package.json': JSON.stringify({ scripts: { start: 'next dev', build: 'next build' }, dependencies: { next: '15' } }), 'next.config.js': fill('', `${'output:'.repeat(500)}\n`) }, expect: { error: /whether next\.config\.js exports a static site/ } },
  { name: 'next.config.js: backquoted values full of spaces', files: { 'package.json': JSON.stringify({ scripts: { start: 'next dev', build: 'next build' }, dependencies: { next: '15' } }), 'next.config.js': fill('', `output: \`${' '.repeat(300)}\n`, "output: 'export',\n") }, expect: { error: /whether next\.config\.js exports a static site/ } },
  // nuxt.config (node.ts nuxtBuild): its Nitro preset read as keyValues; a next build with no start script reads next.config; parcel build's --dist-dir.
  { name: 'nuxt.config.ts: lines of preset keys with no value', files: { 'package.json': nuxtPackage, 'nuxt.config.ts': fill('export default defineNuxtConfig({\n', `${'preset:'.repeat(500)}\n`, '})\n') }, expect: { error: /its Nitro preset could not be read from nuxt\.config\.ts/ } },
  { name: 'nuxt.config.ts: one 256 KiB line, then the node-server preset', files: { 'package.json': nuxtPackage, 'nuxt.config.ts': fill('export default defineNuxtConfig({\n', 'preset', "\n  nitro: { preset: 'node-server' },\n})\n") }, expect: { stack: 'node', startCommand: 'node .output/server/index.mjs' } },
  { name: 'next.config.js with no start script: lines of keys that only start with output', files: { 'package.json': JSON.stringify({ scripts: { build: 'next build' }, dependencies: { next: '15' } }), 'next.config.js': fill('module.exports = {\n', `${'outputs: 1, output1: 2, '.repeat(150)}\n`, '};\n') }, expect: { stack: 'node', startCommand: 'npx next start' } },
  { name: 'package.json: a parcel build script of 256 KiB of --dist-dir flags', files: { 'package.json': fill('{"scripts":{"start":"parcel index.html","build":"parcel build', ' --dist-dir', ' public"},"devDependencies":{"parcel":"2"}}') }, expect: { error: /--dist-dir could not be read as one directory/ } },
  // Bun: .bun-version's first line is all it reads.
  { name: '.bun-version: a 256 KiB first line', files: { 'package.json': startScript, 'bun.lock': '{}', '.bun-version': fill('', ' ', '\n1.2.10\n') }, expect: { buildCommand: 'bun install', startCommand: 'bun run start' } },
  // Go, Rust, Elixir, Docker.
  { name: 'go.mod: 256 KiB of requires', files: { 'go.mod': fill('module example.com/app\n\ngo 1.23\n\nrequire (\n', '\texample.com/dep v1.0.0\n', ')\n') }, expect: { stack: 'go', startCommand: './app' } },
  { name: 'Cargo.toml: nested brackets on one line', files: { 'Cargo.toml': fill('[package]\nname = "svc"\n', '[') }, expect: { stack: 'rust', startCommand: './target/release/svc' } },
  { name: 'Cargo.toml: blank lines and spaces, [[bin]] last', files: { 'Cargo.toml': fill('[package]\nname = "lib"\n', ' \n', '[[bin]]\nname = "server"\n') }, expect: { startCommand: './target/release/server' } },
  { name: 'Cargo.toml: a table header that never closes', files: { 'Cargo.toml': fill('[package]\nname = "svc"\n[ ', 'a.b-', '\n') }, expect: { startCommand: './target/release/svc' } },
  { name: 'mix.exs: braces and whitespace, phoenix last', files: { 'mix.exs': fill('defmodule App.MixProject do\n', '{ \n', '\n{:phoenix, "~> 1.7"}\n') }, expect: { stack: 'elixir', startCommand: 'MIX_ENV=prod mix phx.server' } },
  { name: 'mix.exs: :phoenix without a comma, repeated', files: { 'mix.exs': fill('', '{ :phoenix ') }, expect: { stack: 'elixir', startCommand: 'MIX_ENV=prod mix run --no-halt' } },
  { name: 'Dockerfile: 256 KiB of RUN lines', files: { Dockerfile: fill('FROM node:24\n', 'RUN true\n') }, expect: { stack: 'docker', dockerfilePath: './Dockerfile' } },
  // YAML (render.yaml is parsed by the yaml package, with its alias and depth limits).
  { name: 'render.yaml: billion laughs', files: { 'render.yaml': billionLaughs(), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  { name: 'render.yaml: one alias used thousands of times', files: { 'render.yaml': aliasFlood(), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  { name: 'render.yaml: 128 Ki nested flow brackets', files: { 'render.yaml': `${'['.repeat(LIMIT / 2)}${']'.repeat(LIMIT / 2)}`, 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  { name: 'render.yaml: deeply indented block mappings', files: { 'render.yaml': deepBlock(), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  { name: 'render.yaml: thousands of services, web last', files: { 'render.yaml': fill('services:\n', '  - type: worker\n    name: w\n', '  - type: web\n    runtime: python\n    buildCommand: pip install .\n    startCommand: gunicorn app:app\n', '\n') }, expect: { stack: 'python', startCommand: 'gunicorn app:app' } },
  { name: 'render.yaml: 256 KiB of blank lines', files: { 'render.yaml': fill('', '\n'), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start', blueprint: undefined } },
  { name: 'render.yaml: one 256 KiB plain scalar', files: { 'render.yaml': fill('services: ', 'a '), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  // A value over many lines (block, folded, quoted or plain continuation) is as unreadable here as one long line.
  { name: 'render.yaml: a 256 KiB block-scalar startCommand', files: { 'render.yaml': fill('services:\n  - type: web\n    runtime: node\n    buildCommand: npm ci\n    startCommand: |\n', '      node x\n', '', '\n'), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  { name: 'render.yaml: a 256 KiB folded name', files: { 'render.yaml': fill('services:\n  - type: web\n    runtime: node\n    buildCommand: npm ci\n    startCommand: node a.js\n    name: >\n', '      aaaaaaaa\n', '', '\n'), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  { name: 'render.yaml: a 256 KiB quoted buildCommand over many lines', files: { 'render.yaml': fill('services:\n  - type: web\n    runtime: node\n    startCommand: node a.js\n    buildCommand: "npm ci\n', '      x\n', '      "\n'), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  // Behind a block indicator, more-indented lines that are structure: the yaml package must not be handed them.
  { name: 'render.yaml: a block scalar, then a sea of keys', files: { 'render.yaml': underBlock((i) => `     k${i}: v\n`), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  { name: 'render.yaml: a block scalar, then a sea of entries', files: { 'render.yaml': fill(BLOCK_HEAD, '     - a\n', '', '\n'), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  { name: 'render.yaml: a block scalar, then a sea of aliases', files: { 'render.yaml': fill(`${BLOCK_HEAD}     x: &a [1]\n`, '     y: *a\n', '', '\n'), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  { name: 'render.yaml: huge flat map', files: { 'render.yaml': distinctKeys(), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  // Thousands of tiny services whose values are not plain strings: each once went to the yaml package
  // (~20,000 parser runs a file). One-line quoted and numeric values are read without it; block scalars
  // count against the file's budget (YAML_BUDGET), past which the file is not read here.
  { name: 'render.yaml: thousands of services with quoted names', files: { 'render.yaml': fill('services:\n', '- name: "a"\n', '', '\n'), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  { name: 'render.yaml: thousands of services with empty single-quoted names', files: { 'render.yaml': fill('services:\n', "- name: ''\n", '', '\n'), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  { name: 'render.yaml: thousands of services with numeric names', files: { 'render.yaml': fill('services:\n', '- name: 1\n', '', '\n'), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  { name: 'render.yaml: thousands of services with block-scalar names', files: { 'render.yaml': fill('services:\n', '- name: |\n   a\n', '', '\n'), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  { name: 'render.yaml: block scalars of blank lines up to the yaml budget, then numeric names', files: { 'render.yaml': blankLineBlocks(), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start' } },
  // Services grouped in projects → environments → services, or ungrouped (spec/render.yaml.json): the nesting
  // on the way is read in the same single pass, at most six collections open, however deep or many.
  { name: 'render.yaml: thousands of projects, each an environment with a worker, web last', files: { 'render.yaml': fill('projects:\n', '- name: p\n  environments:\n  - name: e\n    services:\n    - type: worker\n      name: w\n', `- name: last\n  environments:\n  - name: e\n    services:\n${GROUPED_WEB}`, '\n'), 'package.json': startScript }, expect: GROUPED_EXPECT },
  { name: 'render.yaml: thousands of environments in one project, web last', files: { 'render.yaml': fill('projects:\n  - name: p\n    environments:\n', '      - name: e\n        services: []\n', `      - name: last\n        services:\n${groupedWeb(10)}`, '\n'), 'package.json': startScript }, expect: GROUPED_EXPECT },
  { name: 'render.yaml: thousands of null projects and environments ("-" alone), web last', files: { 'render.yaml': fill('projects:\n  -\n  - name: p\n    environments:\n', '      -\n', `      - name: last\n        services:\n${groupedWeb(8)}`, '\n'), 'package.json': startScript }, expect: GROUPED_EXPECT },
  { name: 'render.yaml: mappings nested as deep as fits inside an environment, then its web service', files: { 'render.yaml': deepInEnvironment(), 'package.json': startScript }, expect: GROUPED_EXPECT },
  { name: 'render.yaml: thousands of environments with block-scalar names and databases, web last', files: { 'render.yaml': fill('projects:\n- name: p\n  environments:\n', '  - name: |\n      e\n    databases:\n    - name: db\n', `  - name: last\n    services:\n${GROUPED_WEB}`, '\n'), 'package.json': startScript }, expect: GROUPED_EXPECT },
  { name: 'render.yaml: thousands of ungrouped services, web last', files: { 'render.yaml': fill('ungrouped:\n  services:\n', '  - type: worker\n    name: w\n', groupedWeb(2), '\n'), 'package.json': startScript }, expect: GROUPED_EXPECT },
  // An empty render.yaml (blank lines and comments only) is no Blueprint: the repository's files decide.
  { name: 'render.yaml: 256 KiB of comment lines', files: { 'render.yaml': fill('', '# nothing here\n', '', '\n'), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start', blueprint: undefined } },
  { name: 'render.yaml: one 256 KiB comment after blank lines', files: { 'render.yaml': fill('\n \n\t\n#', ' ', '\n'), 'package.json': startScript }, expect: { stack: 'node', startCommand: 'npm start', blueprint: undefined } },
];

/** Mappings nested as deep as fits under an environment's networking key, then the environment's web service. */
function deepInEnvironment(): string {
  const tail = `    services:\n${GROUPED_WEB}`;
  let doc = 'projects:\n- name: p\n  environments:\n  - name: e\n    networking:\n';
  for (let depth = 6; doc.length + depth + 3 + tail.length < LIMIT - 1; depth++) doc += `${' '.repeat(depth)}k:\n`;
  doc += tail;
  return `${doc}#`.padEnd(LIMIT, '#');
}

/**
 * As many block-scalar names as the yaml budget lets through, each all but filling its share of the
 * budget's source with blank lines (the yaml package's dearest text, ~0.2–0.7 µs a character), then
 * numeric names (read without it) to the limit: the most yaml work a file that is still read can ask.
 */
function blankLineBlocks(): string {
  const { values, sourceChars } = YAML_BUDGET;
  // A value's source: "|", then each line from the key's column (2 here) with its break: 7 + blank lines.
  const value = `- name: |\n   a\n${'\n'.repeat(Math.floor(sourceChars / values) - 7)}   a\n`;
  return fill(`services:\n${value.repeat(values)}- name: x\n`, '- name: 1\n', '', '\n');
}

/** BLOCK_HEAD, then as many distinct lines `line(i)` as fit, padded with blank lines to the limit. */
function underBlock(line: (i: number) => string): string {
  let doc = BLOCK_HEAD;
  for (let i = 0; doc.length + line(i).length <= LIMIT; i++) doc += line(i);
  return doc.padEnd(LIMIT, '\n');
}

/** As many distinct top-level keys as fit (a general YAML parser compares each new key with all before it). */
function distinctKeys(): string {
  let doc = '';
  for (let i = 0; doc.length < LIMIT - 32; i++) doc += `k${i.toString(36).padStart(6, '0')}: v\n`;
  return doc.slice(0, doc.lastIndexOf('\n', LIMIT - 1) + 1).padEnd(LIMIT, '\n');
}

/** Mappings nested as deep as 256 KiB of indentation allows. */
function deepBlock(): string {
  let doc = '';
  for (let depth = 0; doc.length < LIMIT - 2_000; depth++) doc += `${' '.repeat(depth)}k:\n`;
  return doc.padEnd(LIMIT, '#');
}
