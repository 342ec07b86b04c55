import { FileOverLimit, StackDetectionError, type DetectedStack, type RepoFiles } from './types.js';
import { exists, fromTemplate, has, procfileStart, readWithinLimit, type Refiner } from './refiner.js';
import { firstControl, linesOf, MAX_LINE_CHARS } from './lines.js';
import { configLines, keyValues, quotedPackages } from './jsConfig.js';
import type { Template } from './templates.js';

interface PackageJson {
  main?: unknown;
  workspaces?: unknown;
  scripts?: Record<string, unknown>;
  packageManager?: unknown;
  dependencies?: Record<string, unknown>;
  devDependencies?: Record<string, unknown>;
}

interface Manager {
  name: string;
  install: string;
  locked: boolean;
  run: (script: string) => string;
  start: string;
  /** A package's command from node_modules/.bin, as the manager runs it ("npx next start"). */
  exec: (command: string) => string;
  /** Why it installs as it does, when the lockfile alone does not say (bun's). */
  note?: string;
}

/** Bun's lockfiles: the binary one up to Bun 1.1, the text one Bun 1.1.39 introduced and 1.2 writes by default. */
const BUN_LOCKFILES = ['bun.lock', 'bun.lockb'];

/**
 * Bun on Render: Render's native Node runtime has Bun too, at the version a root .bun-version file or the
 * BUN_VERSION env var names, else Render's default, 1.1.0 (render.com/docs/bun-version). Bun 1.1.0 reads
 * bun.lockb, not the text bun.lock (Bun 1.1.39 and later): without a .bun-version that can read it, a
 * frozen install would find no lockfile it knows and fail, so a bun.lock alone installs without freezing
 * it, saying how to install from it (the BUN_VERSION env var cannot be seen from the repository).
 */
async function bunManager(files: RepoFiles): Promise<Manager> {
  const base = { name: 'bun', run: (s: string) => `bun run ${s}`, start: 'bun run start', exec: (c: string) => `bunx ${c}` };
  if (has(files, 'bun.lockb')) return { ...base, install: 'bun install --frozen-lockfile', locked: true };
  if (!has(files, 'bun.lock')) return { ...base, install: 'bun install', locked: false };
  const pinned = await bunVersion(files);
  if (pinned !== null && readsTextLockfile(pinned)) return { ...base, install: 'bun install --frozen-lockfile', locked: true };
  const note = ` (bun.lock: Render's default Bun, 1.1.0, predates that lockfile and ${pinned === null ? 'no .bun-version' : `.bun-version's ${JSON.stringify(pinned.slice(0, 20))}`} names a later one, so bun install without freezing it; add a .bun-version file saying 1.2 or later to install from bun.lock)`;
  return { ...base, install: 'bun install', locked: false, note };
}

/** The Bun version a root .bun-version file names (its first line, trimmed), or null when there is none to read. */
async function bunVersion(files: RepoFiles): Promise<string | null> {
  if (!has(files, '.bun-version')) return null;
  const text = await readWithinLimit(files, '.bun-version');
  if (text === null) return null;
  const first = linesOf(text).next();
  const version = first.done ? '' : first.value.text.trim();
  return version === '' ? null : version;
}

/** Whether Bun `version` (as .bun-version holds it: "latest", "1.2.10", "v1.2") reads the text bun.lock: 1.1.39 or later. */
function readsTextLockfile(version: string): boolean {
  if (version === 'latest') return true;
  const parts = (version.startsWith('v') ? version.slice(1) : version).split('.');
  if (parts.length > 3 || parts.some((p) => !/^\d{1,6}$/.test(p))) return false;
  const [major = 0, minor = 0, patch = 0] = parts.map(Number);
  return major > 1 || (major === 1 && (minor > 1 || (minor === 1 && patch >= 39)));
}

