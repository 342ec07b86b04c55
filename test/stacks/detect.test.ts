import test from 'ava';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectStack, loadTemplates, StackDetectionError, type DetectedStack, type RepoFiles } from '../../server/stacks/detect.js';
import { repoFilesFromGitHub } from '../../server/stacks/fromGitHub.js';
import { startGitHubSimulator } from '../../sandbox/github/index.js';
import { createGitHubClient } from '../../server/github/client.js';

/** An in-memory repo: path -> content; root names (and a directory's, listed) derived like the contents API does. */
function repo(files: Record<string, string>): RepoFiles {
  const entries = (prefix: string) => {
    const below = Object.keys(files).filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length));
    return {
      files: below.filter((p) => !p.includes('/')).sort(),
      dirs: [...new Set(below.filter((p) => p.includes('/')).map((p) => p.split('/')[0]!))].sort(),
    };
  };
  const root = entries('');
  return {
    list: root.files, dirs: root.dirs, read: async (p) => files[p] ?? null,
    listDir: async (p) => {
      const found = entries(`${p}/`);
      return found.files.length + found.dirs.length === 0 ? null : found;
    },
  };
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
  const d = await detect({ 'package.json': pkg({ main: 'src/server.js' }), 'src/server.js': '' });
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

// Split settings (a settings/ package with base.py, dev.py, production.py: cookiecutter-django, "Two
// Scoops") name "mysite.settings.dev" in manage.py; the WSGI module is still mysite/wsgi.py. Taking only a
// value ending in ".settings" fell back to "config": "ModuleNotFoundError: No module named 'config'".
test('python: Django with a settings package (mysite.settings.dev) serves mysite.wsgi', async (t) => {
  const d = await detect({
    'requirements.txt': 'Django==5.0.6\ngunicorn==22.0.0\n',
    'manage.py': "#!/usr/bin/env python\nimport os, sys\n\ndef main():\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings.dev')\n",
    'mysite/wsgi.py': '', 'mysite/settings/__init__.py': '', 'mysite/settings/dev.py': '',
  });
  t.is(d.startCommand, 'gunicorn mysite.wsgi:application');
  const manage = (module: string) => ({ 'requirements.txt': 'django\ngunicorn\n', 'manage.py': `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "${module}")\n` });
  t.is((await detect(manage('config.settings.local'))).startCommand, 'gunicorn config.wsgi:application', 'cookiecutter-django');
  t.is((await detect(manage('mysite.settings.prod.eu'))).startCommand, 'gunicorn mysite.wsgi:application');
});

// FastAPI's own "Bigger Applications" layout (fastapi.tiangolo.com/tutorial/bigger-applications/) is
// app/main.py, run as `uvicorn app.main:app`; `uvicorn app:app` imports the app/ package and fails with
// 'Attribute "app" not found in module "app"'.
test('python: FastAPI in app/main.py is served as app.main:app', async (t) => {
  const reqs = 'fastapi==0.111.0\nuvicorn[standard]==0.30.1\n';
  const d = await detect({ 'requirements.txt': reqs, 'app/__init__.py': '', 'app/main.py': 'from fastapi import FastAPI\napp = FastAPI()\n', 'app/routers/items.py': '' });
  t.is(d.startCommand, 'uvicorn app.main:app --host 0.0.0.0 --port $PORT');
  // A root main.py still wins; an app/ without main.py is no app.main to import.
  t.is((await detect({ 'requirements.txt': reqs, 'main.py': '', 'app/main.py': '' })).startCommand, 'uvicorn main:app --host 0.0.0.0 --port $PORT');
  const unknown = await detect({ 'requirements.txt': reqs, 'app/api.py': '' });
  t.is(unknown.startCommand, 'uvicorn app:app --host 0.0.0.0 --port $PORT');
  t.regex(unknown.reason, /"app" is assumed/);
});

