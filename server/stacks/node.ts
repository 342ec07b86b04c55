import { StackDetectionError, type RepoFiles } from './types.js';
import { fromTemplate, has, procfileStart, type Refiner } from './refiner.js';
import { firstControl, MAX_LINE_CHARS } from './lines.js';

interface PackageJson {
  main?: unknown;
  scripts?: Record<string, unknown>;
  packageManager?: unknown;
  dependencies?: Record<string, unknown>;
  devDependencies?: Record<string, unknown>;
}

interface Manager { name: string; install: string; locked: boolean; run: (script: string) => string; start: string }

function manager(files: RepoFiles, pkg: PackageJson): Manager {
  const declared = typeof pkg.packageManager === 'string' ? pkg.packageManager : '';
  // A frozen install refuses to run without the lockfile it freezes: a manager chosen by packageManager
  // alone installs plainly, as npm install stands in for npm ci.
  if (has(files, 'pnpm-lock.yaml') || declared.startsWith('pnpm@')) {
    const install = has(files, 'pnpm-lock.yaml') ? 'pnpm install --frozen-lockfile' : 'pnpm install';
    return { name: 'pnpm', install, locked: install !== 'pnpm install', run: (s) => `pnpm run ${s}`, start: 'pnpm start' };
  }
  if (has(files, 'yarn.lock') || declared.startsWith('yarn@')) {
    // Yarn 2+ ("berry") renamed --frozen-lockfile to --immutable.
    const berry = has(files, '.yarnrc.yml') || Number(/^yarn@(\d+)\./.exec(declared)?.[1]) >= 2;
    const locked = has(files, 'yarn.lock');
    const install = !locked ? 'yarn install' : berry ? 'yarn install --immutable' : 'yarn install --frozen-lockfile';
    return { name: 'yarn', install, locked, run: (s) => `yarn run ${s}`, start: 'yarn start' };
  }
  // npm ci refuses to run without a lockfile.
  const locked = has(files, 'package-lock.json', 'npm-shrinkwrap.json');
  return { name: 'npm', install: locked ? 'npm ci' : 'npm install', locked, run: (s) => `npm run ${s}`, start: 'npm start' };
}

// Where common front-end tools write their build, for package.json projects with no server.
const PUBLISH_DIRS: Array<[string, string]> = [
  ['react-scripts', 'build'], ['@sveltejs/kit', 'build'], ['gatsby', 'public'], ['next', 'out'],
  ['vite', 'dist'], ['astro', 'dist'], ['@vue/cli-service', 'dist'], ['parcel', 'dist'],
];

/** Whether a dependencies object names `dep` (anything else, e.g. a huge array, names nothing). */
function declares(deps: unknown, dep: string): boolean {
  return typeof deps === 'object' && deps !== null && !Array.isArray(deps) && Object.hasOwn(deps, dep);
}

/** package.json "main" as a file path we can start: a line of printable characters, or null. */
function mainFile(main: unknown): string | null {
  if (typeof main !== 'string' || main.length > MAX_LINE_CHARS || firstControl(main) !== null) return null;
  return main.trim() || null;
}

/**
 * A path as one shell word: "main" is a file name, not a command, so its spaces and metacharacters
 * are quoted rather than run, and a leading dash is not taken for an option of node.
 */
function shellWord(path: string): string {
  const word = path.startsWith('-') ? `./${path}` : path;
  return /^[\w./@+:=,%-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

export const detectNode: Refiner = async (files, t) => {
  const raw = await files.read('package.json');
  if (raw === null) return 'package.json could not be read';
  let pkg: PackageJson;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    pkg = parsed;
  } catch {
    throw new StackDetectionError('package.json is not valid JSON, so the Node.js build cannot be set up. Fix package.json and deploy again.');
  }
  const scripts = pkg.scripts && typeof pkg.scripts === 'object' ? pkg.scripts : {};
  const pm = manager(files, pkg);
  const hasBuild = typeof scripts.build === 'string';
  const buildCommand = hasBuild ? `${pm.install} && ${pm.run('build')}` : pm.install;
  const via = `${pm.name}${pm.locked ? '' : pm.name === 'npm' ? ' (no lockfile, so npm install instead of npm ci)' : ` (no lockfile, so ${pm.install} without freezing it)`}`;

  const procfile = await procfileStart(files);
  const main = mainFile(pkg.main);
  let start: string | null = null;
  let why = '';
  if (procfile) [start, why] = [procfile, 'the Procfile web: command'];
  else if (typeof scripts.start === 'string') [start, why] = [pm.start, 'the start script'];
  else if (main !== null) [start, why] = [`node ${shellWord(main)}`, '"main" in package.json'];
  else if (has(files, 'server.js')) [start, why] = ['node server.js', 'server.js (what npm start runs without a start script)'];
  else if (has(files, 'index.js')) [start, why] = ['node index.js', 'index.js'];

  if (start) {
    return fromTemplate(t, `package.json found; installs with ${via}${hasBuild ? ', runs the build script' : ''} and starts with ${why}.`, { buildCommand, startCommand: start });
  }
  if (hasBuild) {
    const found = PUBLISH_DIRS.find(([dep]) => declares(pkg.dependencies, dep) || declares(pkg.devDependencies, dep));
    const publishPath = found?.[1] ?? 'dist';
    return {
      stack: 'static',
      serviceType: 'static_site',
      runtime: 'static',
      buildCommand,
      startCommand: null,
      publishPath,
      reason: `package.json has a build script but no way to start a server, so it is deployed as a static site publishing ${publishPath}/${found ? ` (${found[0]})` : ''}.`,
    };
  }
  return 'package.json has no start script, no "main", no server.js/index.js and no build script';
};