async function manager(files: RepoFiles, pkg: PackageJson): Promise<Manager> {
  const declared = typeof pkg.packageManager === 'string' ? pkg.packageManager : '';
  // A frozen install refuses to run without the lockfile it freezes: a manager chosen by packageManager
  // alone installs plainly, as npm install stands in for npm ci.
  if (has(files, 'pnpm-lock.yaml') || declared.startsWith('pnpm@')) {
    const install = has(files, 'pnpm-lock.yaml') ? 'pnpm install --frozen-lockfile' : 'pnpm install';
    return { name: 'pnpm', install, locked: install !== 'pnpm install', run: (s) => `pnpm run ${s}`, start: 'pnpm start', exec: (c) => `pnpm exec ${c}` };
  }
  if (has(files, 'yarn.lock') || declared.startsWith('yarn@')) {
    // Yarn 2+ ("berry") renamed --frozen-lockfile to --immutable.
    const berry = has(files, '.yarnrc.yml') || Number(/^yarn@(\d+)\./.exec(declared)?.[1]) >= 2;
    const locked = has(files, 'yarn.lock');
    const install = !locked ? 'yarn install' : berry ? 'yarn install --immutable' : 'yarn install --frozen-lockfile';
    return { name: 'yarn', install, locked, run: (s) => `yarn run ${s}`, start: 'yarn start', exec: (c) => `yarn ${c}` };
  }
  // npm ci refuses to run without a lockfile.
  const locked = has(files, 'package-lock.json', 'npm-shrinkwrap.json');
  // A Bun lockfile with no npm one: npm install would ignore it and resolve every version afresh (nor
  // does npm know Bun's workspace and catalog protocols). With both, npm ci installs what is locked.
  if ((!locked && has(files, ...BUN_LOCKFILES)) || declared.startsWith('bun@')) return bunManager(files);
  return { name: 'npm', install: locked ? 'npm ci' : 'npm install', locked, run: (s) => `npm run ${s}`, start: 'npm start', exec: (c) => `npx ${c}` };
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
 * none). They are not production servers, and ng serve, gatsby develop, vite, astro dev and nuxt dev
 * listen on localhost only, so Render finds no port on 0.0.0.0:$PORT: the app is what `<tool> build`
 * writes (a static site; Nuxt's a Node server, nuxt generate's a static site). next dev listens everywhere
 * but compiles each page on request: the app is what next build writes, run by next start (or, exported,
 * the static site it writes). parcel's (serve, its default command) listens on all interfaces, on $PORT:
 * the app is the static site parcel build writes.
 */
const DEV_SERVERS: ReadonlyMap<string, readonly string[]> = new Map([
  ['react-scripts', ['start']], ['ng', ['serve', 's']], ['gatsby', ['develop']], ['vite', ['', 'dev', 'serve']], ['astro', ['dev']],
  ['vue-cli-service', ['serve']], ['next', ['dev']], ['nuxt', ['dev']], ['parcel', ['', 'serve']],
]);

/** Development servers that listen on all interfaces and take their port from PORT unless told otherwise. */
const REACHABLE_DEV_SERVERS: ReadonlySet<string> = new Set(['next', 'parcel']);

/** A CLI's other names: nuxi is Nuxt's CLI under its own name (early Nuxt 3 scripts ran `nuxi dev`, `nuxi build`). */
const CLI_ALIASES: ReadonlyMap<string, string> = new Map([['nuxi', 'nuxt']]);
const cliName = (word: string): string => CLI_ALIASES.get(word) ?? word;

/** Tools whose first word after the command may be an entry rather than a subcommand (`parcel src/index.html` serves), and their subcommands. */
const ENTRY_FIRST: ReadonlyMap<string, ReadonlySet<string>> = new Map([['parcel', new Set(['serve', 'watch', 'build', 'help'])]]);

/** The subcommands of a tool's build script that write what is deployed in place of its dev server: `<tool> build`, and Nuxt's `nuxt generate` too. */
const BUILD_COMMANDS: ReadonlyMap<string, readonly string[]> = new Map([['nuxt', ['build', 'generate']]]);
const buildCommandsOf = (tool: string): readonly string[] => BUILD_COMMANDS.get(tool) ?? ['build'];

/**
 * Front-end tools' preview servers, by their subcommand: they serve what `<tool> build` wrote, but on
 * localhost only (vite preview on 4173, astro preview on 4321, gatsby serve on 9000) unless a host flag
 * says otherwise (vite and astro: --host; gatsby: -H, --host). Without one, Render finds no port on
 * 0.0.0.0:$PORT: the app is the static site they would serve. With one, the script starts as it says.
 */
const PREVIEW_SERVERS: ReadonlyMap<string, string> = new Map([['vite', 'preview'], ['astro', 'preview'], ['gatsby', 'serve']]);
const HOST_FLAGS = ['--host', '-H'];
/** Tools that take their host from the environment too (react-scripts: HOST; nuxt dev: NUXT_HOST, NITRO_HOST or HOST), and their own host flags. */
const HOST_VARIABLES: ReadonlyMap<string, readonly string[]> = new Map([['react-scripts', ['HOST']], ['nuxt', ['HOST', 'NUXT_HOST', 'NITRO_HOST']]]);
const TOOL_HOST_FLAGS: ReadonlyMap<string, readonly string[]> = new Map([['nuxt', ['-h']]]);