// fastapi[standard] (FastAPI's documented install since 0.112) installs fastapi-cli[standard], hence uvicorn.
test('python: fastapi with an extra that brings uvicorn is not told to add uvicorn', async (t) => {
  const reason = async (reqs: string) => (await detect({ 'requirements.txt': reqs, 'main.py': '' })).reason;
  for (const reqs of ['fastapi[standard]\n', 'fastapi[standard]==0.115.0\n', 'fastapi[all]>=0.100\n', 'FastAPI[Standard-No-FastAPI-Cloud-CLI]\n', 'fastapi[ sqlmodel , standard ]\n']) {
    t.false((await reason(reqs)).includes('Add uvicorn'), reqs);
  }
  for (const reqs of ['fastapi\n', 'fastapi[email]\n', 'notfastapi[standard]\nfastapi\n', 'fastapi  # [standard] later\n']) {
    t.regex(await reason(reqs), /Add uvicorn to your dependencies/, reqs);
  }
});

test('python: Poetry pyproject and Pipfile install with their tools', async (t) => {
  const poetry = await detect({ 'pyproject.toml': '[tool.poetry]\nname="x"\n[tool.poetry.dependencies]\nfastapi = "^0.1"\n', 'poetry.lock': '', 'main.py': '' });
  t.like(poetry, { buildCommand: 'poetry install --no-root', startCommand: 'poetry run uvicorn main:app --host 0.0.0.0 --port $PORT' });
  t.like(await detect({ Pipfile: '[packages]\nflask = "*"\ngunicorn = "*"\n', 'app.py': '' }), {
    buildCommand: 'pip install pipenv && pipenv install --deploy --system', startCommand: 'gunicorn app:app',
  });
});

// Poetry and Pipenv declare an extra in a TOML table (python-poetry.org/docs/dependency-specification/#extras):
// `fastapi = {extras = ["standard"], version = "^0.115"}` is what `fastapi[standard]` is in requirements.txt.
test('python: fastapi with an extra in a Poetry or Pipfile table is not told to add uvicorn', async (t) => {
  const poetry = (deps: string) => ({ 'pyproject.toml': `[tool.poetry]\nname = "api"\nversion = "0.1.0"\n\n[tool.poetry.dependencies]\npython = "^3.12"\n${deps}\n`, 'poetry.lock': '', 'main.py': '' });
  for (const deps of [
    'fastapi = {extras = ["standard"], version = "^0.115.0"}',
    'fastapi = { version = "^0.115.0", extras = [ "sqlmodel", "standard" ] }',
    '"fastapi" = {extras = [\'all\'], version = "*"}',
    'FastAPI = {version = "^0.115", extras = ["Standard"]}',
  ]) {
    const d = await detect(poetry(deps));
    t.like(d, { buildCommand: 'poetry install --no-root', startCommand: 'poetry run uvicorn main:app --host 0.0.0.0 --port $PORT' }, deps);
    t.false(d.reason.includes('Add uvicorn'), deps);
  }
  for (const deps of ['fastapi = {extras = ["email"], version = "^0.115"}', 'fastapi = "^0.115"\nmylib = {extras = ["standard"], version = "1"}', 'fastapi = "^0.115"  # extras = ["standard"] later']) {
    t.regex((await detect(poetry(deps))).reason, /Add uvicorn to your dependencies/, deps);
  }
  const pipfile = await detect({ Pipfile: '[packages]\nfastapi = {extras = ["standard"], version = "*"}\n', 'main.py': '' });
  t.false(pipfile.reason.includes('Add uvicorn'));
});

