import test from 'ava';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectStack, loadTemplates, StackDetectionError, type DetectedStack, type RepoFiles } from '../../server/stacks/detect.js';
import { repoFilesFromGitHub } from '../../server/stacks/fromGitHub.js';
import { startGitHubSimulator } from '../../sandbox/github/index.js';
import { createGitHubClient } from '../../server/github/client.js';

/** An in-memory repo: path -> content; root names derived like the contents API does. */
function repo(files: Record<string, string>): RepoFiles {
  const list = Object.keys(files).filter((p) => !p.includes('/')).sort();
  const dirs = [...new Set(Object.keys(files).filter((p) => p.includes('/')).map((p) => p.split('/')[0]!))].sort();
  return { list, dirs, read: async (p) => files[p] ?? null };
}

const seen = new Set<string>();
async function detect(files: Record<string, string>): Promise<DetectedStack> {
  const d = await detectStack(repo(files));
  seen.add(d.stack);
  return d;
}

const pkg = (o: object) => JSON.stringify(o);

test('node: lockfile, build and start scripts', async (t) => {
  const d = await detect({ 'package.json': pkg({ scripts: { build: 'tsc', start: 'node dist/index.js' } }), 'package-lock.json': '{}' });
  t.like(d, { stack: 'node', serviceType: 'web_service', runtime: 'node', buildCommand: 'npm ci && npm run build', startCommand: 'npm start' });
  t.is(d.blueprint, undefined);
  t.truthy(d.reason);
});

test('node: no lockfile means npm install; "main" starts with node', async (t) => {
  const d = await detect({ 'package.json': pkg({ main: 'src/server.js' }) });
  t.like(d, { buildCommand: 'npm install', startCommand: 'node src/server.js' });
  t.regex(d.reason, /no lockfile/);
  t.is((await detect({ 'package.json': pkg({}), 'server.js': '' })).startCommand, 'node server.js');
});

test('node: yarn (classic and berry) and pnpm lockfiles pick their managers', async (t) => {
  const scripts = { scripts: { build: 'vite build', start: 'node server' } };
  t.like(await detect({ 'package.json': pkg(scripts), 'yarn.lock': '' }), { buildCommand: 'yarn install --frozen-lockfile && yarn run build', startCommand: 'yarn start' });
  t.like(await detect({ 'package.json': pkg(scripts), 'yarn.lock': '', '.yarnrc.yml': '' }), { buildCommand: 'yarn install --immutable && yarn run build' });
  t.like(await detect({ 'package.json': pkg(scripts), 'pnpm-lock.yaml': '' }), { buildCommand: 'pnpm install --frozen-lockfile && pnpm run build', startCommand: 'pnpm start' });
});

test('node: a build script with no server is a static site publishing the tool\'s output dir', async (t) => {
  const d = await detect({ 'package.json': pkg({ scripts: { build: 'vite build' }, devDependencies: { vite: '^7' } }), 'package-lock.json': '{}', 'index.html': '' });
  t.like(d, { stack: 'static', serviceType: 'static_site', runtime: 'static', buildCommand: 'npm ci && npm run build', startCommand: null, publishPath: 'dist' });
  t.is((await detect({ 'package.json': pkg({ scripts: { build: 'react-scripts build' }, dependencies: { 'react-scripts': '5' } }) })).publishPath, 'build');
});

test('node: broken package.json is a clear StackDetectionError', async (t) => {
  const err = await t.throwsAsync(detectStack(repo({ 'package.json': '{ nope' })), { instanceOf: StackDetectionError });
  t.regex(err.message, /package\.json is not valid JSON/);
});

test('python: requirements.txt with gunicorn; Procfile web: wins', async (t) => {
  t.like(await detect({ 'requirements.txt': 'flask==3\ngunicorn\n', 'app.py': '' }), {
    stack: 'python', runtime: 'python', buildCommand: 'pip install -r requirements.txt', startCommand: 'gunicorn app:app',
  });
  t.like(await detect({ 'requirements.txt': 'flask\n', Procfile: 'release: x\nweb: gunicorn wsgi:server --workers 2\n' }), { startCommand: 'gunicorn wsgi:server --workers 2' });
  const noServer = await detect({ 'requirements.txt': 'flask\n', 'app.py': '' });
  t.regex(noServer.reason, /Add gunicorn/);
});

test('python: Django takes its project from manage.py; FastAPI gets uvicorn on $PORT', async (t) => {
  const manage = "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n";
  t.is((await detect({ 'requirements.txt': 'Django>=5\ngunicorn\n', 'manage.py': manage })).startCommand, 'gunicorn mysite.wsgi:application');
  t.is((await detect({ 'requirements.txt': 'fastapi\nuvicorn[standard]\n', 'main.py': '' })).startCommand, 'uvicorn main:app --host 0.0.0.0 --port $PORT');
});