/** The root files a framework reads its configuration from, in the order it looks for them. */
const NUXT_CONFIGS = ['nuxt.config.ts', 'nuxt.config.js', 'nuxt.config.mjs', 'nuxt.config.mts', 'nuxt.config.cjs', 'nuxt.config.cts'];
const SVELTE_CONFIGS = ['svelte.config.js', 'svelte.config.mjs', 'svelte.config.ts'];
const ASTRO_CONFIGS = ['astro.config.mjs', 'astro.config.js', 'astro.config.ts', 'astro.config.mts', 'astro.config.cjs', 'astro.config.cts'];
const NEXT_CONFIGS = ['next.config.js', 'next.config.mjs', 'next.config.ts', 'next.config.cjs'];

/** Root files that make the root a monorepo's: its build builds the apps under it (apps/*, packages/*). */
const MONOREPO_FILES = ['pnpm-workspace.yaml', 'turbo.json', 'nx.json', 'lerna.json'];

/** The way out for a root that holds apps rather than being one (the deploy form has no rootDir). */
const ROOT_DIR_HINT = 'add a render.yaml whose service names the app\'s directory as its rootDir, e.g. "rootDir: apps/web" in its "- type: web" entry, so Render builds and runs the app there';

// Words before a script's command that only set up how it runs: `BROWSER=none react-scripts start`.
const WRAPPERS: ReadonlySet<string> = new Set(['cross-env', 'env', 'npx', 'bunx']);
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

/** A development or preview server a start script runs. */
interface DevServer {
  tool: string;
  /** The command as the tables name it ("ng serve", "vite"). */
  command: string;
  /** What it is, for the messages: "a development server", "a preview server listening on localhost only". */
  kind: string;
  /** A development server Render can reach (next dev, parcel, or one given a host flag): it runs as written when nothing is built in its place. */
  reachable: boolean;
}

/** The development server, or localhost-only preview server, a start script runs, or null. */
function devServerOf(start: string): DevServer | null {
  if (SHELL_LISTS.some((op) => start.includes(op))) return null;
  const words = commandWords(start);
  const [cli = '', word = ''] = words;
  const tool = cliName(cli);
  const entryFirst = ENTRY_FIRST.get(tool);
  const sub = word.startsWith('-') || (entryFirst !== undefined && !entryFirst.has(word)) ? '' : word;
  // A host flag, or HOST= before the command for the tools that read it from the environment (react-scripts, nuxt dev).
  const flags = [...HOST_FLAGS, ...TOOL_HOST_FLAGS.get(tool) ?? []];
  const variables = HOST_VARIABLES.get(tool) ?? [];
  const listensBeyondLocalhost = words.some((w) => flags.some((flag) => w === flag || w.startsWith(`${flag}=`)))
    || start.trim().split(/\s+/).some((w) => variables.some((name) => w.startsWith(`${name}=`)));
  if (DEV_SERVERS.get(tool)?.includes(sub)) {
    return { tool, command: sub ? `${cli} ${sub}` : cli, kind: 'a development server', reachable: REACHABLE_DEV_SERVERS.has(tool) || listensBeyondLocalhost };
  }
  if (PREVIEW_SERVERS.get(tool) === sub && !listensBeyondLocalhost) return { tool, command: `${tool} ${sub}`, kind: 'a preview server listening on localhost only', reachable: false };
  return null;
}

/**
 * The words of the build script's `<tool> build` command (or another of `subs`: `nuxt generate`), alone
 * or in a && chain ("tsc -b && vite build"), or null. A CLI's other name counts as the tool (`nuxi build`).
 */
function toolBuild(build: string, tool: string, subs: readonly string[] = ['build']): string[] | null {
  for (const command of build.split('&&')) {
    const words = commandWords(command);
    if (cliName(words[0] ?? '') === tool && subs.includes(words[1] ?? '')) return words;
  }
  return null;
}

/**
 * The value of a `--flag value` or `--flag=value` option among a command's words: undefined when the
 * flag is not there, null when it is but its value cannot be told (last word, or another option).
 */
function flagValue(words: readonly string[], flag: string): string | null | undefined {
  for (const [i, word] of words.entries()) {
    if (word.startsWith(`${flag}=`)) return word.slice(flag.length + 1) || null;
    if (word === flag) {
      const next = words[i + 1];
      return next === undefined || next.startsWith('-') ? null : next;
    }
  }
  return undefined;
}