// The same table written as a TOML table of its own, or with dotted keys (toml.io/en/v1.0.0#table, #keys),
// is what Poetry and Pipenv read: `[tool.poetry.dependencies.fastapi]` with `extras = ["standard"]` under it.
// Before, the name after a dot was no dependency at all: FastAPI went unseen and was served as gunicorn main:app.
test('python: fastapi declared as a TOML table of its own, or with dotted keys, is FastAPI, with its extras', async (t) => {
  const poetry = (deps: string) => ({ 'pyproject.toml': `[tool.poetry]\nname = "api"\nversion = "0.1.0"\n\n[tool.poetry.dependencies]\npython = "^3.12"\n${deps}\n`, 'poetry.lock': '', 'main.py': '' });
  const served = 'poetry run uvicorn main:app --host 0.0.0.0 --port $PORT';
  for (const deps of [
    '\n[tool.poetry.dependencies.fastapi]\nversion = "^0.115.0"\nextras = ["standard"]',
    '\n[tool.poetry.dependencies."fastapi"]\nextras = [ "sqlmodel", \'all\' ]  # the CLI too\nversion = "*"',
    '\n[ tool . poetry . dependencies . FastAPI ]\nversion = "^0.115"\nextras = ["Standard"]',
    'fastapi.version = "^0.115.0"\nfastapi.extras = ["standard"]',
    '\n[tool.poetry.group.api.dependencies.fastapi]\nversion = "^0.115"\nextras = ["standard-no-fastapi-cloud-cli"]',
  ]) {
    const d = await detect(poetry(deps));
    t.like(d, { buildCommand: 'poetry install --no-root', startCommand: served }, deps);
    t.false(d.reason.includes('Add uvicorn'), deps);
  }
  for (const deps of [
    '\n[tool.poetry.dependencies.fastapi]\nversion = "^0.115"\nextras = ["email"]',
    '\n[tool.poetry.dependencies.fastapi]\nversion = "^0.115"\n\n[tool.poetry.extras]\nextras = ["standard"]',
    '"fastapi".version = "^0.115"  # extras = ["standard"] later',
  ]) {
    const d = await detect(poetry(deps));
    t.is(d.startCommand, served, deps);
    t.regex(d.reason, /Add uvicorn to your dependencies/, deps);
  }
  // uvicorn in a table of its own is uvicorn; a name that only starts with fastapi is not fastapi.
  t.false((await detect(poetry('\n[tool.poetry.dependencies.fastapi]\nversion = "*"\n[tool.poetry.dependencies.uvicorn]\nversion = "*"\nextras = ["standard"]'))).reason.includes('Add uvicorn'));
  t.is((await detect(poetry('\n[tool.poetry.dependencies.fastapi-users]\nversion = "*"\nextras = ["standard"]'))).startCommand, 'poetry run gunicorn main:app');
  // Keys under an array of tables, or under a header that does not close, are not dependencies.
  t.is((await detect(poetry('\n[[tool.poetry.dependencies]]\nfastapi.version = "*"'))).startCommand, 'poetry run gunicorn main:app');
  t.is((await detect(poetry('\n[tool.poetry.dependencies.fastapi\nversion = "*"'))).startCommand, 'poetry run gunicorn main:app');
  const pipfile = await detect({ Pipfile: '[packages]\nrequests = "*"\n\n[packages.fastapi]\nversion = "*"\nextras = ["standard"]\n', 'main.py': '' });
  t.like(pipfile, { startCommand: 'uvicorn main:app --host 0.0.0.0 --port $PORT' });
  t.false(pipfile.reason.includes('Add uvicorn'));
  // A Django project's dependencies in tables: django, gunicorn and whitenoise are found there too.
  const django = await detect({ 'pyproject.toml': '[tool.poetry]\nname = "x"\n[tool.poetry.dependencies.django]\nversion = "^5.0"\n[tool.poetry.dependencies]\ngunicorn.version = "*"\n', 'poetry.lock': '', 'manage.py': "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n" });
  t.like(django, { startCommand: 'poetry run gunicorn mysite.wsgi:application' });
  t.false(django.reason.includes('Add gunicorn'));
});

// Render's Django guide (render.com/docs/deploy-django) builds with collectstatic, WhiteNoise serving the
// files; gunicorn serves none, and without it every page lost its CSS and JS.
test('python: Django with WhiteNoise gathers its static files in the build (collectstatic)', async (t) => {
  const manage = "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n";
  const settings = "from pathlib import Path\nBASE_DIR = Path(__file__).resolve().parent.parent\nSTATIC_URL = 'static/'\nSTATIC_ROOT = BASE_DIR / 'staticfiles'\n";
  const pip = await detect({ 'requirements.txt': 'Django==5.0.6\ngunicorn==22.0.0\nwhitenoise[brotli]==6.7.0\n', 'manage.py': manage, 'mysite/settings.py': settings, 'mysite/wsgi.py': '' });
  t.like(pip, { buildCommand: 'pip install -r requirements.txt && python manage.py collectstatic --no-input', startCommand: 'gunicorn mysite.wsgi:application' });
  t.regex(pip.reason, /collectstatic/);
  const poetry = await detect({ 'pyproject.toml': '[tool.poetry]\nname = "x"\n[tool.poetry.dependencies]\ndjango = "^5.0"\ngunicorn = "*"\nwhitenoise = "^6.7"\n', 'poetry.lock': '', 'manage.py': manage, 'mysite/settings.py': settings });
  t.like(poetry, { buildCommand: 'poetry install --no-root && poetry run python manage.py collectstatic --no-input', startCommand: 'poetry run gunicorn mysite.wsgi:application' });
  // A settings package's files are read for it; a Procfile's app (from Heroku, whose buildpack ran collectstatic) gets it too.
  const split = { 'requirements.txt': 'django\ngunicorn\nwhitenoise\n', 'manage.py': "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings.production')\n", 'config/settings/base.py': settings };
  t.is((await detect(split)).buildCommand, 'pip install -r requirements.txt && python manage.py collectstatic --no-input');
  t.like(await detect({ ...split, Procfile: 'release: python manage.py migrate\nweb: gunicorn config.wsgi --log-file -\n' }), { buildCommand: 'pip install -r requirements.txt && python manage.py collectstatic --no-input', startCommand: 'gunicorn config.wsgi --log-file -' });
});

