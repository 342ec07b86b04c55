import { StackDetectionError, type DetectedStack, type RepoFiles } from './types.js';
import { exists, fromTemplate, has, procfileStart, type Refiner } from './refiner.js';
import { firstControl, MAX_LINE_CHARS } from './lines.js';

interface PackageJson {
  main?: unknown;
  workspaces?: unknown;
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

// Where common front-end tools write their build, for package.json projects with no server, and the
// command whose `<cli> build` runs it.
interface FrontEnd { dep: string; dir: string; cli: string }
const PUBLISH_DIRS: FrontEnd[] = [
  { dep: 'react-scripts', dir: 'build', cli: 'react-scripts' }, { dep: '@sveltejs/kit', dir: 'build', cli: 'vite' },
  { dep: 'gatsby', dir: 'public', cli: 'gatsby' }, { dep: 'next', dir: 'out', cli: 'next' }, { dep: 'vite', dir: 'dist', cli: 'vite' },
  { dep: 'astro', dir: 'dist', cli: 'astro' }, { dep: '@vue/cli-service', dir: 'dist', cli: 'vue-cli-service' }, { dep: 'parcel', dir: 'dist', cli: 'parcel' },
];

/**
 * Front-end tools' development servers, by the subcommand a start script runs them with (vite's is
 * none). They are not production servers, and ng serve, gatsby develop, vite and astro dev listen on
 * localhost only, so Render finds no port on 0.0.0.0:$PORT: the app is the static site `<tool> build` writes.
 */
const DEV_SERVERS: ReadonlyMap<string, readonly string[]> = new Map([
  ['react-scripts', ['start']], ['ng', ['serve', 's']], ['gatsby', ['develop']], ['vite', ['', 'dev', 'serve']], ['astro', ['dev']],
]);

/** Adapters that make the front-end build a Node server rather than a static site, with how it starts. */
const SERVER_ADAPTERS: Array<[string, string]> = [['@astrojs/node', 'node ./dist/server/entry.mjs'], ['@sveltejs/adapter-node', 'node build']];

/** Root files that make the root a monorepo's: its build builds the apps under it (apps/*, packages/*). */
const MONOREPO_FILES = ['pnpm-workspace.yaml', 'turbo.json', 'nx.json', 'lerna.json'];

/** The way out for a root that holds apps rather than being one (the deploy form has no rootDir). */
const ROOT_DIR_HINT = 'add a render.yaml whose service names the app\'s directory as its rootDir, e.g. "rootDir: apps/web" in its "- type: web" entry, so Render builds and runs the app there';

// Words before a script's command that only set up how it runs: `BROWSER=none react-scripts start`.
const WRAPPERS: ReadonlySet<string> = new Set(['cross-env', 'env', 'npx']);
// A script running more than one command (&&, ||, |, ;, &) is not a stock development server.
const SHELL_LISTS = ['&', '|', ';', '\n'];

/** Whether a dependencies object names `dep` (anything else, e.g. a huge array, names nothing). */
function declares(deps: unknown, dep: string): boolean {
  return typeof deps === 'object' && deps !== null && !Array.isArray(deps) && Object.hasOwn(deps, dep);
}

const depends = (pkg: PackageJson, dep: string): boolean => declares(pkg.dependencies, dep) || declares(pkg.devDependencies, dep);

/** The first front-end tool of PUBLISH_DIRS the project depends on, with where it writes its build. */
function frontEnd(pkg: PackageJson): FrontEnd | undefined {
  return PUBLISH_DIRS.find((f) => depends(pkg, f.dep));
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

/** A path from the repository's root as GitHub reads it ("./src/a.js" is "src/a.js"), or null for one outside it. */
function repoPath(path: string): string | null {
  let p = path;
  while (p.startsWith('./')) p = p.slice(2);
  while (p.endsWith('/')) p = p.slice(0, -1);
  if (p === '' || p.startsWith('/') || p.split('/').some((s) => s === '..' || s === '.' || s === '')) return null;
  return p;
}

/** Whether the repository has `path`: a root file from the listing, a deeper one by reading it. */
async function hasFile(files: RepoFiles, path: string): Promise<boolean> {
  if (!path.includes('/')) return files.list.includes(path);
  return files.dirs.includes(path.slice(0, path.indexOf('/'))) && await exists(files, path);
}

/**
 * Whether `node <main>` finds a file: "main" as node resolves it (the file; without a .js extension,
 * then with one, then a directory's index.js), or one a build script writes: under a build output
 * directory, or the .js a TypeScript file beside it compiles to. `npm init -y` writes "main": "index.js"
 * into every package.json, file or not, and `node index.js` then crashes with "Cannot find module".
 */
async function mainRuns(files: RepoFiles, main: string, hasBuild: boolean): Promise<boolean> {
  const path = repoPath(main);
  if (path === null) return false;
  if (hasBuild && BUILD_OUTPUTS.some((dir) => path.startsWith(`${dir}/`))) return true;
  const source = typeScriptSource(path);
  const candidates = source === null ? [path, `${path}.js`, `${path}/index.js`] : [path, ...(hasBuild ? [source] : [])];
  for (const candidate of candidates) {
    if (await hasFile(files, candidate)) return true;
  }
  return false;
}

/** Where builds commonly write (tsc's outDir, bundlers): not in the repository until the build runs. */
const BUILD_OUTPUTS = ['dist', 'build', 'out', 'lib'];

/** The TypeScript file tsc compiles to a .js/.mjs/.cjs `path` when it has no outDir ("server.js" from "server.ts"), or null. */
function typeScriptSource(path: string): string | null {
  for (const [js, ts] of [['.js', '.ts'], ['.mjs', '.mts'], ['.cjs', '.cts']]) {
    if (path.endsWith(js!)) return `${path.slice(0, -js!.length)}${ts}`;
  }
  return null;
}

/** What makes the root a monorepo's (a workspaces field, a workspace tool's file), or null. */
function monorepoMarker(files: RepoFiles, pkg: PackageJson): string | null {
  if (typeof pkg.workspaces === 'object' && pkg.workspaces !== null) return '"workspaces" in package.json';
  return MONOREPO_FILES.find((f) => has(files, f)) ?? null;
}

/** A script's command words, past leading VAR=value assignments and wrappers (cross-env, npx). */
function commandWords(command: string): string[] {
  const words = command.trim().split(/\s+/);
  let i = 0;
  while (i < words.length - 1 && (WRAPPERS.has(words[i]!) || isAssignment(words[i]!))) i++;
  return words.slice(i);
}

function isAssignment(word: string): boolean {
  const eq = word.indexOf('=');
  return eq > 0 && /^[A-Za-z_]\w*$/.test(word.slice(0, eq));
}

/** The development server a start script runs: its tool, and the command as the table names it ("ng serve"), or null. */
function devServerOf(start: string): { tool: string; command: string } | null {
  if (SHELL_LISTS.some((op) => start.includes(op))) return null;
  const [tool = '', word = ''] = commandWords(start);
  const sub = word.startsWith('-') ? '' : word;
  return DEV_SERVERS.get(tool)?.includes(sub) ? { tool, command: sub ? `${tool} ${sub}` : tool } : null;
}

/** The words of the build script's `<tool> build` command, alone or in a && chain ("tsc -b && vite build"), or null. */
function toolBuild(build: string, tool: string): string[] | null {
  for (const command of build.split('&&')) {
    const words = commandWords(command);
    if (words[0] === tool && words[1] === 'build') return words;
  }
  return null;
}

/**
 * A start script that runs a front-end tool's development server, with a build script that runs the
 * tool's build: the static site that build writes, not a web service running the dev server. Null
 * when the start script is anything else (next start, node server.js…), which starts as it says.
 */
async function devServerSite(files: RepoFiles, pkg: PackageJson, scripts: Record<string, unknown>, buildCommand: string): Promise<DetectedStack | null> {
  const dev = typeof scripts.start === 'string' ? devServerOf(scripts.start) : null;
  const build = dev !== null && typeof scripts.build === 'string' ? toolBuild(scripts.build, dev.tool) : null;
  if (dev === null || build === null) return null;
  const adapter = SERVER_ADAPTERS.find(([dep]) => depends(pkg, dep));
  if (adapter) {
    throw new StackDetectionError(`package.json's start script runs ${dev.command}, a development server, and with ${adapter[0]} the build is a Node server, not a static site. Make the start script run the built server (${adapter[1]}) and deploy again.`);
  }
  const [publishPath, from] = dev.tool === 'ng' ? [await angularOutput(files, build), 'angular.json'] : frontEndOutput(pkg, dev.tool);
  return {
    stack: 'static', serviceType: 'static_site', runtime: 'static', buildCommand, startCommand: null, publishPath,
    reason: `package.json's start script runs ${dev.command}, a development server, not a production one; its build script (${dev.tool} build) writes a static site, so it is deployed as a static site publishing ${publishPath}/ (${from}).`,
  };
}

/**
 * Where a front-end tool's build goes: the first framework the project depends on that this tool builds
 * (SvelteKit over vite; not a react-scripts left in a project vite builds now), else the tool's own.
 */
function frontEndOutput(pkg: PackageJson, tool: string): [string, string] {
  const { dep, dir } = PUBLISH_DIRS.find((f) => f.cli === tool && depends(pkg, f.dep)) ?? PUBLISH_DIRS.find((f) => f.dep === tool) ?? { dep: tool, dir: 'dist' };
  return [dir, dep];
}

/** A JSON object's member as an object, or null. */
function objectAt(value: unknown, key: string): Record<string, unknown> | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, key)) return null;
  const member = (value as Record<string, unknown>)[key];
  return typeof member === 'object' && member !== null && !Array.isArray(member) ? member as Record<string, unknown> : null;
}