/**
 * Where `parcel build` writes the site: its --dist-dir, else dist/ (Parcel's default target,
 * parceljs.org/features/targets). What else decides it is refused rather than guessed: a --dist-dir that
 * is not one directory inside the repository, package.json "targets" (each target's own distDir), or
 * Parcel 1's --out-dir / -d.
 */
function parcelDistDir(pkg: PackageJson, build: readonly string[], refuse: (why: string) => Error): string {
  if (Object.hasOwn(pkg, 'targets')) throw refuse('package.json has "targets", which say where parcel build writes');
  if (build.some((w) => w === '-d' || w === '--out-dir' || w.startsWith('--out-dir='))) throw refuse('its parcel build names its output with --out-dir (Parcel 1)');
  const dir = flagValue(build, '--dist-dir');
  if (dir === undefined) return 'dist';
  const path = dir !== null && dir.length <= MAX_LINE_CHARS ? repoPath(dir) : null;
  if (path === null) throw refuse('its parcel build --dist-dir could not be read as one directory inside the repository');
  return path;
}

/**
 * A start script that runs a front-end tool's development or localhost-only preview server, with a build
 * script that runs the tool's build: what that build writes, not a web service running the dev server. A
 * static site; next build: the server next start runs; a framework adapter's or Nuxt's Node server (SvelteKit
 * adapter-node, Astro @astrojs/node standalone, nuxt build): that server, started as it is without a start
 * script. Without such a build script there is nothing to deploy in its place: refused, saying what to
 * add (unless the dev server is reachable). Null when the start script is anything else (next start, node
 * server.js…), which starts as it says.
 */
async function devServerSite(files: RepoFiles, t: Template, pkg: PackageJson, scripts: Record<string, unknown>, pm: Manager, install: { buildCommand: string; via: string }): Promise<DetectedStack | null> {
  const { buildCommand, via } = install;
  const dev = typeof scripts.start === 'string' ? devServerOf(scripts.start) : null;
  if (dev === null) return null;
  const runs = `package.json's start script runs ${dev.command}, ${dev.kind}`;
  const build = typeof scripts.build === 'string' ? toolBuild(scripts.build, dev.tool, buildCommandsOf(dev.tool)) : null;
  // A development server that listens where Render looks for the port works, slowly: with nothing built to
  // deploy in its place, it starts as the script says (as it did before dev servers were recognised).
  if (build === null && dev.reachable) return null;
  if (build === null) {
    const wanted = buildCommandsOf(dev.tool).map((sub) => `${dev.tool} ${sub}`).join(' or ');
    const missing = typeof scripts.build === 'string' ? `its build script does not run ${wanted}` : 'there is no build script';
    const deployed = dev.tool === 'nuxt'
      ? `the Node server it writes is then deployed as a web service (${NUXT_SERVER}), or, with "build": "nuxt generate", the static site it writes as a static site`
      : 'what it writes is then deployed as a static site';
    throw new StackDetectionError(`${runs}, not a production one, and ${missing}, so nothing is built to deploy in its place. Add a build script that runs ${dev.tool} build ("build": "${dev.tool} build" in package.json's scripts): ${deployed}. Or make the start script listen on 0.0.0.0 (a --host flag, or HOST=0.0.0.0 for react-scripts and nuxt), and deploy again.`);
  }
  // The build command as the script words it (`nuxi build`, `vite build` after `tsc -b &&`).
  const built = build.slice(0, 2).join(' ');
  if (dev.tool === 'next') {
    const next = await nextProduction(files, pm, (why) => new StackDetectionError(`${runs}, not a production one, and ${why}. Make the start script next start (a server), or, for a static export, add a render.yaml declaring a static site (runtime: static) whose staticPublishPath is the directory next build writes, and deploy again.`));
    if (next.kind === 'site') {
      return {
        stack: 'static', serviceType: 'static_site', runtime: 'static', buildCommand, startCommand: null, publishPath: next.dir,
        reason: `${runs}, not a production one; ${next.from} sets output: 'export', so next build writes a static site, deployed as a static site publishing ${next.dir}/.`,
      };
    }
    return fromTemplate(t, `${runs}, not a production one; its build script runs next build, so the app is served by Next.js's production server (${next.start}, on $PORT). Installs with ${via}.`, { buildCommand, startCommand: next.start });
  }
  const framework = await frameworkBuild(files, pkg, dev.tool, scripts.build);
  if (framework?.kind === 'server') {
    return fromTemplate(t, `${runs}, not a production one; its build script (${built}) with ${framework.from} builds a Node server, so the app is that server, started with ${framework.start}. Installs with ${via}.`, { buildCommand, startCommand: framework.start });
  }
  const refuse = (why: string) => new StackDetectionError(`${runs}, not a production one, and ${why}. Add a render.yaml declaring a static site (runtime: static) whose staticPublishPath is the directory ${built} writes, and deploy again.`);
  const [publishPath, from] = dev.tool === 'ng' ? [await angularOutput(files, build), 'angular.json']
    : framework ? [framework.dir, framework.from]
    : dev.tool === 'parcel' ? [parcelDistDir(pkg, build, refuse), 'parcel']
    : frontEndOutput(pkg, dev.tool);
  return {
    stack: 'static', serviceType: 'static_site', runtime: 'static', buildCommand, startCommand: null, publishPath,
    reason: `${runs}, not a production one; its build script (${built}) writes a static site, so it is deployed as a static site publishing ${publishPath}/ (${from}).`,
  };
}