test('python: Django without WhiteNoise, or whose settings.py sets no STATIC_ROOT, builds without collectstatic', async (t) => {
  const manage = "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n";
  t.is((await detect({ 'requirements.txt': 'django\ngunicorn\n', 'manage.py': manage })).buildCommand, 'pip install -r requirements.txt');
  // collectstatic fails the build without STATIC_ROOT ("You're using the staticfiles app without having set the STATIC_ROOT setting").
  const unset = await detect({ 'requirements.txt': 'django\ngunicorn\nwhitenoise\n', 'manage.py': manage, 'mysite/settings.py': "STATIC_URL = 'static/'\n# STATIC_ROOT = BASE_DIR / 'staticfiles'\nSTATIC_ROOTS = 1\n" });
  t.is(unset.buildCommand, 'pip install -r requirements.txt');
  t.regex(unset.reason, /WhiteNoise is a dependency, but mysite\/settings\.py sets no STATIC_ROOT.*"python manage\.py collectstatic --no-input"/);
  // A Procfile worker: no static files to serve.
  t.is((await detect({ 'requirements.txt': 'django\nwhitenoise\ncelery\n', 'manage.py': manage, Procfile: 'worker: celery -A mysite worker\n' })).buildCommand, 'pip install -r requirements.txt');
});

// Split settings (mysite/settings/__init__.py, base.py, prod.py: startproject's settings.py made a package, as
// cookiecutter-django and "Two Scoops" do) were not looked into: collectstatic was proposed whether or not any
// of them set STATIC_ROOT, and without it the build failed. The package is listed and each file read (at most
// MAX_SETTINGS_FILES); only when every file was read and none sets it is collectstatic left out.
test('python: Django with WhiteNoise and a settings package gathers static files only when a settings file sets STATIC_ROOT', async (t) => {
  const reqs = { 'requirements.txt': 'django\ngunicorn\nwhitenoise\n', 'mysite/wsgi.py': '' };
  const project = (module: string, settings: Record<string, string>) => ({ ...reqs, 'manage.py': `os.environ.setdefault('DJANGO_SETTINGS_MODULE', '${module}')\n`, ...settings });
  const base = "from pathlib import Path\nBASE_DIR = Path(__file__).resolve().parent.parent.parent\nSTATIC_URL = 'static/'\n";
  const collect = 'pip install -r requirements.txt && python manage.py collectstatic --no-input';
  const unset = await detect(project('mysite.settings.prod', { 'mysite/settings/__init__.py': '', 'mysite/settings/base.py': base, 'mysite/settings/prod.py': 'from .base import *\nDEBUG = False\n', 'mysite/settings/dev.py': 'from .base import *\n# STATIC_ROOT = BASE_DIR / "staticfiles"\n' }));
  t.like(unset, { buildCommand: 'pip install -r requirements.txt', startCommand: 'gunicorn mysite.wsgi:application' });
  t.regex(unset.reason, /WhiteNoise is a dependency, but no file of mysite\/settings\/ sets STATIC_ROOT, which collectstatic needs.*"python manage\.py collectstatic --no-input"/);
  // 'mysite.settings' naming the package itself (its __init__.py importing the rest): the same.
  t.is((await detect(project('mysite.settings', { 'mysite/settings/__init__.py': 'from .base import *\n', 'mysite/settings/base.py': base }))).buildCommand, 'pip install -r requirements.txt');
  // Set in any of them (base.py, prod.py, __init__.py): collectstatic.
  for (const file of ['base.py', 'prod.py', '__init__.py']) {
    const files = { 'mysite/settings/__init__.py': '', 'mysite/settings/base.py': base, 'mysite/settings/prod.py': 'from .base import *\n', [`mysite/settings/${file}`]: `${base}STATIC_ROOT = BASE_DIR / 'staticfiles'\n` };
    t.is((await detect(project('mysite.settings.prod', files))).buildCommand, collect, file);
  }
  // What cannot all be read proposes collectstatic, as before: more files than are read, a subpackage, a file over the limit, no listing.
  const many = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`mysite/settings/s${i}.py`, '']));
  t.is((await detect(project('mysite.settings.s0', many))).buildCommand, collect, 'more than MAX_SETTINGS_FILES');
  t.is((await detect(project('mysite.settings.prod', { 'mysite/settings/prod.py': '', 'mysite/settings/components/static.py': "STATIC_ROOT = 'x'\n" }))).buildCommand, collect, 'a subpackage');
  t.is((await detect(project('mysite.settings.prod', { 'mysite/settings/prod.py': '', 'mysite/settings/base.py': 'x'.repeat(256 * 1024 + 1) }))).buildCommand, collect, 'over the limit');
  const { listDir: _, ...unlisted } = repo(project('mysite.settings.prod', { 'mysite/settings/prod.py': '' }));
  t.is((await detectStack(unlisted)).buildCommand, collect, 'no listing');
});

