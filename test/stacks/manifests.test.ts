import test from 'ava';
import { detectStack, type RepoFiles } from '../../server/stacks/detect.js';

// Manifest lines that name a framework without depending on it must not choose the start command.

function repo(files: Record<string, string>): RepoFiles {
  const list = Object.keys(files).filter((p) => !p.includes('/')).sort();
  const dirs = [...new Set(Object.keys(files).filter((p) => p.includes('/')).map((p) => p.split('/')[0]!))].sort();
  return { list, dirs, read: async (p) => files[p] ?? null };
}
const detect = (files: Record<string, string>) => detectStack(repo(files));

test('a dependency named only in a comment is not a dependency (requirements.txt, pyproject.toml, Pipfile)', async (t) => {
  const flask = await detect({ 'requirements.txt': 'flask\ngunicorn  # fastapi once we move\n', 'main.py': '' });
  t.is(flask.startCommand, 'gunicorn main:app');
  const commentedDjango = await detect({ 'requirements.txt': '# django==4.2 (removed)\nflask\ngunicorn\n', 'manage.py': '', 'app.py': '' });
  t.is(commentedDjango.startCommand, 'gunicorn app:app');
  const toml = await detect({ 'pyproject.toml': '[project]\nname = "x"\ndependencies = [\n  "flask",  # not "fastapi"\n  "gunicorn",\n]\n', 'app.py': '' });
  t.is(toml.startCommand, 'gunicorn app:app');
  t.false(toml.reason.includes('Add gunicorn'), toml.reason);
});

test('manage.py: a settings module that is not a dotted Python name is not the project', async (t) => {
  const files = (module: string) => ({ 'requirements.txt': 'django\ngunicorn\n', 'manage.py': `os.environ.setdefault('DJANGO_SETTINGS_MODULE', '${module}')\n` });
  t.is((await detect(files('mysite.settings'))).startCommand, 'gunicorn mysite.wsgi:application');
  t.is((await detect(files('conf.prod.settings'))).startCommand, 'gunicorn conf.prod.wsgi:application');
  for (const module of ['..settings', 'a..b.settings', '.a.settings', '1site.settings']) {
    t.is((await detect(files(module))).startCommand, 'gunicorn config.wsgi:application', module);
  }
});

test('packageManager: yarn 2 and later, whatever the number of digits, is berry', async (t) => {
  const yarn = async (version: string) => (await detect({ 'package.json': JSON.stringify({ packageManager: `yarn@${version}`, scripts: { start: 'node .' } }), 'yarn.lock': '' })).buildCommand;
  t.is(await yarn('1.22.22'), 'yarn install --frozen-lockfile');
  t.is(await yarn('4.5.0'), 'yarn install --immutable');
  t.is(await yarn('10.0.0'), 'yarn install --immutable');
  t.is(await yarn('1x'), 'yarn install --frozen-lockfile');
});

test('packageManager without its lockfile installs without the frozen-lockfile flag, which would fail for want of one', async (t) => {
  const build = async (packageManager: string, extra: Record<string, string> = {}) =>
    (await detect({ 'package.json': JSON.stringify({ packageManager, scripts: { start: 'node .' } }), ...extra })).buildCommand;
  t.is(await build('pnpm@9.12.0'), 'pnpm install');
  t.is(await build('pnpm@9.12.0', { 'pnpm-lock.yaml': '' }), 'pnpm install --frozen-lockfile');
  t.is(await build('yarn@4.5.0'), 'yarn install');
  t.is(await build('yarn@4.5.0', { 'yarn.lock': '' }), 'yarn install --immutable');
  t.is(await build('yarn@1.22.22'), 'yarn install');
  t.is(await build('yarn@1.22.22', { 'yarn.lock': '' }), 'yarn install --frozen-lockfile');
});