/** A root config file, read as configLines: the first of `names` there; null when none is. */
async function readConfig(files: RepoFiles, names: readonly string[]): Promise<{ name: string; lines: string[] } | null> {
  const name = names.find((n) => has(files, n));
  const text = name === undefined ? null : await files.read(name);
  return name === undefined || text === null ? null : { name, lines: configLines(text) };
}

/**
 * The directory a config's `key` names (relative to the root), `fallback` when it names none; refused
 * when what it names cannot be read as one directory inside the repository (a variable, two values).
 */
function configuredDir(config: { name: string; lines: string[] } | null, key: string, fallback: string, refuse: (why: string) => Error): string {
  if (config === null) return fallback;
  const { strings, other } = keyValues(config.lines, key);
  if (!other && strings.length === 0) return fallback;
  const path = !other && new Set(strings).size === 1 && strings[0]!.length <= MAX_LINE_CHARS ? repoPath(strings[0]!) : null;
  if (path === null) throw refuse(`${config.name}'s ${key} could not be read as one directory inside the repository`);
  return path;
}

/**
 * What next build writes: a web service running Next.js's production server, next start (it takes its
 * port from PORT and listens on all interfaces: Render's Next.js guide starts it as the start script),
 * unless next.config sets output: 'export', when it writes a static site (to out/, or its distDir) that
 * next start refuses to serve. A config whose output cannot be read (or is too large to read) is refused.
 */
async function nextProduction(files: RepoFiles, pm: Manager, refuse: (why: string) => Error): Promise<FrameworkBuild> {
  let config: { name: string; lines: string[] } | null;
  try {
    config = await readConfig(files, NEXT_CONFIGS);
  } catch (err) {
    if (err instanceof FileOverLimit) throw refuse(`${err.path} is too large to read whether it exports a static site (output: 'export')`);
    throw err;
  }
  const output = config === null ? { strings: [], other: false } : keyValues(config.lines, 'output');
  if (output.other || new Set(output.strings).size > 1) throw refuse(`whether ${config!.name} exports a static site (output: 'export') could not be read from it`);
  if (output.strings[0] === 'export') return { kind: 'site', dir: configuredDir(config, 'distDir', 'out', refuse), from: config!.name };
  return { kind: 'server', start: pm.exec('next start'), from: config?.name ?? 'no next.config' };
}

/** What a framework's adapter makes of its build: a Node server and how it starts, or a static site and its directory. */
type FrameworkBuild = { kind: 'server'; start: string; from: string } | { kind: 'site'; dir: string; from: string };

/**
 * What the build of a framework whose adapter decides it (SvelteKit, Astro with @astrojs/node) is, from
 * its config, when `tool` (the CLI a script runs, if known) builds that framework; null for the others,
 * whose build is the static site frontEndOutput says. What cannot be settled is refused, not guessed.
 */
async function frameworkBuild(files: RepoFiles, pkg: PackageJson, tool?: string, build?: unknown): Promise<FrameworkBuild | null> {
  if (depends(pkg, '@sveltejs/kit') && (tool === undefined || tool === 'vite')) return svelteKitBuild(files, pkg);
  if (depends(pkg, 'astro') && depends(pkg, '@astrojs/node') && (tool === undefined || tool === 'astro')) return astroNodeBuild(files);
  if (tool === 'nuxt' || (tool === undefined && depends(pkg, 'nuxt'))) {
    const words = typeof build === 'string' ? toolBuild(build, 'nuxt', buildCommandsOf('nuxt')) : null;
    return words === null ? null : nuxtBuild(files, pkg, words);
  }
  return null;
}