test('go: Render\'s build and start commands', async (t) => {
  t.like(await detect({ 'go.mod': 'module example.com/app\n', 'main.go': '' }), {
    stack: 'go', runtime: 'go', buildCommand: "go build -tags netgo -ldflags '-s -w' -o app", startCommand: './app',
  });
});

// Go's own module layout (go.dev/doc/modules/layout; golang-standards/project-layout) keeps the main package
// in cmd/<name>/ with no .go file at the root: `go build … -o app` at the root fails with "no Go files in
// /opt/render/project/src". Detection lists cmd/ (only then) and builds its one command.
test('go: a module whose main package is in cmd/<name>/ builds that package, not the empty root', async (t) => {
  const module = { 'go.mod': 'module example.com/api\n\ngo 1.22\n', 'go.sum': '', 'internal/handlers/h.go': 'package handlers\n' };
  const d = await detect({ ...module, 'cmd/api/main.go': 'package main\n\nfunc main() {}\n', 'cmd/README.md': '' });
  t.like(d, { stack: 'go', buildCommand: "go build -tags netgo -ldflags '-s -w' -o app ./cmd/api", startCommand: './app' });
  t.regex(d.reason, /cmd\/api/);
  // The main package right in cmd/; a Procfile's web: command starts what the same build made.
  t.is((await detect({ ...module, 'cmd/main.go': 'package main\n' })).buildCommand, "go build -tags netgo -ldflags '-s -w' -o app ./cmd");
  t.like(await detect({ ...module, 'cmd/api/main.go': '', Procfile: 'web: ./app -port $PORT\n' }), { buildCommand: "go build -tags netgo -ldflags '-s -w' -o app ./cmd/api", startCommand: './app -port $PORT' });
  // Directories go build skips are no commands; a root with Go files is built as before, cmd/ or not.
  t.is((await detect({ ...module, 'cmd/api/main.go': '', 'cmd/_tools/x.go': '', 'cmd/testdata/y.go': '' })).buildCommand, "go build -tags netgo -ldflags '-s -w' -o app ./cmd/api");
  t.is((await detect({ ...module, 'main.go': '', 'cmd/tool/main.go': '' })).buildCommand, "go build -tags netgo -ldflags '-s -w' -o app");
});

