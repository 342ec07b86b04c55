import { fromTemplate, has, procfileStart, type Refiner } from './refiner.js';
import type { RepoFiles } from './types.js';

interface Installer { build: string; run: string; via: string }

async function installer(files: RepoFiles, pyproject: string | null): Promise<Installer> {
  if (has(files, 'requirements.txt')) return { build: 'pip install -r requirements.txt', run: '', via: 'requirements.txt' };
  if (has(files, 'uv.lock')) return { build: 'pip install uv && uv sync --frozen', run: 'uv run ', via: 'uv (uv.lock)' };
  if (has(files, 'poetry.lock') || /^\[tool\.poetry\]/m.test(pyproject ?? '')) {
    return { build: 'poetry install --no-root', run: 'poetry run ', via: 'Poetry' };
  }
  if (has(files, 'Pipfile')) return { build: 'pip install pipenv && pipenv install --deploy --system', run: '', via: 'Pipfile' };
  return { build: 'pip install .', run: '', via: 'pyproject.toml' };
}

/** The dependency declarations, lower-cased, for "does it use django/fastapi/gunicorn" checks. */
async function dependencyText(files: RepoFiles, pyproject: string | null): Promise<string> {
  const parts = [pyproject ?? ''];
  for (const f of ['requirements.txt', 'Pipfile']) if (has(files, f)) parts.push((await files.read(f)) ?? '');
  return parts.join('\n').toLowerCase();
}

function uses(deps: string, name: string): boolean {
  return new RegExp(`(^|[\\s"'\\[,])${name}([\\s=<>~!\\[;,"']|$)`, 'm').test(deps);
}

export const detectPython: Refiner = async (files, t) => {
  const pyproject = has(files, 'pyproject.toml') ? await files.read('pyproject.toml') : null;
  const inst = await installer(files, pyproject);
  const procfile = await procfileStart(files);
  if (procfile) {
    return fromTemplate(t, `Python project (${inst.via}); starts with the Procfile web: command.`, { buildCommand: inst.build, startCommand: procfile });
  }
  const deps = await dependencyText(files, pyproject);
  const missing = (server: string) => (uses(deps, server) ? '' : ` Add ${server} to your dependencies.`);

  if (has(files, 'manage.py') && uses(deps, 'django')) {
    const manage = (await files.read('manage.py')) ?? '';
    const settings = /DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([\w.]+)\.settings['"]/.exec(manage)?.[1];
    const project = settings ?? 'config';
    return fromTemplate(t, `Django project (${inst.via}, manage.py)${settings ? '' : '; the project module was not found in manage.py, so "config" is assumed'}.${missing('gunicorn')}`, {
      buildCommand: inst.build,
      startCommand: `${inst.run}gunicorn ${project}.wsgi:application`,
    });
  }
  const module = has(files, 'main.py') ? 'main' : has(files, 'app.py') ? 'app' : has(files, 'wsgi.py') ? 'wsgi' : 'app';
  if (uses(deps, 'fastapi')) {
    return fromTemplate(t, `FastAPI project (${inst.via}); serves ${module}:app with uvicorn.${missing('uvicorn')}`, {
      buildCommand: inst.build,
      startCommand: `${inst.run}uvicorn ${module}:app --host 0.0.0.0 --port $PORT`,
    });
  }
  const flaskModule = has(files, 'app.py') ? 'app' : module;
  return fromTemplate(t, `Python project (${inst.via}); serves ${flaskModule}:app with gunicorn.${missing('gunicorn')}`, {
    buildCommand: inst.build,
    startCommand: `${inst.run}gunicorn ${flaskModule}:app`,
  });
};