/** How Nuxt 3 and later's Node server starts: Nitro's node-server output, which takes PORT (else 3000) and HOST (else 0.0.0.0) from the environment. */
const NUXT_SERVER = 'node .output/server/index.mjs';
/** Nitro presets whose build is that Node server (Nitro reads a preset's - and _ alike): its default, node-server, node-cluster, and render_com, the preset Nuxt's Render guide sets. */
const NITRO_NODE_SERVERS: ReadonlySet<string> = new Set(['node-server', 'node-cluster', 'render-com']);

/**
 * What a Nuxt app's `nuxt build` or `nuxt generate` writes (Nuxt 3 and later, whose server engine is
 * Nitro): nuxt generate a static site in .output/public; nuxt build a Node server started with
 * `node .output/server/index.mjs`, which listens on 0.0.0.0:$PORT, unless nuxt.config names a Nitro
 * preset that builds something else (static: the site in .output/public; another platform's: refused).
 * Nuxt 2, a version package.json does not say, build options that change the output, or a preset that
 * cannot be read are refused, saying what to add.
 */
async function nuxtBuild(files: RepoFiles, pkg: PackageJson, build: string[]): Promise<FrameworkBuild> {
  const command = build.slice(0, 2).join(' ');
  const refuse = (why: string) => new StackDetectionError(`This Nuxt app's build script runs ${command}, but ${why}. Add a start script that starts the server the build writes (Nuxt 3 and later: ${NUXT_SERVER}, which takes PORT from Render and listens on 0.0.0.0), or a render.yaml saying how to deploy it, and deploy again.`);
  const version = nuxtVersion(pkg);
  if (version.nitro === null) throw refuse('which Nuxt version it uses could not be read from package.json (its "nuxt" dependency)');
  if (!version.nitro) throw refuse(`package.json asks for Nuxt ${JSON.stringify(version.range.slice(0, 40))}, whose build is not Nitro's .output/ of Nuxt 3 and later`);
  if (build.slice(2).some((w) => w.startsWith('--preset') || w.startsWith('--prerender'))) throw refuse(`its ${command} options (--preset, --prerender) change what the build writes`);
  const site: FrameworkBuild = { kind: 'site', dir: '.output/public', from: command };
  if (build[1] === 'generate') return site;
  const config = await readConfig(files, NUXT_CONFIGS);
  const preset = config === null ? { strings: [], other: false } : keyValues(config.lines, 'preset');
  if (preset.other || new Set(preset.strings).size > 1) throw refuse(`its Nitro preset could not be read from ${config!.name}`);
  const name = preset.strings[0]?.replaceAll('_', '-');
  if (name === undefined) return { kind: 'server', start: NUXT_SERVER, from: 'Nitro\'s default node-server preset' };
  if (NITRO_NODE_SERVERS.has(name)) return { kind: 'server', start: NUXT_SERVER, from: `the Nitro preset ${name} (${config!.name})` };
  if (name === 'static') return { ...site, from: `${command} with the Nitro preset static (${config!.name})` };
  throw refuse(`${config!.name} sets the Nitro preset ${JSON.stringify(name.slice(0, 40))}, which does not build a Node server Render starts`);
}

/**
 * The Nuxt version package.json asks for: nitro true for Nuxt 3 and later ("^3.13.0", "~4.0", ">=3",
 * "latest"), false before (Nuxt 2), null when the range does not say (a tag, a URL, workspace:*, none).
 */
function nuxtVersion(pkg: PackageJson): { nitro: boolean | null; range: string } {
  const declared = [pkg.dependencies, pkg.devDependencies].find((deps) => declares(deps, 'nuxt'));
  const range = declared === undefined ? undefined : declared.nuxt;
  if (typeof range !== 'string') return { nitro: null, range: '' };
  if (range.trim() === 'latest') return { nitro: true, range };
  let i = 0;
  while (i < range.length && ' ^~>=v'.includes(range[i]!)) i++;
  let end = i;
  while (end < range.length && end - i < 4 && range[end]! >= '0' && range[end]! <= '9') end++;
  if (end === i || (end < range.length && !'. x'.includes(range[end]!))) return { nitro: null, range };
  return { nitro: Number(range.slice(i, end)) >= 3, range };
}