test('go: cmd/ with several commands, none, or no listing is refused, asking for the build command', async (t) => {
  const module = { 'go.mod': 'module example.com/api\n', 'main_test.go': 'package main\n' };
  const refused = async (files: RepoFiles, why: RegExp) => {
    const err = await t.throwsAsync(detectStack(files), { instanceOf: StackDetectionError });
    t.regex(err.message, why);
    t.regex(err.message, /render\.yaml/);
  };
  await refused(repo({ ...module, 'cmd/api/main.go': '', 'cmd/worker/main.go': '' }), /2 commands \(cmd\/api, cmd\/worker\)/);
  await refused(repo({ ...module, 'cmd/main.go': '', 'cmd/migrate/main.go': '' }), /2 commands \(cmd, cmd\/migrate\)/);
  await refused(repo({ ...module, 'cmd/README.md': '' }), /holds no Go package/);
  await refused(repo({ ...module, 'cmd/my api/main.go': '' }), /directory name/);
  // A RepoFiles that cannot list below the root cannot know which command: no guess.
  const { listDir: _, ...unlisted } = repo({ ...module, 'cmd/api/main.go': '' });
  await refused(unlisted, /could not be listed/);
});

test('ruby: plain puma app, Rails, and Rails winning over its package.json', async (t) => {
  t.like(await detect({ Gemfile: "source 'https://rubygems.org'\ngem 'sinatra'\ngem 'puma'\n", 'config.ru': '' }), {
    stack: 'ruby', runtime: 'ruby', buildCommand: 'bundle install', startCommand: 'bundle exec puma',
  });
  const rails = await detect({ Gemfile: 'gem "rails", "~> 8.0"\ngem "propshaft"\ngem "puma"\n', 'package.json': pkg({ scripts: { start: 'x' } }), 'config.ru': '' });
  t.like(rails, {
    stack: 'ruby',
    buildCommand: 'bundle install && bundle exec rake assets:precompile && bundle exec rake assets:clean',
    startCommand: 'bundle exec puma -C config/puma.rb',
  });
});

// `rails new --api` generates a Gemfile without an asset pipeline (no sprockets-rails, no propshaft), so the
// app has no assets:precompile task: `bundle exec rake assets:precompile` aborts with "Don't know how to
// build task 'assets:precompile'" and the Render build fails (the same bug in other platforms' detection:
// railwayapp/nixpacks#751, superfly/fly-rails#1).
test('ruby: an API-only Rails app (no sprockets/propshaft) builds without assets:precompile', async (t) => {
  const gemfile = [
    'source "https://rubygems.org"', '', 'ruby "3.3.0"', '',
    'gem "rails", "~> 7.1.3"', 'gem "pg", "~> 1.1"', 'gem "puma", ">= 5.0"',
    'gem "tzinfo-data", platforms: %i[ windows jruby ]', 'gem "bootsnap", require: false', '',
    'group :development, :test do', '  gem "debug", platforms: %i[ mri windows ]', 'end', '',
  ].join('\n');
  const d = await detect({ 'Gemfile': gemfile, 'Gemfile.lock': '', 'config.ru': '', 'config/application.rb': 'config.api_only = true', 'config/puma.rb': '' });
  t.is(d.stack, 'ruby');
  t.is(d.buildCommand, 'bundle install');
  t.is(d.startCommand, 'bundle exec puma -C config/puma.rb');
  t.regex(d.reason, /No asset pipeline gem/);
});

/** A Gemfile.lock whose bundle holds `gems` (each a spec, as Bundler writes them). */
const gemfileLock = (gems: string[]) => ['GEM', '  remote: https://rubygems.org/', '  specs:', ...gems.map((g) => `    ${g} (1.0.0)`), '', 'DEPENDENCIES', ...gems.map((g) => `  ${g}`), ''].join('\n');

test('ruby: the gems that define assets:precompile add it; those that only enhance it do not', async (t) => {
  const build = async (gems: string[]) => (await detect({ Gemfile: ['gem "rails"', ...gems.map((g) => `gem "${g}"`)].join('\n'), 'Gemfile.lock': gemfileLock(['rails', ...gems]) })).buildCommand;
  const precompiles = 'bundle install && bundle exec rake assets:precompile && bundle exec rake assets:clean';
  for (const gem of ['sprockets-rails', 'propshaft', 'sass-rails', 'sassc-rails', 'webpacker']) t.is(await build([gem]), precompiles, gem);
  t.is(await build(['jsbundling-rails', 'cssbundling-rails', 'importmap-rails', 'shakapacker', 'sprockets']), 'bundle install');
  t.is(await build(['importmap-rails', 'sprockets-rails']), precompiles, 'Rails 7.0\'s default Gemfile');
  // Not a Rails app: no rake assets tasks whatever the gems.
  t.is((await detect({ Gemfile: 'gem "sinatra"\ngem "sprockets"\ngem "puma"\n' })).buildCommand, 'bundle install');
});