/**
 * Where `ng build` writes the browser's files, from angular.json: the application builder (Angular 17's
 * default) writes them to outputPath's browser/ (outputPath defaults to dist/<project>), the older
 * browser builders to outputPath itself. What angular.json does not settle is refused, not guessed.
 */
async function angularOutput(files: RepoFiles, ngBuild: string[]): Promise<string> {
  const refuse = (why: string) => new StackDetectionError(
    `package.json's start script runs ng serve, Angular's development server, which listens on localhost only: the app to deploy is the static site ng build writes, but ${why}. Add a render.yaml declaring a static site (runtime: static) whose staticPublishPath is the directory ng build writes index.html to (outputPath/browser since Angular 17).`,
  );
  const file = ['angular.json', '.angular.json'].find((f) => has(files, f));
  const raw = file === undefined ? null : await files.read(file);
  if (file === undefined || raw === null) throw refuse('there is no angular.json at the root to say where it writes it');
  let workspace: unknown;
  try {
    workspace = JSON.parse(raw);
  } catch {
    throw refuse(`${file} is not plain JSON, so where ng build writes it could not be read`);
  }
  const projects = objectAt(workspace, 'projects') ?? {};
  const named = ngBuild[2] !== undefined && !ngBuild[2].startsWith('-') ? [ngBuild[2]] : Object.keys(projects).filter((p) => objectAt(projects, p)?.projectType === 'application');
  if (named.length !== 1 || ngBuild.some((w) => w.startsWith('--output-path') || w.startsWith('--outputPath'))) {
    throw refuse(named.length > 1 ? `${file} has more than one application, and the build script does not say which one ng build builds` : `which directory ng build writes could not be told from ${file} and the build script`);
  }
  const project = objectAt(projects, named[0]!);
  const target = objectAt(objectAt(project, 'architect') ?? objectAt(project, 'targets'), 'build');
  const builder = typeof target?.builder === 'string' ? target.builder : '';
  const configuration = typeof target?.defaultConfiguration === 'string' ? objectAt(objectAt(target, 'configurations'), target.defaultConfiguration) : null;
  const options = { ...objectAt(target, 'options'), ...configuration };
  if ((options.ssr !== undefined && options.ssr !== false) || options.outputMode === 'server') {
    throw new StackDetectionError(`package.json's start script runs ng serve, Angular's development server, and ${file} builds the app for server-side rendering, which needs a Node server: make the start script run the built server (node dist/<app>/server/server.mjs) and deploy again.`);
  }
  const out = options.outputPath;
  let dir: unknown;
  if (builder.endsWith(':application')) {
    const base = out === undefined ? `dist/${named[0]}` : typeof out === 'string' ? out : objectAt(options, 'outputPath')?.base;
    const browser = objectAt(options, 'outputPath')?.browser ?? 'browser';
    dir = typeof base === 'string' && typeof browser === 'string' ? (browser === '' ? base : `${base}/${browser}`) : null;
  } else if (builder.endsWith(':browser') || builder.endsWith(':browser-esbuild')) {
    dir = out;
  } else {
    throw refuse(`its build target's builder is not one whose output directory detection knows (the application or browser builders)`);
  }
  const path = typeof dir === 'string' && dir.length <= MAX_LINE_CHARS ? repoPath(dir) : null;
  if (path === null) throw refuse(`${file}'s outputPath is not a directory inside the repository`);
  return path;
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
  else if (typeof scripts.start === 'string') {
    const site = await devServerSite(files, pkg, scripts, buildCommand);
    if (site) return site;
    [start, why] = [pm.start, 'the start script'];
  } else if (main !== null && await mainRuns(files, main, hasBuild)) [start, why] = [`node ${shellWord(main)}`, '"main" in package.json'];
  else if (has(files, 'server.js')) [start, why] = ['node server.js', 'server.js (what npm start runs without a start script)'];
  else if (has(files, 'index.js')) [start, why] = ['node index.js', 'index.js'];

  if (start) {
    return fromTemplate(t, `package.json found; installs with ${via}${hasBuild ? ', runs the build script' : ''} and starts with ${why}.`, { buildCommand, startCommand: start });
  }
  const monorepo = monorepoMarker(files, pkg);
  const found = frontEnd(pkg);
  // A monorepo root's build (turbo run build…) builds its apps into apps/*/dist, not a ./dist to publish,
  // and a tool it depends on (vite for vitest) says nothing of the root: only a build running that tool here does.
  if (monorepo !== null && !(found && hasBuild && toolBuild(scripts.build as string, found.cli))) {
    const what = hasBuild ? 'a build script that builds the apps in it, not a site at the root, and no start script' : 'no start or build script';
    return `package.json is a monorepo root (${monorepo}) with ${what} of its own: ${ROOT_DIR_HINT}`;
  }
  if (hasBuild) {
    const publishPath = found?.dir ?? 'dist';
    return {
      stack: 'static',
      serviceType: 'static_site',
      runtime: 'static',
      buildCommand,
      startCommand: null,
      publishPath,
      reason: `package.json has a build script but no way to start a server, so it is deployed as a static site publishing ${publishPath}/${found ? ` (${found.dep})` : ''}.`,
    };
  }
  const missingMain = main === null ? 'no "main"' : `no "main" file (${JSON.stringify(main.slice(0, 80))} is not in the repository)`;
  return `package.json has no start script, ${missingMain}, no server.js/index.js and no build script`;
};