const SVELTE_ADAPTER = '@sveltejs/adapter-';

/**
 * A SvelteKit app's build, by the adapter svelte.config.js imports (or, with no config to read, the one
 * package.json depends on): adapter-node writes a Node server to build/ (its `out`), started with
 * `node build`, which listens on 0.0.0.0:$PORT; adapter-static writes a static site to build/ (its
 * `pages`). adapter-auto, SvelteKit's default, knows no adapter for Render and writes no app at all
 * (nor do the other platforms' adapters write one Render runs): refused, saying which to use.
 */
async function svelteKitBuild(files: RepoFiles, pkg: PackageJson): Promise<FrameworkBuild | null> {
  const config = await readConfig(files, SVELTE_CONFIGS);
  const imported = config === null ? [] : quotedPackages(config.lines, SVELTE_ADAPTER).filter((name) => name !== SVELTE_ADAPTER);
  const adapters = imported.length > 0 ? imported : dependencyNames(pkg).filter((dep) => dep.startsWith(SVELTE_ADAPTER));
  if (adapters.length === 0) return null;
  const where = imported.length > 0 ? config!.name : 'package.json';
  const choose = 'Use @sveltejs/adapter-node (deployed as a Node web service, started with node build) or @sveltejs/adapter-static (a static site publishing build/) in svelte.config.js, or add a start script that starts the app, and deploy again.';
  if (adapters.length > 1) throw new StackDetectionError(`This SvelteKit app's ${where} names more than one adapter (${adapters.slice(0, 3).join(', ')}), so what its build writes could not be told. ${choose}`);
  const adapter = adapters[0]!;
  const refuse = (why: string) => new StackDetectionError(`This SvelteKit app uses ${adapter} (${where}), but ${why}. Add a start script (or a render.yaml) that says how to run what it builds, and deploy again.`);
  if (adapter === '@sveltejs/adapter-node') {
    const out = configuredDir(config, 'out', 'build', refuse);
    return { kind: 'server', start: `node ${shellWord(out)}`, from: `${adapter} (${where})` };
  }
  if (adapter === '@sveltejs/adapter-static') return { kind: 'site', dir: configuredDir(config, 'pages', 'build', refuse), from: `${adapter} (${where})` };
  if (adapter === '@sveltejs/adapter-auto') {
    throw new StackDetectionError(`This SvelteKit app uses @sveltejs/adapter-auto (${where}), which knows no adapter for Render: its build writes no app to deploy. ${choose}`);
  }
  throw new StackDetectionError(`This SvelteKit app uses ${adapter.slice(0, 80)} (${where}), which builds it for another platform, not for Render. ${choose}`);
}

/**
 * An Astro app whose config uses @astrojs/node: in standalone mode the build is a Node server,
 * <outDir>/server/entry.mjs, which listens on localhost unless HOST says otherwise (PORT it takes from
 * Render), so it starts with HOST=0.0.0.0; middleware mode builds a handler for a server of one's own.
 * A config that does not import the adapter builds a static site (null).
 */
async function astroNodeBuild(files: RepoFiles): Promise<FrameworkBuild | null> {
  const config = await readConfig(files, ASTRO_CONFIGS);
  const standalone = (dir: string) => `HOST=0.0.0.0 node ${shellWord(`./${dir}/server/entry.mjs`)}`;
  const refuse = (why: string) => new StackDetectionError(`package.json depends on @astrojs/node, Astro's Node adapter, but ${why}. Make package.json's start script run the built server (in standalone mode ${standalone('dist')}: Astro's server listens on localhost unless HOST says otherwise) and deploy again.`);
  if (config === null) throw refuse('there is no astro.config at the root to say how the app uses it');
  if (!quotedPackages(config.lines, '@astrojs/node').includes('@astrojs/node')) return null;
  const mode = keyValues(config.lines, 'mode');
  const modes = new Set(mode.strings);
  if (modes.size === 1 && modes.has('middleware') && !mode.other) {
    throw new StackDetectionError(`${config.name} uses @astrojs/node in middleware mode: the build is a handler for a Node server of your own, not a server to start. Add a start script that starts your server and deploy again.`);
  }
  if (modes.size !== 1 || !modes.has('standalone') || mode.other) throw refuse(`its mode (standalone or middleware) could not be read from ${config.name}`);
  const start = standalone(configuredDir(config, 'outDir', 'dist', refuse));
  return { kind: 'server', start, from: `@astrojs/node in standalone mode (${config.name})` };
}