// Up to 6.1 the rails gem itself depends on sprockets-rails (rails.gemspec), so a 6.1 app that moved from
// webpacker to jsbundling names no pipeline gem and still has assets:precompile, which runs javascript:build.
test('ruby: a Rails 6.1 app whose pipeline comes with rails (Gemfile.lock) still precompiles; without a lock, only api_only drops it', async (t) => {
  const precompiles = 'bundle install && bundle exec rake assets:precompile && bundle exec rake assets:clean';
  const gemfile = 'gem "rails", "~> 6.1"\ngem "jsbundling-rails"\ngem "cssbundling-rails"\ngem "puma"\n';
  const lock = ['GEM', '  specs:', '    rails (6.1.7)', '      actionpack (= 6.1.7)', '      sprockets-rails (>= 2.0.0)', '    sprockets-rails (3.4.2)', '    jsbundling-rails (1.3.0)', '', 'DEPENDENCIES', '  jsbundling-rails', '  rails (~> 6.1)', ''].join('\n');
  const withLock = await detect({ Gemfile: gemfile, 'Gemfile.lock': lock });
  t.is(withLock.buildCommand, precompiles);
  t.regex(withLock.reason, /sprockets-rails in Gemfile\.lock/);
  // No lockfile: which Rails is unknown, so the build keeps its precompile, unless the app says it is API-only.
  const unlocked = await detect({ Gemfile: gemfile });
  t.is(unlocked.buildCommand, precompiles);
  t.regex(unlocked.reason, /no Gemfile\.lock says which Rails/);
  t.is((await detect({ Gemfile: gemfile, 'config/application.rb': 'module App\n  class Application < Rails::Application\n    config.api_only = true\n  end\nend\n' })).buildCommand, 'bundle install');
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

test('over the GitHub simulator, a Go module\'s cmd/ is listed, once and only when its root has no Go file', async (t) => {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  sim.addUser({ login: 'gopher' });
  const gomod = { 'go.mod': 'module example.com/api\n\ngo 1.22\n' };
  sim.addRepo({
    owner: 'gopher', name: 'api',
    branches: {
      layout: { ...gomod, 'cmd/api/main.go': 'package main\n', 'internal/x/x.go': 'package x\n' },
      two: { ...gomod, 'cmd/api/main.go': 'package main\n', 'cmd/worker/main.go': 'package main\n' },
      root: { ...gomod, 'main.go': 'package main\n', 'cmd/tool/main.go': 'package main\n' },
    },
  });
  const gh = createGitHubClient({ apiUrl: sim.apiUrl, token: sim.issueToken('gopher'), retries: false });
  const listings = () => sim.calls.filter((c) => c.path.includes('/contents/cmd')).length;
  t.like(await detectStack(await repoFilesFromGitHub(gh, 'gopher', 'api', 'layout')), { stack: 'go', buildCommand: "go build -tags netgo -ldflags '-s -w' -o app ./cmd/api" });
  t.is(listings(), 1);
  await t.throwsAsync(detectStack(await repoFilesFromGitHub(gh, 'gopher', 'api', 'two')), { instanceOf: StackDetectionError, message: /2 commands \(cmd\/api, cmd\/worker\)/ });
  t.is(listings(), 2);
  t.like(await detectStack(await repoFilesFromGitHub(gh, 'gopher', 'api', 'root')), { buildCommand: "go build -tags netgo -ldflags '-s -w' -o app" });
  t.is(listings(), 2, 'a root with a Go file lists nothing');
});

test.after('every preset is exercised by some test', (t) => {
  t.deepEqual([...seen].sort(), ['docker', 'elixir', 'go', 'node', 'python', 'ruby', 'rust', 'static']);
});