test('python: Poetry pyproject and Pipfile install with their tools', async (t) => {
  const poetry = await detect({ 'pyproject.toml': '[tool.poetry]\nname="x"\n[tool.poetry.dependencies]\nfastapi = "^0.1"\n', 'poetry.lock': '', 'main.py': '' });
  t.like(poetry, { buildCommand: 'poetry install --no-root', startCommand: 'poetry run uvicorn main:app --host 0.0.0.0 --port $PORT' });
  t.like(await detect({ Pipfile: '[packages]\nflask = "*"\ngunicorn = "*"\n', 'app.py': '' }), {
    buildCommand: 'pip install pipenv && pipenv install --deploy --system', startCommand: 'gunicorn app:app',
  });
});

test('go: Render\'s build and start commands', async (t) => {
  t.like(await detect({ 'go.mod': 'module example.com/app\n', 'main.go': '' }), {
    stack: 'go', runtime: 'go', buildCommand: "go build -tags netgo -ldflags '-s -w' -o app", startCommand: './app',
  });
});

test('ruby: plain puma app, Rails, and Rails winning over its package.json', async (t) => {
  t.like(await detect({ Gemfile: "source 'https://rubygems.org'\ngem 'sinatra'\ngem 'puma'\n", 'config.ru': '' }), {
    stack: 'ruby', runtime: 'ruby', buildCommand: 'bundle install', startCommand: 'bundle exec puma',
  });
  const rails = await detect({ Gemfile: 'gem "rails", "~> 8.0"\ngem "puma"\n', 'package.json': pkg({ scripts: { start: 'x' } }), 'config.ru': '' });
  t.like(rails, {
    stack: 'ruby',
    buildCommand: 'bundle install && bundle exec rake assets:precompile && bundle exec rake assets:clean',
    startCommand: 'bundle exec puma -C config/puma.rb',
  });
});

test('rust: the binary name comes from Cargo.toml', async (t) => {
  t.like(await detect({ 'Cargo.toml': '[package]\nname = "my-server"\nversion = "0.1.0"\n\n[dependencies]\nname = "nope"\n' }), {
    stack: 'rust', runtime: 'rust', buildCommand: 'cargo build --release', startCommand: './target/release/my-server',
  });
  t.is((await detect({ 'Cargo.toml': '[package]\nname = "lib"\n[[bin]]\nname = "api"\npath = "src/main.rs"\n' })).startCommand, './target/release/api');
  await t.throwsAsync(detectStack(repo({ 'Cargo.toml': '[workspace]\nmembers = ["a"]\n' })), { instanceOf: StackDetectionError, message: /Cargo\.toml has no/ });
});

test('elixir: plain mix project and Phoenix', async (t) => {
  t.like(await detect({ 'mix.exs': 'defp deps do [{:plug_cowboy, "~> 2.0"}] end' }), {
    stack: 'elixir', runtime: 'elixir', buildCommand: 'mix deps.get --only prod && MIX_ENV=prod mix compile', startCommand: 'MIX_ENV=prod mix run --no-halt',
  });
  t.like(await detect({ 'mix.exs': 'defp deps do [{:phoenix, "~> 1.7"}] end\n"assets.deploy": ["esbuild default --minify"]' }), {
    buildCommand: 'mix deps.get --only prod && MIX_ENV=prod mix compile && MIX_ENV=prod mix assets.deploy', startCommand: 'MIX_ENV=prod mix phx.server',
  });
});

test('docker: a Dockerfile wins over every language manifest', async (t) => {
  const d = await detect({ Dockerfile: 'FROM node:24\n', 'package.json': pkg({ scripts: { start: 'x' } }), 'go.mod': '' });
  t.like(d, { stack: 'docker', runtime: 'docker', serviceType: 'web_service', buildCommand: '', startCommand: null, dockerfilePath: './Dockerfile' });
});

test('static: index.html at the root, or in public/', async (t) => {
  t.like(await detect({ 'index.html': '<h1>hi</h1>', 'style.css': '' }), { stack: 'static', serviceType: 'static_site', runtime: 'static', buildCommand: '', startCommand: null, publishPath: '.' });
  t.is((await detect({ 'public/index.html': '<h1>hi</h1>' })).publishPath, 'public');
});