/** The names of the dependencies and devDependencies package.json declares (an object's keys; anything else names none). */
function dependencyNames(pkg: PackageJson): string[] {
  const keys = (deps: unknown) => (typeof deps === 'object' && deps !== null && !Array.isArray(deps) ? Object.keys(deps) : []);
  return [...new Set([...keys(pkg.dependencies), ...keys(pkg.devDependencies)])];
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
  // Angular 6 to 11 workspaces list "<app>-e2e" as an application too, with only e2e (Protractor) and
  // lint targets: ng build builds none but an application with a build target.
  const builds = (name: string) => {
    const project = objectAt(projects, name);
    return project?.projectType === 'application' && objectAt(objectAt(project, 'architect') ?? objectAt(project, 'targets'), 'build') !== null;
  };
  const named = ngBuild[2] !== undefined && !ngBuild[2].startsWith('-') ? [ngBuild[2]] : Object.keys(projects).filter(builds);
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
  const pm = await manager(files, pkg);
  const hasBuild = typeof scripts.build === 'string';
  const buildCommand = hasBuild ? `${pm.install} && ${pm.run('build')}` : pm.install;
  const via = `${pm.name}${pm.locked ? '' : pm.note ?? (pm.name === 'npm' ? ' (no lockfile, so npm install instead of npm ci)' : ` (no lockfile, so ${pm.install} without freezing it)`)}`;

  const procfile = await procfileStart(files);
  const main = mainFile(pkg.main);
  let start: string | null = null;
  let why = '';
  if (procfile) [start, why] = [procfile, 'the Procfile web: command'];
  else if (typeof scripts.start === 'string') {
    const site = await devServerSite(files, t, pkg, scripts, pm, { buildCommand, via });
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
    const build = scripts.build as string;
    // next build writes a server next start runs, unless next.config exports a static site (`next export`, Next.js
    // before 13.3, wrote the static site to out/ after it).
    if (depends(pkg, 'next') && toolBuild(build, 'next') !== null && toolBuild(build, 'next', ['export']) === null) {
      const runs = 'package.json has no start script, and its build script runs next build';
      const next = await nextProduction(files, pm, (why) => new StackDetectionError(`${runs}, but ${why}. Add a start script that runs next start (a server), or, for a static export, a render.yaml declaring a static site (runtime: static) whose staticPublishPath is the directory next build writes, and deploy again.`));
      if (next.kind === 'server') {
        return fromTemplate(t, `${runs}, so the app is served by Next.js's production server (${next.start}, on $PORT): next.config does not set output: 'export'. Installs with ${via}.`, { buildCommand, startCommand: next.start });
      }
      return {
        stack: 'static', serviceType: 'static_site', runtime: 'static', buildCommand, startCommand: null, publishPath: next.dir,
        reason: `${runs}; ${next.from} sets output: 'export', so next build writes a static site, deployed as a static site publishing ${next.dir}/.`,
      };
    }
    // SvelteKit's and Astro's adapters, and Nuxt's build, decide whether the build is a site or a server (adapter-node: `node build`).
    const framework = await frameworkBuild(files, pkg, undefined, build);
    if (framework?.kind === 'server') {
      return fromTemplate(t, `package.json found; installs with ${via}, runs the build script, which with ${framework.from} builds a Node server, and starts it with ${framework.start}.`, { buildCommand, startCommand: framework.start });
    }
    const parcel = framework === null && found?.cli === 'parcel' ? toolBuild(build, 'parcel') : null;
    const refuse = (why: string) => new StackDetectionError(`package.json has a build script and no start script, but ${why}. Add a render.yaml declaring a static site (runtime: static) whose staticPublishPath is the directory the build writes, and deploy again.`);
    const publishPath = framework?.dir ?? (parcel === null ? undefined : parcelDistDir(pkg, parcel, refuse)) ?? found?.dir ?? 'dist';
    const from = framework?.from ?? found?.dep;
    return {
      stack: 'static',
      serviceType: 'static_site',
      runtime: 'static',
      buildCommand,
      startCommand: null,
      publishPath,
      reason: `package.json has a build script but no way to start a server, so it is deployed as a static site publishing ${publishPath}/${from ? ` (${from})` : ''}.`,
    };
  }
  const missingMain = main === null ? 'no "main"' : `no "main" file (${JSON.stringify(main.slice(0, 80))} is not in the repository)`;
  return `package.json has no start script, ${missingMain}, no server.js/index.js and no build script`;
};
