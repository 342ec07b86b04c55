import { exists, fromTemplate, has, procfileStart, procfileWorkerOnly, readWithinLimit, type Refiner } from './refiner.js';
import type { RepoFiles } from './types.js';
import { isSpace, linesOf, occurrences, skipSpaces, skipSpacesBack } from './lines.js';

interface Installer { build: string; run: string; via: string }

async function installer(files: RepoFiles, pyproject: string | null): Promise<Installer> {
  if (has(files, 'requirements.txt')) return { build: 'pip install -r requirements.txt', run: '', via: 'requirements.txt' };
  if (has(files, 'uv.lock')) return { build: 'pip install uv && uv sync --frozen', run: 'uv run ', via: 'uv (uv.lock)' };
  if (has(files, 'poetry.lock') || hasTomlTable(pyproject ?? '', 'tool.poetry')) {
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

/** Whether a TOML file has a line starting with the table header `[name]`. */
function hasTomlTable(toml: string, name: string): boolean {
  const header = `[${name}]`;
  for (const { text } of linesOf(toml)) if (text.startsWith(header)) return true;
  return false;
}

// What may stand either side of a package name in requirements.txt, pyproject.toml or a Pipfile.
const BEFORE_NAME = new Set(['"', "'", '[', ',']);
const AFTER_NAME = new Set(['=', '<', '>', '~', '!', '[', ';', ',', '"', "'"]);

/** The lines of dependency declarations worth searching: not blank, not too long to read, comments cut off. */
export function dependencyLines(deps: string): string[] {
  const out: string[] = [];
  for (const { text, clipped } of linesOf(deps)) {
    if (clipped) continue;
    const code = withoutComment(text);
    if (code.trim() !== '') out.push(code);
  }
  return out;
}

/**
 * A line up to its comment: requirements.txt, TOML and Pipfile comments begin with a # at the start
 * of a line or after whitespace (a # right after other text, as in a URL's #egg=name, is not one).
 */
function withoutComment(line: string): string {
  for (const at of occurrences(line, '#')) if (at === 0 || isSpace(line[at - 1])) return line.slice(0, at);
  return line;
}

/** A Python module path: identifiers (not starting with a digit) joined by single dots. */
function isDottedName(module: string): boolean {
  return module.split('.').every((part) => part !== '' && !(part[0]! >= '0' && part[0]! <= '9') && [...part].every(isModuleChar));
}

/** Whether `name` appears as a whole dependency name on some line (one indexOf scan per line). */
export function uses(lines: readonly string[], name: string): boolean {
  for (const text of lines) {
    for (const at of occurrences(text, name)) {
      const before = text[at - 1];
      const after = text[at + name.length];
      if ((before === undefined || isSpace(before) || BEFORE_NAME.has(before)) && (after === undefined || isSpace(after) || AFTER_NAME.has(after))) return true;
    }
  }
  return false;
}

/** FastAPI's extras that install uvicorn: `standard` (fastapi-cli[standard] brings uvicorn[standard]), its variant without the cloud CLI, and `all`. */
const UVICORN_EXTRAS = new Set(['standard', 'standard-no-fastapi-cloud-cli', 'all']);

/** Longer than any real extras list: one is not looked into (a hostile file repeating `fastapi[` before a far `]`). */
const MAX_EXTRAS_CHARS = 256;

/**
 * Whether some line declares fastapi with an extra that installs uvicorn (`fastapi[standard]>=0.112`).
 * Each line's next `]` is found once per stretch, not once per occurrence, and an extras list is read only
 * up to MAX_EXTRAS_CHARS: linear however it repeats (copied whole from each occurrence, a 256 KiB
 * requirements.txt of `fastapi[` × 256 before 2,000 commas and a `]` took seconds).
 */
export function fastapiBringsUvicorn(lines: readonly string[]): boolean {
  const name = 'fastapi[';
  for (const text of lines) {
    let close = -1;
    for (const at of occurrences(text, name)) {
      const before = text[at - 1];
      if (before !== undefined && !isSpace(before) && !BEFORE_NAME.has(before)) continue;
      if (close < at) close = text.indexOf(']', at);
      if (close === -1) break;
      if (close - at > MAX_EXTRAS_CHARS) continue;
      if (text.slice(at + name.length, close).split(',').some((extra) => UVICORN_EXTRAS.has(extra.trim()))) return true;
    }
  }
  return false;
}

/**
 * Whether some line declares fastapi as a TOML inline table with an extra that installs uvicorn, as Poetry
 * and Pipenv write it (`fastapi = {extras = ["standard"], version = "^0.115"}`, in pyproject.toml's
 * [tool.poetry.dependencies] or a Pipfile's [packages]): what `fastapi[standard]` says in requirements.txt.
 * `lines` are dependencyLines (lower-cased, comments cut); an inline table is one line in TOML. One pass;
 * each extras list is read up to MAX_EXTRAS_CHARS.
 */
export function tomlFastapiBringsUvicorn(lines: readonly string[]): boolean {
  for (const text of lines) {
    const line = text.trim();
    if (tomlKey(line) !== 'fastapi') continue;
    const value = skipSpaces(line, line.indexOf('=') + 1);
    if (line[value] !== '{') continue;
    for (const at of occurrences(line, 'extras')) {
      const before = line[skipSpacesBack(line, at) - 1];
      if ((before === '{' || before === ',') && extrasBringUvicorn(line, at + 'extras'.length)) return true;
    }
  }
  return false;
}

/** The bare or quoted key of a TOML `key = value` line, unquoted, or null. */
function tomlKey(line: string): string | null {
  const eq = line.indexOf('=');
  if (eq <= 0) return null;
  let key = line.slice(0, eq).trim();
  if (key.length >= 2 && (key[0] === '"' || key[0] === "'") && key.at(-1) === key[0]) key = key.slice(1, -1);
  return key;
}

/** Whether `= [ "…", … ]` right after `from` lists an extra that installs uvicorn (the list read up to MAX_EXTRAS_CHARS). */
function extrasBringUvicorn(line: string, from: number): boolean {
  let i = skipSpaces(line, from);
  if (line[i] !== '=') return false;
  i = skipSpaces(line, i + 1);
  if (line[i] !== '[') return false;
  // Looked for only as far as an extras list can reach: the line may hold `extras = [` hundreds of times.
  let close = i + 1;
  while (close < line.length && close - i <= MAX_EXTRAS_CHARS && line[close] !== ']') close++;
  if (line[close] !== ']') return false;
  return line.slice(i + 1, close).split(',').some((extra) => {
    const word = extra.trim();
    const unquoted = word.length >= 2 && (word[0] === '"' || word[0] === "'") && word.at(-1) === word[0] ? word.slice(1, -1).trim() : null;
    return unquoted !== null && UVICORN_EXTRAS.has(unquoted);
  });
}

/**
 * The Django project module from manage.py's `…'DJANGO_SETTINGS_MODULE', 'mysite.settings'…`: a scan
 * from each occurrence of the key, never backtracking (spaces between the tokens may span lines).
 */
export function djangoProject(manage: string): string | undefined {
  const key = 'DJANGO_SETTINGS_MODULE';
  for (const at of occurrences(manage, key)) {
    let i = at + key.length;
    if (!isQuote(manage[i])) continue;
    i = skipSpaces(manage, i + 1);
    if (manage[i] !== ',') continue;
    i = skipSpaces(manage, i + 1);
    if (!isQuote(manage[i])) continue;
    const start = i + 1;
    let end = start;
    while (end < manage.length && isModuleChar(manage[end]!)) end++;
    if (!isQuote(manage[end])) continue;
    const project = projectOfSettings(manage.slice(start, end));
    if (project !== undefined) return project;
  }
  return undefined;
}

/**
 * The project of a settings module: what comes before its first `settings` segment. startproject's
 * 'mysite.settings' and a settings package's 'mysite.settings.production' (cookiecutter-django's
 * 'config.settings.local') both have their wsgi.py in mysite/.
 */
function projectOfSettings(module: string): string | undefined {
  const parts = module.split('.');
  for (let i = 1; i < parts.length; i++) {
    // Something must come before: '.settings' names no project.
    if (parts[i] === 'settings' && (i > 1 || parts[0] !== '')) return parts.slice(0, i).join('.');
  }
  return undefined;
}

const isQuote = (ch: string | undefined) => ch === '"' || ch === "'";
// Python identifier characters as the old /[\w.]/ saw them: ASCII letters, digits, _ and dots.
const isModuleChar = (ch: string) => (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch === '_' || ch === '.';

/** What makes a Django app's build gather its static files, and what the user is told about it. */
interface DjangoStatic { build: string; note: string }

/**
 * Render's Django guide builds with `python manage.py collectstatic --no-input`: gunicorn serves no static
 * files; WhiteNoise serves those collectstatic gathers into STATIC_ROOT, and none are there unless the
 * build gathers them (Heroku's Python buildpack ran collectstatic by itself; Render runs only the build
 * command). So with WhiteNoise among the dependencies the build runs it. collectstatic fails the build
 * when STATIC_ROOT is not set: a <project>/settings.py that sets none (no line starting STATIC_ROOT) gets
 * a note saying what to do instead. A settings package (mysite/settings/) is not looked into.
 */
async function djangoStatic(files: RepoFiles, deps: readonly string[], inst: Installer, project: string): Promise<DjangoStatic> {
  if (!uses(deps, 'whitenoise')) return { build: inst.build, note: '' };
  const path = `${project.replaceAll('.', '/')}/settings.py`;
  const settings = files.dirs.includes(project.split('.')[0]!) ? await readWithinLimit(files, path) : null;
  if (settings !== null && !setsStaticRoot(settings)) {
    return { build: inst.build, note: ` WhiteNoise is a dependency, but ${path} sets no STATIC_ROOT, which collectstatic needs: set it and add "${inst.run}python manage.py collectstatic --no-input" to the build command.` };
  }
  return { build: `${inst.build} && ${inst.run}python manage.py collectstatic --no-input`, note: ' Gathers the static files WhiteNoise serves (collectstatic), as Render\'s Django guide does.' };
}

/** Whether a settings module has a line starting `STATIC_ROOT` (a scan of its lines, no regex on the file). */
function setsStaticRoot(settings: string): boolean {
  for (const { text, clipped } of linesOf(settings)) {
    if (clipped) continue;
    const line = text.trimStart();
    if (line.startsWith('STATIC_ROOT') && !isModuleChar(line['STATIC_ROOT'.length] ?? ' ')) return true;
  }
  return false;
}

/**
 * The module of a FastAPI app: a root main.py, app.py or wsgi.py, else FastAPI's "Bigger Applications"
 * layout, app/main.py (run as app.main:app), when the repository has that file. Null: none is known.
 */
async function fastapiModule(files: RepoFiles, root: string | null): Promise<string | null> {
  if (root !== null) return root;
  return files.dirs.includes('app') && await exists(files, 'app/main.py') ? 'app.main' : null;
}

export const detectPython: Refiner = async (files, t) => {
  const pyproject = has(files, 'pyproject.toml') ? await files.read('pyproject.toml') : null;
  const inst = await installer(files, pyproject);
  const deps = dependencyLines(await dependencyText(files, pyproject));
  const missing = (server: string) => (uses(deps, server) ? '' : ` Add ${server} to your dependencies.`);
  const django = has(files, 'manage.py') && uses(deps, 'django');
  const manage = django ? (await files.read('manage.py')) ?? '' : '';
  const named = django ? djangoProject(manage) : undefined;
  // '..settings' would start "gunicorn ..wsgi:application": not a module a project can have.
  const settings = named !== undefined && isDottedName(named) ? named : undefined;
  const project = settings ?? 'config';
  const procfile = await procfileStart(files);
  if (procfile) {
    // A Django app from Heroku: its buildpack gathered the static files, Render's build must.
    const statics = django ? await djangoStatic(files, deps, inst, project) : { build: inst.build, note: '' };
    return fromTemplate(t, `Python project (${inst.via}); starts with the Procfile web: command.${statics.note}`, { buildCommand: statics.build, startCommand: procfile });
  }
  // detect.ts runs the Procfile's worker: no web server to propose, nor to ask for.
  if (await procfileWorkerOnly(files)) return fromTemplate(t, `Python project (${inst.via}).`, { buildCommand: inst.build });

  if (django) {
    const statics = await djangoStatic(files, deps, inst, project);
    return fromTemplate(t, `Django project (${inst.via}, manage.py)${settings ? '' : '; the project module was not found in manage.py, so "config" is assumed'}.${missing('gunicorn')}${statics.note}`, {
      buildCommand: statics.build,
      startCommand: `${inst.run}gunicorn ${project}.wsgi:application`,
    });
  }
  const root = has(files, 'main.py') ? 'main' : has(files, 'app.py') ? 'app' : has(files, 'wsgi.py') ? 'wsgi' : null;
  if (uses(deps, 'fastapi')) {
    const found = await fastapiModule(files, root);
    const module = found ?? 'app';
    const uvicorn = fastapiBringsUvicorn(deps) || tomlFastapiBringsUvicorn(deps) ? '' : missing('uvicorn');
    return fromTemplate(t, `FastAPI project (${inst.via}); serves ${module}:app with uvicorn.${found === null ? ' No main.py, app.py or app/main.py was found, so "app" is assumed.' : ''}${uvicorn}`, {
      buildCommand: inst.build,
      startCommand: `${inst.run}uvicorn ${module}:app --host 0.0.0.0 --port $PORT`,
    });
  }
  const flaskModule = has(files, 'app.py') ? 'app' : root ?? 'app';
  return fromTemplate(t, `Python project (${inst.via}); serves ${flaskModule}:app with gunicorn.${missing('gunicorn')}`, {
    buildCommand: inst.build,
    startCommand: `${inst.run}gunicorn ${flaskModule}:app`,
  });
};
