import { exists, fromTemplate, has, procfileStart, procfileWorkerOnly, readWithinLimit, type Refiner } from './refiner.js';
import { FileOverLimit, type RepoFiles } from './types.js';
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
async function dependencyText(files: RepoFiles, pyproject: string | null, pipfile: string | null): Promise<string> {
  const parts = [pyproject ?? ''];
  if (has(files, 'requirements.txt')) parts.push((await files.read('requirements.txt')) ?? '');
  if (pipfile !== null) parts.push(pipfile);
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

/** What a TOML manifest declares through its tables' keys rather than on one `name = …` line. */
export interface TomlDependencies {
  /** Packages named as a key of a dependency table, whatever the form: `[tool.poetry.dependencies.fastapi]`, `fastapi.version = …`, `"fastapi" = …`. */
  names: Set<string>;
  /** fastapi is given an extra that installs uvicorn as a key of its own: `extras = ["standard"]` in its table, or `fastapi.extras = […]`. */
  fastapiUvicorn: boolean;
}

/**
 * The tables whose keys are dependencies (lower-cased key paths): Poetry's main, legacy dev and group
 * tables in pyproject.toml, a Pipfile's [packages] and [dev-packages].
 */
function isDependencyTable(path: readonly string[]): boolean {
  if (path.length === 1) return path[0] === 'packages' || path[0] === 'dev-packages';
  if (path[0] !== 'tool' || path[1] !== 'poetry') return false;
  if (path.length === 3) return path[2] === 'dependencies' || path[2] === 'dev-dependencies';
  return path.length === 5 && path[2] === 'group' && path[4] === 'dependencies';
}

/** The dependency a full key path is about (`tool.poetry.dependencies.fastapi.extras`: fastapi, and the keys below it), or null. */
function dependencyAt(path: readonly string[]): { name: string; below: string[] } | null {
  for (const length of [1, 3, 5]) {
    if (path.length > length && isDependencyTable(path.slice(0, length))) return { name: path[length]!, below: path.slice(length + 1) };
  }
  return null;
}

/**
 * The TOML key path starting at `from` (`tool.poetry."dependencies" . fastapi`): bare keys and quoted
 * ones joined by dots, spaces allowed around the dots (toml.io/en/v1.0.0#keys), and the index just past
 * it and the spaces after it. Null when no key starts there, or a quoted key holds an escape (no package
 * name needs one). One pass over the characters it reads.
 */
function tomlKeyPath(line: string, from: number): { keys: string[]; end: number } | null {
  const keys: string[] = [];
  let i = skipSpaces(line, from);
  for (;;) {
    const quote = line[i];
    let key: string;
    if (quote === '"' || quote === "'") {
      let close = i + 1;
      while (close < line.length && line[close] !== quote && !(quote === '"' && line[close] === '\\')) close++;
      if (line[close] !== quote) return null;
      key = line.slice(i + 1, close);
      i = close + 1;
    } else {
      const start = i;
      while (i < line.length && isBareKeyChar(line[i]!)) i++;
      if (i === start) return null;
      key = line.slice(start, i);
    }
    keys.push(key);
    i = skipSpaces(line, i);
    if (line[i] !== '.') return { keys, end: i };
    i = skipSpaces(line, i + 1);
  }
}

const isBareKeyChar = (ch: string) => (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch === '_' || ch === '-';

/**
 * The key path of a `[table]` header line (after its leading spaces), or null for anything else: an
 * array of tables (`[[tool.poetry.source]]`, whose keys are no dependencies), a header that does not
 * close, or text after it.
 */
function tableHeader(line: string, start: number): string[] | null {
  if (line[start + 1] === '[') return null;
  const path = tomlKeyPath(line, start + 1);
  if (path === null || line[path.end] !== ']' || skipSpaces(line, path.end + 1) !== line.length) return null;
  return path.keys;
}

/**
 * The dependencies one TOML manifest (pyproject.toml, a Pipfile) declares as keys, table by table: the
 * separate-table form Poetry and Pipenv read like the inline one (`[tool.poetry.dependencies.fastapi]`
 * with `version = "^0.115"` and `extras = ["standard"]` under it is `fastapi = {version = "^0.115",
 * extras = ["standard"]}`), dotted keys (`fastapi.extras = ["standard"]` in [tool.poetry.dependencies])
 * and quoted names (`[tool.poetry.dependencies."fastapi"]`). One pass over the lines; a line too long to
 * read whole is skipped, and a header too long to read leaves the keys after it in no known table (so
 * they declare nothing). An extras list is read on its line, up to MAX_EXTRAS_CHARS, as the inline form's.
 */
export function tomlDependencies(toml: string): TomlDependencies {
  const names = new Set<string>();
  let fastapiUvicorn = false;
  // The table the keys below belong to: the root table at first; null after a header that cannot be read.
  let table: string[] | null = [];
  for (const { text, clipped } of linesOf(toml.toLowerCase())) {
    const line = withoutComment(text);
    const start = skipSpaces(line, 0);
    if (line[start] === '[') {
      table = clipped ? null : tableHeader(line, start);
      const dep = table === null ? null : dependencyAt(table);
      if (dep !== null) names.add(dep.name);
      continue;
    }
    if (clipped || table === null) continue;
    const key = tomlKeyPath(line, start);
    if (key === null || line[key.end] !== '=') continue;
    const dep = dependencyAt([...table, ...key.keys]);
    if (dep === null) continue;
    names.add(dep.name);
    if (dep.name === 'fastapi' && dep.below.length === 1 && dep.below[0] === 'extras' && extrasBringUvicorn(line, key.end)) fastapiUvicorn = true;
  }
  return { names, fastapiUvicorn };
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

/** The most files of a settings package read for STATIC_ROOT (each within MAX_FILE_CHARS): startproject splits and cookiecutter-django's have 3 to 6. */
export const MAX_SETTINGS_FILES = 8;

/**
 * Whether the project's settings set STATIC_ROOT: 'set', 'unset' (every settings file was read and none
 * does), or 'unknown'. <project>/settings.py when there is one; else the settings package,
 * <project>/settings/ (mysite.settings.production: production.py importing base.py's settings), listed
 * once and each of its .py files read, __init__.py and base.py first, at most MAX_SETTINGS_FILES of them:
 * STATIC_ROOT set in any of them counts as set (a split's modules import each other's settings). A
 * package with more files, subpackages, or a file over the read limit, that sets none in what was read,
 * is 'unknown', as is one that cannot be listed.
 */
async function staticRootSetting(files: RepoFiles, project: string): Promise<{ state: 'set' | 'unset' | 'unknown'; where: string }> {
  const dir = project.replaceAll('.', '/');
  const module = `${dir}/settings.py`;
  if (!files.dirs.includes(project.split('.')[0]!)) return { state: 'unknown', where: module };
  let text: string | null;
  try {
    text = await files.read(module);
  } catch (err) {
    if (err instanceof FileOverLimit) return { state: 'unknown', where: module };
    throw err;
  }
  if (text !== null) return { state: setsStaticRoot(text) ? 'set' : 'unset', where: module };
  const where = `${dir}/settings/`;
  const listing = files.listDir ? await files.listDir(`${dir}/settings`) : null;
  const modules = listing?.files.filter((f) => f.endsWith('.py')) ?? [];
  if (listing === null || modules.length === 0) return { state: 'unknown', where };
  const first = ['__init__.py', 'base.py'];
  const order = [...first.filter((f) => modules.includes(f)), ...modules.filter((f) => !first.includes(f)).sort()];
  let complete = order.length <= MAX_SETTINGS_FILES && listing.dirs.every((d) => d === '__pycache__');
  for (const name of order.slice(0, MAX_SETTINGS_FILES)) {
    const settings = await readWithinLimit(files, `${where}${name}`);
    if (settings === null) complete = false;
    else if (setsStaticRoot(settings)) return { state: 'set', where };
  }
  return { state: complete ? 'unset' : 'unknown', where };
}

/**
 * Render's Django guide builds with `python manage.py collectstatic --no-input`: gunicorn serves no static
 * files; WhiteNoise serves those collectstatic gathers into STATIC_ROOT, and none are there unless the
 * build gathers them (Heroku's Python buildpack ran collectstatic by itself; Render runs only the build
 * command). So with WhiteNoise among the dependencies the build runs it. collectstatic fails the build
 * when STATIC_ROOT is not set: settings that set none (staticRootSetting: <project>/settings.py, or every
 * file of a settings package <project>/settings/) get a note saying what to do instead.
 */
async function djangoStatic(files: RepoFiles, declares: (name: string) => boolean, inst: Installer, project: string): Promise<DjangoStatic> {
  if (!declares('whitenoise')) return { build: inst.build, note: '' };
  const { state, where } = await staticRootSetting(files, project);
  if (state === 'unset') {
    const what = where.endsWith('/') ? `no file of ${where} sets STATIC_ROOT` : `${where} sets no STATIC_ROOT`;
    return { build: inst.build, note: ` WhiteNoise is a dependency, but ${what}, which collectstatic needs: set it and add "${inst.run}python manage.py collectstatic --no-input" to the build command.` };
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
  const pipfile = has(files, 'Pipfile') ? await files.read('Pipfile') : null;
  const inst = await installer(files, pyproject);
  const deps = dependencyLines(await dependencyText(files, pyproject, pipfile));
  // Each TOML manifest on its own: a table's keys belong to the file whose header they follow.
  const tables = [pyproject, pipfile].map((toml) => tomlDependencies(toml ?? ''));
  const declares = (name: string) => uses(deps, name) || tables.some((found) => found.names.has(name));
  const missing = (server: string) => (declares(server) ? '' : ` Add ${server} to your dependencies.`);
  const django = has(files, 'manage.py') && declares('django');
  const manage = django ? (await files.read('manage.py')) ?? '' : '';
  const named = django ? djangoProject(manage) : undefined;
  // '..settings' would start "gunicorn ..wsgi:application": not a module a project can have.
  const settings = named !== undefined && isDottedName(named) ? named : undefined;
  const project = settings ?? 'config';
  const procfile = await procfileStart(files);
  if (procfile) {
    // A Django app from Heroku: its buildpack gathered the static files, Render's build must.
    const statics = django ? await djangoStatic(files, declares, inst, project) : { build: inst.build, note: '' };
    return fromTemplate(t, `Python project (${inst.via}); starts with the Procfile web: command.${statics.note}`, { buildCommand: statics.build, startCommand: procfile });
  }
  // detect.ts runs the Procfile's worker: no web server to propose, nor to ask for.
  if (await procfileWorkerOnly(files)) return fromTemplate(t, `Python project (${inst.via}).`, { buildCommand: inst.build });

  if (django) {
    const statics = await djangoStatic(files, declares, inst, project);
    return fromTemplate(t, `Django project (${inst.via}, manage.py)${settings ? '' : '; the project module was not found in manage.py, so "config" is assumed'}.${missing('gunicorn')}${statics.note}`, {
      buildCommand: statics.build,
      startCommand: `${inst.run}gunicorn ${project}.wsgi:application`,
    });
  }
  const root = has(files, 'main.py') ? 'main' : has(files, 'app.py') ? 'app' : has(files, 'wsgi.py') ? 'wsgi' : null;
  if (declares('fastapi')) {
    const found = await fastapiModule(files, root);
    const module = found ?? 'app';
    const uvicorn = fastapiBringsUvicorn(deps) || tomlFastapiBringsUvicorn(deps) || tables.some((found) => found.fastapiUvicorn) ? '' : missing('uvicorn');
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