test('render.yaml wins, even over a Dockerfile, and is returned raw in blueprint', async (t) => {
  const yaml = 'services:\n  - type: worker\n    name: jobs\n    runtime: node\n  - type: web\n    name: site\n    runtime: python\n    buildCommand: pip install -r requirements.txt\n    startCommand: gunicorn site:app\n';
  const d = await detect({ 'render.yaml': yaml, Dockerfile: 'FROM x', 'requirements.txt': '' });
  t.like(d, { stack: 'python', runtime: 'python', startCommand: 'gunicorn site:app', blueprint: yaml });
  t.regex(d.reason, /render\.yaml/);
  // A blueprint without a usable web service still travels along with the detected stack.
  const onlyDb = 'databases:\n  - name: db\n';
  t.like(await detect({ 'render.yaml': onlyDb, 'go.mod': '' }), { stack: 'go', blueprint: onlyDb });
  t.like(await detect({ 'render.yaml': 'services: [', 'index.html': '' }), { stack: 'static', blueprint: 'services: [' });
});

test('a repository with nothing recognisable gets a clear StackDetectionError', async (t) => {
  const err = await t.throwsAsync(detectStack(repo({ 'README.md': '# hi', 'notes.txt': '' })), { instanceOf: StackDetectionError });
  t.regex(err.message, /could not tell how to build/);
  t.regex(err.message, /Dockerfile/);
  t.regex(err.message, /package\.json/);
  const pkgOnly = await t.throwsAsync(detectStack(repo({ 'package.json': pkg({ name: 'lib' }) })), { instanceOf: StackDetectionError });
  t.regex(pkgOnly.message, /no start script/);
});

test('loadTemplates: one valid preset per runtime, highest priority first', async (t) => {
  const templates = await loadTemplates();
  t.deepEqual(templates.map((x) => x.stack).sort(), ['docker', 'elixir', 'go', 'node', 'python', 'ruby', 'rust', 'static']);
  t.is(templates[0]!.stack, 'docker', 'highest priority first');
  t.is(templates.at(-1)!.stack, 'static');
  for (const tpl of templates) t.is(tpl.serviceType === 'static_site', tpl.runtime === 'static', tpl.stack);
});

test('loadTemplates rejects a malformed preset', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tpl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'node.json'), JSON.stringify({ stack: 'node', runtime: 'nodejs', serviceType: 'web_service', detect: { files: [], priority: 1 }, buildCommand: '', startCommand: null, notes: '' }));
  await t.throwsAsync(loadTemplates(dir), { message: /templates\/node\.json/ });
});

test('detectStack over the GitHub simulator through the real client, at a branch', async (t) => {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  sim.addUser({ login: 'alice' });
  sim.addRepo({
    owner: 'alice', name: 'shop', private: true,
    branches: {
      main: { 'index.html': '<p>old</p>' },
      next: { 'package.json': pkg({ scripts: { start: 'node .' } }), 'package-lock.json': '{}', 'render.yaml': 'services: []\n', 'src/app.js': '' },
    },
  });
  const gh = createGitHubClient({ apiUrl: sim.apiUrl, token: sim.issueToken('alice'), retries: false });
  t.is((await detectStack(await repoFilesFromGitHub(gh, 'alice', 'shop', 'main'))).stack, 'static');
  const d = await detectStack(await repoFilesFromGitHub(gh, 'alice', 'shop', 'next'));
  t.like(d, { stack: 'node', buildCommand: 'npm ci', startCommand: 'npm start', blueprint: 'services: []\n' });
});

test('over the GitHub simulator, files saved with a byte order mark (Windows editors) read as their tools read them', async (t) => {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  sim.addUser({ login: 'wendy' });
  const BOM = '\uFEFF';
  sim.addRepo({
    owner: 'wendy', name: 'win',
    branches: {
      // npm strips the mark from package.json; YAML allows one at the start of a stream.
      node: { 'package.json': `${BOM}${pkg({ scripts: { start: 'node server.js' } })}`, 'package-lock.json': '{}' },
      yaml: { 'render.yaml': `${BOM}services:\n  - type: worker\n    runtime: python\n    buildCommand: pip install .\n    startCommand: python jobs.py\n`, 'requirements.txt': 'flask\n', 'app.py': '' },
    },
  });
  const gh = createGitHubClient({ apiUrl: sim.apiUrl, token: sim.issueToken('wendy'), retries: false });
  t.like(await detectStack(await repoFilesFromGitHub(gh, 'wendy', 'win', 'node')), { stack: 'node', startCommand: 'npm start' });
  t.like(await detectStack(await repoFilesFromGitHub(gh, 'wendy', 'win', 'yaml')), { stack: 'python', serviceType: 'background_worker', startCommand: 'python jobs.py' });
});

test.after('every preset is exercised by some test', (t) => {
  t.deepEqual([...seen].sort(), ['docker', 'elixir', 'go', 'node', 'python', 'ruby', 'rust', 'static']);
});
