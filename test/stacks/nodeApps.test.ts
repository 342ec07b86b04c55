import test from 'ava';
import { detectStack, StackDetectionError, type RepoFiles } from '../../server/stacks/detect.js';
import { repoFilesFromGitHub } from '../../server/stacks/fromGitHub.js';
import { startGitHubSimulator } from '../../sandbox/github/index.js';
import { createGitHubClient } from '../../server/github/client.js';

// What a Node repository is deployed as when its package.json does not say it plainly: a "main" that
// names no file, a start script that runs a front-end dev server, a monorepo's root.

/** An in-memory repo: path -> content; root names derived like the contents API does. */
function repo(files: Record<string, string>): RepoFiles {
  const list = Object.keys(files).filter((p) => !p.includes('/')).sort();
  const dirs = [...new Set(Object.keys(files).filter((p) => p.includes('/')).map((p) => p.split('/')[0]!))].sort();
  return { list, dirs, read: async (p) => files[p] ?? null };
}
const detect = (files: Record<string, string>) => detectStack(repo(files));
const pkg = (o: object) => JSON.stringify(o, null, 2);

/** What `npm init -y` writes (npm 10): "main" is "index.js" whether or not that file exists. */
const NPM_INIT = {
  name: 'app', version: '1.0.0', description: '', main: 'index.js',
  scripts: { test: 'echo "Error: no test specified" && exit 1' }, keywords: [], author: '', license: 'ISC',
};

// npm's default with no start script is `node server.js` (docs.npmjs.com/cli/v10/using-npm/scripts#default-values);
// "main" is what a package's consumers require, and `npm init -y` writes "index.js" whether it exists or not.
test('an npm-init package.json ("main": "index.js", no index.js) with server.js starts server.js', async (t) => {
  const d = await detect({ 'package.json': pkg(NPM_INIT), 'package-lock.json': '{}', 'server.js': "require('express')().listen(process.env.PORT)" });
  t.like(d, { stack: 'node', serviceType: 'web_service', startCommand: 'node server.js' });
});

test('an npm-init package.json beside a plain index.html site is a static site, not `node index.js`', async (t) => {
  const d = await detect({ 'package.json': pkg({ ...NPM_INIT, devDependencies: { prettier: '^3.3.0' } }), 'index.html': '<!doctype html><h1>hi</h1>', 'style.css': 'h1{}' });
  t.like(d, { stack: 'static', serviceType: 'static_site', runtime: 'static', publishPath: '.', startCommand: null });
});

test('"main" starts the app when the file is there, as node finds it, or when the build writes it', async (t) => {
  t.is((await detect({ 'package.json': pkg({ main: './src/server.js' }), 'src/server.js': '' })).startCommand, 'node ./src/server.js');
  t.is((await detect({ 'package.json': pkg({ main: 'app' }), 'app.js': '' })).startCommand, 'node app', 'node runs app.js');
  t.is((await detect({ 'package.json': pkg({ main: 'lib' }), 'lib/index.js': '' })).startCommand, 'node lib');
  // Not in the repository until the build runs: a build output directory, or tsc's .js beside a .ts.
  t.is((await detect({ 'package.json': pkg({ main: 'dist/index.js', scripts: { build: 'tsc' } }), 'src/index.ts': '' })).startCommand, 'node dist/index.js');
  t.is((await detect({ 'package.json': pkg({ main: 'server.js', scripts: { build: 'tsc' } }), 'server.ts': '' })).startCommand, 'node server.js');
  // The same "main" with no build script names nothing that will exist.
  const err = await t.throwsAsync(detect({ 'package.json': pkg({ main: 'dist/index.js' }) }), { instanceOf: StackDetectionError });
  t.regex(err.message, /no "main" file \("dist\/index\.js" is not in the repository\)/);
  t.is((await detect({ 'package.json': pkg({ main: 'src/app.js' }), 'src/other.js': '', 'index.js': '' })).startCommand, 'node index.js');
});

// Render's Create React App guide deploys it as a static site: `npm run build`, publish directory build
// (render.com/docs/deploy-create-react-app); "react-scripts start" is the webpack dev server.
test('a stock Create React App is a static site publishing build/, not the dev server', async (t) => {
  const d = await detect({
    'package.json': pkg({ name: 'my-app', dependencies: { react: '^18.2.0', 'react-dom': '^18.2.0', 'react-scripts': '5.0.1' }, scripts: { start: 'react-scripts start', build: 'react-scripts build', test: 'react-scripts test', eject: 'react-scripts eject' } }),
    'package-lock.json': '{}', 'public/index.html': '<div id="root"></div>', 'src/index.js': '',
  });
  t.like(d, { stack: 'static', serviceType: 'static_site', runtime: 'static', publishPath: 'build', startCommand: null, buildCommand: 'npm ci && npm run build' });
  t.regex(d.reason, /react-scripts start, a development server/);
  const env = await detect({ 'package.json': pkg({ scripts: { start: 'BROWSER=none react-scripts start', build: 'react-scripts build' }, dependencies: { 'react-scripts': '5' } }) });
  t.like(env, { serviceType: 'static_site', publishPath: 'build' });
});

// gatsby develop (localhost:8000), vite (localhost:5173) and astro dev (localhost:4321) listen on localhost
// only: a web service running them never opens a port on 0.0.0.0:$PORT and the deploy fails.
for (const [name, scripts, deps, publishPath] of [
  ['Gatsby', { develop: 'gatsby develop', start: 'gatsby develop', build: 'gatsby build', serve: 'gatsby serve' }, { gatsby: '^5.13.0' }, 'public'],
  ['Vite', { dev: 'vite', start: 'vite', build: 'tsc -b && vite build', preview: 'vite preview' }, { vite: '^5.4.0' }, 'dist'],
  ['Vite (vite dev)', { start: 'vite dev --port 3000', build: 'vite build' }, { vite: '^5.4.0' }, 'dist'],
  // Moved from Create React App to vite with react-scripts left in the dependencies: vite writes dist/.
  ['Vite (react-scripts left over)', { start: 'vite', build: 'vite build' }, { 'react-scripts': '5.0.1', vite: '^5.4.0' }, 'dist'],
  ['Astro', { dev: 'astro dev', start: 'astro dev', build: 'astro build', preview: 'astro preview' }, { astro: '^4.15.0' }, 'dist'],
] as const) {
  test(`a stock ${name} app is a static site publishing ${publishPath}/, not a web service running its localhost dev server`, async (t) => {
    const d = await detect({ 'package.json': pkg({ name: 'my-app', scripts, dependencies: deps }), 'package-lock.json': '{}' });
    t.like(d, { serviceType: 'static_site', runtime: 'static', startCommand: null, publishPath, buildCommand: 'npm ci && npm run build' });
  });
}

// ng serve listens on localhost:4200 (angular.dev/cli/serve). The application builder (Angular 17's
// default) writes the browser's files to <outputPath>/browser, the older browser builder to outputPath.
const angular = (build: object, extra: Record<string, string> = {}) => detect({
  'package.json': pkg({ name: 'my-app', scripts: { ng: 'ng', start: 'ng serve', build: 'ng build', watch: 'ng build --watch --configuration development', test: 'ng test' }, dependencies: { '@angular/core': '^17.3.0' }, devDependencies: { '@angular/cli': '^17.3.0' } }),
  'package-lock.json': '{}',
  'angular.json': pkg({ version: 1, projects: { 'my-app': { projectType: 'application', root: '', architect: { build } } } }),
  ...extra,
});

test('a stock Angular CLI app is a static site publishing what ng build writes, from angular.json', async (t) => {
  const app = await angular({ builder: '@angular-devkit/build-angular:application', options: { outputPath: 'dist/my-app', index: 'src/index.html' }, defaultConfiguration: 'production' });
  t.like(app, { serviceType: 'static_site', runtime: 'static', startCommand: null, publishPath: 'dist/my-app/browser', buildCommand: 'npm ci && npm run build' });
  t.is((await angular({ builder: '@angular/build:application', options: {} })).publishPath, 'dist/my-app/browser', 'outputPath defaults to dist/<project>');
  t.is((await angular({ builder: '@angular/build:application', options: { outputPath: { base: 'out', browser: '' } } })).publishPath, 'out');
  t.is((await angular({ builder: '@angular-devkit/build-angular:browser', options: { outputPath: 'dist/my-app' } })).publishPath, 'dist/my-app');
});

test('an Angular app whose output detection cannot read from angular.json is refused, saying what to add', async (t) => {
  const noWorkspace = await t.throwsAsync(detect({ 'package.json': pkg({ scripts: { start: 'ng serve', build: 'ng build' }, dependencies: { '@angular/core': '^17.3.0' } }) }), { instanceOf: StackDetectionError });
  t.regex(noWorkspace.message, /ng serve, Angular's development server.*no angular\.json.*render\.yaml.*staticPublishPath/);
  const custom = await t.throwsAsync(angular({ builder: '@nx/angular:webpack-browser', options: { outputPath: 'x' } }), { instanceOf: StackDetectionError });
  t.regex(custom.message, /builder is not one whose output directory detection knows/);
  const ssr = await t.throwsAsync(angular({ builder: '@angular-devkit/build-angular:application', options: { outputPath: 'dist/my-app', server: 'src/main.server.ts', ssr: { entry: 'server.ts' } } }), { instanceOf: StackDetectionError });
  t.regex(ssr.message, /server-side rendering.*node dist\/<app>\/server\/server\.mjs/);
});

test('a start script that runs a real server still starts it, whatever the build script', async (t) => {
  for (const [start, build, deps] of [
    ['next start', 'next build', { next: '^14.2.0' }],
    ['node server.js', 'react-scripts build', { 'react-scripts': '5' }],
    ['vite preview --host 0.0.0.0 --port $PORT', 'vite build', { vite: '^5' }],
    ['react-scripts start && node server.js', 'react-scripts build', { 'react-scripts': '5' }],
  ] as const) {
    const d = await detect({ 'package.json': pkg({ scripts: { start, build }, dependencies: deps }), 'package-lock.json': '{}', 'server.js': '' });
    t.like(d, { stack: 'node', serviceType: 'web_service', startCommand: 'npm start' }, start);
  }
});

test('an Astro dev start script with the Node adapter and no astro.config to read is refused, naming the built server', async (t) => {
  const err = await t.throwsAsync(detect({ 'package.json': pkg({ scripts: { start: 'astro dev', build: 'astro build' }, dependencies: { astro: '^4', '@astrojs/node': '^8' } }) }), { instanceOf: StackDetectionError });
  t.regex(err.message, /@astrojs\/node.*node \.\/dist\/server\/entry\.mjs/);
});

// A Turborepo / workspaces root's build writes apps/*/dist, never ./dist: a static site publishing ./dist
// failed on Render for the missing directory, and the deploy form has no rootDir to name the app by.
test('a workspaces monorepo root with only a turbo build script is refused, pointing at render.yaml rootDir', async (t) => {
  const files = {
    'package.json': pkg({ name: 'monorepo', private: true, workspaces: ['apps/*', 'packages/*'], scripts: { build: 'turbo run build', dev: 'turbo run dev', lint: 'turbo run lint' }, devDependencies: { turbo: '^2.0.0' } }),
    'package-lock.json': '{}', 'turbo.json': '{}', 'apps/web/package.json': '{}', 'apps/api/package.json': '{}',
  };
  const err = await t.throwsAsync(detect(files), { instanceOf: StackDetectionError });
  t.regex(err.message, /monorepo root \("workspaces" in package\.json\).*render\.yaml.*rootDir: apps\/web/);
  // A tool the root depends on for its tests (vite for vitest) does not make the root a site.
  const vitest = pkg({ private: true, scripts: { build: 'pnpm -r build', test: 'vitest' }, devDependencies: { vite: '^5', vitest: '^2' } });
  const pnpm = await t.throwsAsync(detect({ 'package.json': vitest, 'pnpm-workspace.yaml': 'packages:\n  - apps/*\n', 'pnpm-lock.yaml': '' }), { instanceOf: StackDetectionError });
  t.regex(pnpm.message, /monorepo root \(pnpm-workspace\.yaml\)/);
  for (const marker of ['nx.json', 'lerna.json']) {
    await t.throwsAsync(detect({ 'package.json': pkg({ scripts: { build: `${marker === 'nx.json' ? 'nx run-many -t build' : 'lerna run build'}` } }), [marker]: '{}' }), { instanceOf: StackDetectionError, message: /monorepo root/ }, marker);
  }
});

test('a monorepo root that is itself an app keeps its start script, or its own front-end build', async (t) => {
  const server = await detect({ 'package.json': pkg({ workspaces: ['packages/*'], scripts: { build: 'turbo run build', start: 'node apps/api/dist/main.js' } }), 'package-lock.json': '{}', 'turbo.json': '{}' });
  t.like(server, { stack: 'node', serviceType: 'web_service', buildCommand: 'npm ci && npm run build', startCommand: 'npm start' });
  const site = await detect({ 'package.json': pkg({ workspaces: ['packages/*'], scripts: { build: 'vite build' }, devDependencies: { vite: '^5' } }), 'package-lock.json': '{}', 'index.html': '' });
  t.like(site, { serviceType: 'static_site', publishPath: 'dist' });
});

test('a workspaces root with no scripts says it is a monorepo and how to name the app', async (t) => {
  const err = await t.throwsAsync(detect({ 'package.json': pkg({ name: 'root', private: true, workspaces: ['apps/*'] }), 'package-lock.json': '{}' }), { instanceOf: StackDetectionError });
  t.regex(err.message, /monorepo root \("workspaces" in package\.json\) with no start or build script of its own: add a render\.yaml whose service names the app's directory as its rootDir/);
});

test('over the GitHub simulator, "main" below the root is looked for through the real client', async (t) => {
  const sim = await startGitHubSimulator();
  t.teardown(() => sim.close());
  sim.addUser({ login: 'mia' });
  sim.addRepo({
    owner: 'mia', name: 'api',
    branches: {
      there: { 'package.json': pkg({ main: 'src/server.js' }), 'package-lock.json': '{}', 'src/server.js': '' },
      gone: { 'package.json': pkg({ main: 'src/index.js' }), 'package-lock.json': '{}', 'src/app.js': '', 'server.js': '' },
    },
  });
  const gh = createGitHubClient({ apiUrl: sim.apiUrl, token: sim.issueToken('mia'), retries: false });
  t.is((await detectStack(await repoFilesFromGitHub(gh, 'mia', 'api', 'there'))).startCommand, 'node src/server.js');
  t.is((await detectStack(await repoFilesFromGitHub(gh, 'mia', 'api', 'gone'))).startCommand, 'node server.js');
});

// vite preview (localhost:4173), astro preview (localhost:4321) and gatsby serve (localhost:9000) serve the
// build's output on localhost only unless given a host: as a start script they are the dev servers' case,
// and the app is the static site they would serve. vue-cli-service serve is webpack's dev server.
for (const [name, scripts, deps, publishPath] of [
  ['Vite (vite preview)', { start: 'vite preview', build: 'tsc -b && vite build' }, { vite: '^5.4.0' }, 'dist'],
  ['Vite (vite preview --port 8080)', { start: 'vite preview --port 8080', build: 'vite build' }, { vite: '^5.4.0' }, 'dist'],
  ['Astro (astro preview)', { start: 'astro preview', build: 'astro check && astro build' }, { astro: '^4.15.0' }, 'dist'],
  ['Gatsby (gatsby serve)', { start: 'gatsby serve', build: 'gatsby build' }, { gatsby: '^5.13.0' }, 'public'],
  ['Vue CLI (vue-cli-service serve)', { start: 'vue-cli-service serve', build: 'vue-cli-service build' }, { '@vue/cli-service': '~5.0.0' }, 'dist'],
] as const) {
  test(`a ${name} start script is a static site publishing ${publishPath}/, not a web service running a localhost-only server`, async (t) => {
    const d = await detect({ 'package.json': pkg({ name: 'my-app', scripts, dependencies: deps }), 'package-lock.json': '{}' });
    t.like(d, { serviceType: 'static_site', runtime: 'static', startCommand: null, publishPath, buildCommand: 'npm ci && npm run build' });
    t.regex(d.reason, /a (development|preview) server/);
  });
}

test('a preview server told to listen beyond localhost (--host, gatsby -H) still starts as its script says', async (t) => {
  for (const [start, build, deps] of [
    ['astro preview --host', 'astro build', { astro: '^4' }],
    ['vite preview --host=0.0.0.0 --port $PORT', 'vite build', { vite: '^5' }],
    ['gatsby serve -H 0.0.0.0 -p $PORT', 'gatsby build', { gatsby: '^5' }],
  ] as const) {
    t.like(await detect({ 'package.json': pkg({ scripts: { start, build }, dependencies: deps }), 'package-lock.json': '{}' }), { serviceType: 'web_service', startCommand: 'npm start' }, start);
  }
});

// next dev compiles every page on request: Next.js's production server is next start (it listens on
// 0.0.0.0:$PORT), unless next.config exports a static site, which next start refuses to serve.
test('a next dev start script with a next build script is served by next start, through the project\'s package manager', async (t) => {
  const scripts = { dev: 'next dev', start: 'next dev', build: 'next build', lint: 'next lint' };
  const npm = await detect({ 'package.json': pkg({ scripts, dependencies: { next: '14.2.5', react: '^18' } }), 'package-lock.json': '{}', 'next.config.mjs': 'const nextConfig = {};\nexport default nextConfig;\n' });
  t.like(npm, { stack: 'node', serviceType: 'web_service', runtime: 'node', buildCommand: 'npm ci && npm run build', startCommand: 'npx next start' });
  t.regex(npm.reason, /next dev, a development server, not a production one.*next start/);
  t.like(await detect({ 'package.json': pkg({ scripts, dependencies: { next: '15' } }), 'pnpm-lock.yaml': '' }), { buildCommand: 'pnpm install --frozen-lockfile && pnpm run build', startCommand: 'pnpm exec next start' });
  t.like(await detect({ 'package.json': pkg({ scripts: { start: 'next dev --turbo -p 3000', build: 'next build' }, dependencies: { next: '15' } }), 'yarn.lock': '' }), { startCommand: 'yarn next start' });
  // A commented-out export, and other keys starting with "output", are not an export.
  const commented = "module.exports = {\n  // output: 'export',\n  outputFileTracingRoot: __dirname,\n};\n";
  t.like(await detect({ 'package.json': pkg({ scripts, dependencies: { next: '15' } }), 'next.config.js': commented }), { serviceType: 'web_service', startCommand: 'npx next start' });
});

test('a next dev start script whose next.config exports a static site is a static site publishing out/ (or distDir)', async (t) => {
  const scripts = { start: 'next dev', build: 'next build' };
  const files = (config: string) => ({ 'package.json': pkg({ scripts, dependencies: { next: '15' } }), 'package-lock.json': '{}', 'next.config.ts': config });
  const site = await detect(files("import type { NextConfig } from 'next';\n\nconst nextConfig: NextConfig = {\n  output: 'export',\n};\n\nexport default nextConfig;\n"));
  t.like(site, { serviceType: 'static_site', runtime: 'static', startCommand: null, publishPath: 'out', buildCommand: 'npm ci && npm run build' });
  t.is((await detect(files('const nextConfig = {\n  output: "export",\n  distDir: "dist", // the export goes here\n};\n'))).publishPath, 'dist');
  const unread = await t.throwsAsync(detect(files("const nextConfig = {\n  output: process.env.EXPORT ? 'export' : undefined,\n};\n")), { instanceOf: StackDetectionError });
  t.regex(unread.message, /next dev, a development server.*whether next\.config\.ts exports a static site \(output: 'export'\) could not be read.*next start.*render\.yaml/);
});

// Before: each of these was a web service running the dev server (npm start), which on Render listens on
// localhost only (or compiles on request), and the deploy failed or ran a development build.
test('a dev or preview server start script with no build script running that tool\'s build is refused, saying what to add', async (t) => {
  for (const [scripts, deps, pattern] of [
    [{ start: 'vite' }, { vite: '^5' }, /start script runs vite, a development server, not a production one, and there is no build script.*Add a build script that runs vite build \("build": "vite build" in package\.json's scripts\).*static site/],
    [{ start: 'vite', dev: 'vite' }, { vite: '^5' }, /there is no build script/],
    [{ start: 'vite preview' }, { vite: '^5' }, /vite preview, a preview server listening on localhost only.*no build script.*"build": "vite build"/],
    [{ start: 'react-scripts start', build: 'craco build' }, { 'react-scripts': '5', '@craco/craco': '7' }, /its build script does not run react-scripts build.*"build": "react-scripts build"/],
    [{ start: 'ng serve' }, { '@angular/core': '^17' }, /ng serve, a development server.*"build": "ng build"/],
  ] as const) {
    const err = await t.throwsAsync(detect({ 'package.json': pkg({ scripts, dependencies: deps }), 'package-lock.json': '{}', 'index.html': '' }), { instanceOf: StackDetectionError }, JSON.stringify(scripts));
    t.regex(err.message, pattern, JSON.stringify(scripts));
  }
});

// A development server that listens where Render looks (next dev always; the others given a host flag) works,
// if slowly: with no build in its place it is not refused, but started as the script says.
test('a dev server start script that listens beyond localhost, with no build script, starts as written', async (t) => {
  for (const [scripts, deps] of [
    [{ start: 'vite --host 0.0.0.0 --port $PORT' }, { vite: '^5' }],
    [{ start: 'next dev' }, { next: '15' }],
    [{ start: 'HOST=0.0.0.0 react-scripts start' }, { 'react-scripts': '5' }],
  ] as const) {
    const d = await detect({ 'package.json': pkg({ scripts, dependencies: deps }), 'package-lock.json': '{}' });
    t.like(d, { stack: 'node', serviceType: 'web_service', buildCommand: 'npm ci', startCommand: 'npm start' }, JSON.stringify(scripts));
  }
});

// SvelteKit's templates (npx sv create) have no start script: the adapter decides what vite build writes.
// adapter-node: a server in build/ started with `node build` (it listens on 0.0.0.0:$PORT); adapter-static:
// a static site in build/; adapter-auto (the default) writes no app for Render. Before, all three were a
// static site publishing build/, which for adapter-node held a server and no index.html.
const svelteKit = (adapter: string, config: string | null, extra: Record<string, string> = {}) => detect({
  'package.json': pkg({ name: 'my-app', type: 'module', scripts: { dev: 'vite dev', build: 'vite build', preview: 'vite preview' }, devDependencies: { '@sveltejs/kit': '^2.5.0', [adapter]: '^5.0.0', svelte: '^4.2.0', vite: '^5.0.0' } }),
  'package-lock.json': '{}',
  ...(config === null ? {} : { 'svelte.config.js': config }),
  ...extra,
});
const svelteConfig = (adapter: string, options = '') => `import adapter from '${adapter}';\nimport { vitePreprocess } from '@sveltejs/vite-plugin-svelte';\n\n/** @type {import('@sveltejs/kit').Config} */\nconst config = {\n\tpreprocess: vitePreprocess(),\n\tkit: {\n\t\t// adapter-auto only supports some environments, see https://kit.svelte.dev/docs/adapter-auto for a list.\n\t\tadapter: adapter(${options})\n\t}\n};\n\nexport default config;\n`;

test('SvelteKit with adapter-node and no start script is a Node web service started with node build', async (t) => {
  const d = await svelteKit('@sveltejs/adapter-node', svelteConfig('@sveltejs/adapter-node'));
  t.like(d, { stack: 'node', serviceType: 'web_service', runtime: 'node', buildCommand: 'npm ci && npm run build', startCommand: 'node build' });
  t.regex(d.reason, /@sveltejs\/adapter-node \(svelte\.config\.js\)/);
  t.is((await svelteKit('@sveltejs/adapter-node', svelteConfig('@sveltejs/adapter-node', "{ out: 'server' }"))).startCommand, 'node server');
  t.is((await svelteKit('@sveltejs/adapter-node', null)).startCommand, 'node build', 'no svelte.config.js to read: the adapter package.json depends on');
  // A start script says how it starts.
  const started = await detect({ 'package.json': pkg({ scripts: { build: 'vite build', start: 'node build' }, devDependencies: { '@sveltejs/kit': '^2', '@sveltejs/adapter-node': '^5' } }), 'package-lock.json': '{}' });
  t.like(started, { serviceType: 'web_service', startCommand: 'npm start' });
});

test('SvelteKit with adapter-static is a static site publishing build/ (or its pages directory)', async (t) => {
  t.like(await svelteKit('@sveltejs/adapter-static', svelteConfig('@sveltejs/adapter-static', "{ fallback: '200.html' }")), { serviceType: 'static_site', publishPath: 'build', startCommand: null });
  t.is((await svelteKit('@sveltejs/adapter-static', svelteConfig('@sveltejs/adapter-static', "{ pages: 'dist', assets: 'dist' }"))).publishPath, 'dist');
  // adapter-node in package.json but commented out of the config: the config's adapter is the one used.
  const switched = svelteConfig('@sveltejs/adapter-static').replace('import adapter', "// import adapter from '@sveltejs/adapter-node';\nimport adapter");
  t.like(await svelteKit('@sveltejs/adapter-node', switched, {}), { serviceType: 'static_site', publishPath: 'build' });
  // A vite dev start script with adapter-static: the same site.
  const dev = await detect({ 'package.json': pkg({ scripts: { start: 'vite dev', build: 'vite build' }, devDependencies: { '@sveltejs/kit': '^2', '@sveltejs/adapter-static': '^3', vite: '^5' } }), 'svelte.config.js': svelteConfig('@sveltejs/adapter-static', "{ pages: 'public' }") });
  t.like(dev, { serviceType: 'static_site', publishPath: 'public' });
});

// A refusal quotes the dependency's name as package.json has it: its line breaks made lines of their own in a CI job's
// log, where one starting "::error" is a workflow command (scripts/ci-deploy.mjs printed the failure as it came).
test('a refusal quoting a dependency\'s name shows its control and invisible characters as U+FFFD', async (t) => {
  const forged = '@sveltejs/adapter-x\n::error title=Deploy OK::forged\u202e\u2060';
  const err = await t.throwsAsync(svelteKit(forged, null), { instanceOf: StackDetectionError });
  t.true(err.message.includes('@sveltejs/adapter-x\uFFFD::error title=Deploy OK::forged\uFFFD\uFFFD (package.json)'), err.message);
});

test('SvelteKit with adapter-auto or another platform\'s adapter is refused, naming the adapters Render runs', async (t) => {
  const auto = await t.throwsAsync(svelteKit('@sveltejs/adapter-auto', svelteConfig('@sveltejs/adapter-auto')), { instanceOf: StackDetectionError });
  t.regex(auto.message, /@sveltejs\/adapter-auto \(svelte\.config\.js\), which knows no adapter for Render.*@sveltejs\/adapter-node.*node build.*@sveltejs\/adapter-static/);
  const vercel = await t.throwsAsync(svelteKit('@sveltejs/adapter-vercel', svelteConfig('@sveltejs/adapter-vercel')), { instanceOf: StackDetectionError });
  t.regex(vercel.message, /@sveltejs\/adapter-vercel .*another platform/);
  const two = svelteConfig('@sveltejs/adapter-node').replace('import { vite', "import stat from '@sveltejs/adapter-static';\nimport { vite");
  const both = await t.throwsAsync(svelteKit('@sveltejs/adapter-node', two), { instanceOf: StackDetectionError });
  t.regex(both.message, /more than one adapter \(@sveltejs\/adapter-node, @sveltejs\/adapter-static\)/);
  const unread = await t.throwsAsync(svelteKit('@sveltejs/adapter-node', svelteConfig('@sveltejs/adapter-node', '{ out: process.env.OUT }')), { instanceOf: StackDetectionError });
  t.regex(unread.message, /svelte\.config\.js's out could not be read as one directory/);
});

// @astrojs/node in standalone mode builds dist/server/entry.mjs, a server that takes PORT from Render but
// listens on localhost unless HOST says otherwise (its `server.host` default).
const astroConfig = (adapterOptions: string, extra = '') => `// @ts-check\nimport { defineConfig } from 'astro/config';\nimport node from '@astrojs/node';\n\nexport default defineConfig({\n  output: 'server',${extra}\n  adapter: node(${adapterOptions}),\n});\n`;
const astro = (config: Record<string, string>) => detect({ 'package.json': pkg({ name: 'site', type: 'module', scripts: { dev: 'astro dev', build: 'astro build', preview: 'astro preview', astro: 'astro' }, dependencies: { astro: '^4.15.0', '@astrojs/node': '^8.3.0' } }), 'package-lock.json': '{}', ...config });

test('Astro with @astrojs/node in standalone mode and no start script is a Node web service running dist/server/entry.mjs on 0.0.0.0', async (t) => {
  const d = await astro({ 'astro.config.mjs': astroConfig("{ mode: 'standalone' }") });
  t.like(d, { stack: 'node', serviceType: 'web_service', runtime: 'node', buildCommand: 'npm ci && npm run build', startCommand: 'HOST=0.0.0.0 node ./dist/server/entry.mjs' });
  t.regex(d.reason, /@astrojs\/node in standalone mode \(astro\.config\.mjs\)/);
  t.is((await astro({ 'astro.config.ts': astroConfig('{\n    mode: "standalone",\n  }', "\n  outDir: './build',") })).startCommand, 'HOST=0.0.0.0 node ./build/server/entry.mjs');
  // A config that does not use the adapter builds the static site.
  t.like(await astro({ 'astro.config.mjs': "import { defineConfig } from 'astro/config';\nexport default defineConfig({});\n" }), { serviceType: 'static_site', publishPath: 'dist' });
});

test('Astro with @astrojs/node whose mode is middleware, or cannot be read, is refused', async (t) => {
  const middleware = await t.throwsAsync(astro({ 'astro.config.mjs': astroConfig("{ mode: 'middleware' }") }), { instanceOf: StackDetectionError });
  t.regex(middleware.message, /middleware mode: the build is a handler for a Node server of your own/);
  const variable = await t.throwsAsync(astro({ 'astro.config.mjs': astroConfig('{ mode: process.env.MODE }') }), { instanceOf: StackDetectionError });
  t.regex(variable.message, /its mode \(standalone or middleware\) could not be read from astro\.config\.mjs.*HOST=0\.0\.0\.0 node \.\/dist\/server\/entry\.mjs/);
  const none = await t.throwsAsync(astro({}), { instanceOf: StackDetectionError });
  t.regex(none.message, /no astro\.config at the root/);
});

// Angular 6 to 11 `ng new` wrote a second application project, "<app>-e2e", with only e2e (Protractor) and
// lint targets: ng build builds the one application with a build target.
test('an Angular 7 workspace with its <app>-e2e project is a static site publishing the app\'s outputPath', async (t) => {
  const workspace = {
    $schema: './node_modules/@angular/cli/lib/config/schema.json', version: 1, newProjectRoot: 'projects',
    projects: {
      'my-app': {
        root: '', sourceRoot: 'src', projectType: 'application', prefix: 'app', schematics: {},
        architect: {
          build: { builder: '@angular-devkit/build-angular:browser', options: { outputPath: 'dist/my-app', index: 'src/index.html', main: 'src/main.ts' }, configurations: { production: { optimization: true } } },
          serve: { builder: '@angular-devkit/build-angular:dev-server', options: { browserTarget: 'my-app:build' } },
          test: { builder: '@angular-devkit/build-angular:karma', options: {} },
        },
      },
      'my-app-e2e': {
        root: 'e2e/', projectType: 'application', prefix: '',
        architect: {
          e2e: { builder: '@angular-devkit/build-angular:protractor', options: { protractorConfig: 'e2e/protractor.conf.js', devServerTarget: 'my-app:serve' } },
          lint: { builder: '@angular-devkit/build-angular:tslint', options: { tsConfig: 'e2e/tsconfig.e2e.json' } },
        },
      },
    },
    defaultProject: 'my-app',
  };
  const files = (ws: object) => ({
    'package.json': pkg({ name: 'my-app', scripts: { ng: 'ng', start: 'ng serve', build: 'ng build', test: 'ng test', e2e: 'ng e2e' }, dependencies: { '@angular/core': '~7.2.0' }, devDependencies: { '@angular/cli': '~7.3.9' } }),
    'package-lock.json': '{}', 'angular.json': pkg(ws),
  });
  t.like(await detect(files(workspace)), { serviceType: 'static_site', runtime: 'static', startCommand: null, publishPath: 'dist/my-app', buildCommand: 'npm ci && npm run build' });
  // Two applications ng build could build are still refused.
  const two = { ...workspace, projects: { ...workspace.projects, admin: { ...workspace.projects['my-app'], root: 'projects/admin' } } };
  const err = await t.throwsAsync(detect(files(two)), { instanceOf: StackDetectionError });
  t.regex(err.message, /more than one application/);
});

// Render's Node runtime has Bun (render.com/docs/bun-version): its version from .bun-version or
// BUN_VERSION, else 1.1.0, which reads bun.lockb but predates the text bun.lock (Bun 1.1.39, default in 1.2).
test('a Bun lockfile installs with bun: frozen from bun.lockb, or from bun.lock when .bun-version names a Bun that reads it', async (t) => {
  const app = pkg({ name: 'api', module: 'index.ts', scripts: { start: 'bun run index.ts', build: 'bun build ./index.ts --outdir dist' } });
  const lockb = await detect({ 'package.json': app, 'bun.lockb': '\u0000bun-lockfile-format-v0' });
  t.like(lockb, { stack: 'node', runtime: 'node', serviceType: 'web_service', buildCommand: 'bun install --frozen-lockfile && bun run build', startCommand: 'bun run start' });
  for (const version of ['1.2.10', '1.1.39', 'latest', 'v1.2', '1.3.0\n']) {
    t.like(await detect({ 'package.json': app, 'bun.lock': '{}', '.bun-version': version }), { buildCommand: 'bun install --frozen-lockfile && bun run build' }, version);
  }
  for (const [version, files] of [['none', {}], ['1.1.0', { '.bun-version': '1.1.0\n' }], ['1.1.38', { '.bun-version': '1.1.38' }]] as const) {
    const d = await detect({ 'package.json': app, 'bun.lock': '{}', ...files });
    t.like(d, { buildCommand: 'bun install && bun run build', startCommand: 'bun run start' }, version);
    t.regex(d.reason, /bun\.lock: Render's default Bun, 1\.1\.0, predates that lockfile.*add a \.bun-version file saying 1\.2 or later/, version);
  }
  // A front-end site built with bun.
  const site = await detect({ 'package.json': pkg({ scripts: { dev: 'vite', build: 'vite build' }, devDependencies: { vite: '^5' } }), 'bun.lockb': 'x', 'index.html': '' });
  t.like(site, { serviceType: 'static_site', buildCommand: 'bun install --frozen-lockfile && bun run build', publishPath: 'dist' });
  // packageManager alone: bun, not frozen. An npm lockfile beside a Bun one: npm ci installs what it locks.
  t.like(await detect({ 'package.json': pkg({ packageManager: 'bun@1.2.4', scripts: { start: 'bun index.ts' } }) }), { buildCommand: 'bun install', startCommand: 'bun run start' });
  t.like(await detect({ 'package.json': pkg({ scripts: { start: 'node index.js' } }), 'package-lock.json': '{}', 'bun.lockb': 'x' }), { buildCommand: 'npm ci', startCommand: 'npm start' });
});

// create-next-app writes "start": "next start"; without one, next build's output was published as a static
// site from out/, which next build writes only with output: 'export' (Render's Next.js guide: a Node server
// running next start, or, changed to export, a static site publishing out/). Next.js reads PORT for next start.
test('a next build script with no start script is served by next start, unless next.config exports a static site', async (t) => {
  const files = (extra: Record<string, string> = {}, scripts: Record<string, string> = { dev: 'next dev', build: 'next build', lint: 'next lint' }) =>
    detect({ 'package.json': pkg({ name: 'web', scripts, dependencies: { next: '15.1.0', react: '^19' } }), 'package-lock.json': '{}', ...extra });
  const server = await files({ 'next.config.ts': "import type { NextConfig } from 'next';\n\nconst nextConfig: NextConfig = {\n  /* config options here */\n};\n\nexport default nextConfig;\n" });
  t.like(server, { stack: 'node', serviceType: 'web_service', runtime: 'node', buildCommand: 'npm ci && npm run build', startCommand: 'npx next start' });
  t.regex(server.reason, /no start script, and its build script runs next build, so the app is served by Next\.js's production server \(npx next start, on \$PORT\)/);
  t.like(await files(), { serviceType: 'web_service', startCommand: 'npx next start' }, 'no next.config: Next.js\'s default output, a server');
  t.like(await files({}, { build: 'prisma generate && next build' }), { startCommand: 'npx next start' });
  t.like(await detect({ 'package.json': pkg({ scripts: { build: 'next build' }, dependencies: { next: '15' } }), 'pnpm-lock.yaml': '' }), { startCommand: 'pnpm exec next start' });
  // output: 'export': the static site next build writes (out/, or distDir); `next export` (before Next.js 13.3) too.
  t.like(await files({ 'next.config.mjs': "const nextConfig = { output: 'export' };\nexport default nextConfig;\n" }), { serviceType: 'static_site', startCommand: null, publishPath: 'out', buildCommand: 'npm ci && npm run build' });
  t.is((await files({ 'next.config.js': "module.exports = { output: 'export', distDir: 'build' };\n" })).publishPath, 'build');
  t.like(await files({}, { build: 'next build && next export' }), { serviceType: 'static_site', publishPath: 'out' });
  // A config whose output cannot be read, or too large to read, is refused, saying what to add.
  const unread = await t.throwsAsync(files({ 'next.config.js': "module.exports = { output: process.env.STATIC ? 'export' : 'standalone' };\n" }), { instanceOf: StackDetectionError });
  t.regex(unread.message, /no start script, and its build script runs next build, but whether next\.config\.js exports a static site \(output: 'export'\) could not be read from it\. Add a start script that runs next start.*render\.yaml/);
  const large = await t.throwsAsync(files({ 'next.config.js': `module.exports = {};\n${'/'.repeat(256 * 1024)}` }), { instanceOf: StackDetectionError });
  t.regex(large.message, /next\.config\.js is too large to read whether it exports a static site.*Add a start script that runs next start/);
});

// nuxt dev listens on localhost:3000 unless --host/-h or NUXT_HOST, NITRO_HOST or HOST says otherwise (it takes
// its port from NUXT_PORT, NITRO_PORT or PORT): a web service running it never passes Render's port check. nuxt
// build writes Nitro's Node server, .output/server/index.mjs (PORT, else 3000; HOST, else 0.0.0.0), which
// Nuxt's Render guide starts with node; nuxt generate writes a static site to .output/public.
const nuxt = (scripts: Record<string, string>, extra: Record<string, string> = {}, version = '^3.13.0') => detect({
  'package.json': pkg({ name: 'nuxt-app', private: true, type: 'module', scripts, dependencies: { nuxt: version, vue: 'latest', 'vue-router': 'latest' } }),
  'package-lock.json': '{}', 'app.vue': '<template><NuxtWelcome /></template>\n', ...extra,
});
const NUXT_STARTER = { build: 'nuxt build', dev: 'nuxt dev', generate: 'nuxt generate', preview: 'nuxt preview', postinstall: 'nuxt prepare' };

test('a nuxt dev start script is the Node server nuxt build writes, or the static site nuxt generate writes', async (t) => {
  const server = await nuxt({ ...NUXT_STARTER, start: 'nuxt dev' }, { 'nuxt.config.ts': "export default defineNuxtConfig({\n  compatibilityDate: '2024-11-01',\n  devtools: { enabled: true }\n})\n" });
  t.like(server, { stack: 'node', serviceType: 'web_service', runtime: 'node', buildCommand: 'npm ci && npm run build', startCommand: 'node .output/server/index.mjs' });
  t.regex(server.reason, /start script runs nuxt dev, a development server, not a production one; its build script \(nuxt build\) with Nitro's default node-server preset builds a Node server/);
  t.like(await nuxt({ start: 'nuxi dev', build: 'nuxi build' }, {}, '^4.0.0'), { serviceType: 'web_service', startCommand: 'node .output/server/index.mjs' }, 'nuxi, Nuxt 4');
  t.like(await nuxt({ start: 'nuxt dev', build: 'nuxt generate' }), { serviceType: 'static_site', runtime: 'static', startCommand: null, publishPath: '.output/public' });
  // A Nitro preset in nuxt.config: node-server (render_com alike) a server, static a site, another platform's refused.
  const preset = (name: string) => nuxt({ start: 'nuxt dev', build: 'nuxt build' }, { 'nuxt.config.ts': `export default defineNuxtConfig({\n  nitro: {\n    preset: '${name}',\n  },\n})\n` });
  t.like(await preset('render_com'), { startCommand: 'node .output/server/index.mjs' });
  t.like(await preset('node-server'), { startCommand: 'node .output/server/index.mjs' });
  t.like(await preset('static'), { serviceType: 'static_site', publishPath: '.output/public' });
  const vercel = await t.throwsAsync(preset('vercel'), { instanceOf: StackDetectionError });
  t.regex(vercel.message, /nuxt build, but nuxt\.config\.ts sets the Nitro preset "vercel", which does not build a Node server Render starts\. Add a start script .*node \.output\/server\/index\.mjs/);
  const unread = await t.throwsAsync(nuxt({ start: 'nuxt dev', build: 'nuxt build' }, { 'nuxt.config.ts': 'export default defineNuxtConfig({ nitro: { preset: process.env.PRESET } })\n' }), { instanceOf: StackDetectionError });
  t.regex(unread.message, /its Nitro preset could not be read from nuxt\.config\.ts/);
  // Nuxt 2 builds no Nitro server; a version package.json does not say is not guessed.
  const two = await t.throwsAsync(nuxt({ start: 'nuxt dev', build: 'nuxt build' }, {}, '^2.17.3'), { instanceOf: StackDetectionError });
  t.regex(two.message, /package\.json asks for Nuxt "\^2\.17\.3", whose build is not Nitro's \.output\//);
  await t.throwsAsync(nuxt({ start: 'nuxt dev', build: 'nuxt build' }, {}, 'github:nuxt/nuxt'), { instanceOf: StackDetectionError, message: /which Nuxt version it uses could not be read/ });
});

test('a Nuxt app with no start script is the Node server nuxt build writes (not a static dist/), or nuxt generate\'s static site', async (t) => {
  const server = await nuxt(NUXT_STARTER);
  t.like(server, { stack: 'node', serviceType: 'web_service', buildCommand: 'npm ci && npm run build', startCommand: 'node .output/server/index.mjs' });
  t.regex(server.reason, /runs the build script, which with Nitro's default node-server preset builds a Node server, and starts it with node \.output\/server\/index\.mjs/);
  t.like(await nuxt({ build: 'nuxt generate' }), { serviceType: 'static_site', publishPath: '.output/public', startCommand: null });
});

test('a nuxt dev start script with no build script is refused, saying what to add, unless it listens beyond localhost', async (t) => {
  const err = await t.throwsAsync(nuxt({ start: 'nuxt dev', dev: 'nuxt dev' }), { instanceOf: StackDetectionError });
  t.regex(err.message, /start script runs nuxt dev, a development server, not a production one, and there is no build script.*"build": "nuxt build".*node \.output\/server\/index\.mjs.*nuxt generate/);
  const other = await t.throwsAsync(nuxt({ start: 'nuxt dev', build: 'eslint .' }), { instanceOf: StackDetectionError });
  t.regex(other.message, /its build script does not run nuxt build or nuxt generate/);
  for (const start of ['nuxt dev --host 0.0.0.0', 'nuxt dev -h 0.0.0.0', 'HOST=0.0.0.0 nuxt dev', 'NITRO_HOST=0.0.0.0 nuxt dev']) {
    t.like(await nuxt({ start }), { serviceType: 'web_service', buildCommand: 'npm ci', startCommand: 'npm start' }, start);
  }
});

// parcel's dev server (serve, its default command: `parcel src/index.html`) listens on all interfaces and
// takes its port from PORT; parcel build writes the site to dist/ (or --dist-dir).
test('a parcel dev server start script is the static site parcel build writes; without a build it starts as written', async (t) => {
  const parcel = (scripts: Record<string, string>) => detect({ 'package.json': pkg({ name: 'site', source: 'src/index.html', scripts, devDependencies: { parcel: '^2.12.0' } }), 'package-lock.json': '{}' });
  for (const start of ['parcel', 'parcel src/index.html', 'parcel serve src/index.html --open', 'parcel --port 3000 src/index.html']) {
    const d = await parcel({ start, build: 'parcel build' });
    t.like(d, { serviceType: 'static_site', runtime: 'static', startCommand: null, publishPath: 'dist', buildCommand: 'npm ci && npm run build' }, start);
    t.regex(d.reason, /a development server, not a production one; its build script \(parcel build\) writes a static site/, start);
  }
  t.is((await parcel({ start: 'parcel src/index.html', build: 'parcel build src/index.html --dist-dir public --public-url ./' })).publishPath, 'public');
  t.is((await parcel({ start: 'parcel', build: 'parcel build --dist-dir=out/site' })).publishPath, 'out/site');
  t.is((await parcel({ build: 'parcel build --dist-dir public' })).publishPath, 'public', 'no start script');
  await t.throwsAsync(parcel({ start: 'parcel', build: 'parcel build --dist-dir ../up' }), { instanceOf: StackDetectionError, message: /--dist-dir could not be read as one directory inside the repository/ });
  await t.throwsAsync(parcel({ start: 'parcel', build: 'parcel build index.html -d build' }), { instanceOf: StackDetectionError, message: /--out-dir \(Parcel 1\).*render\.yaml/ });
  await t.throwsAsync(detect({ 'package.json': pkg({ targets: { app: { distDir: 'public' } }, scripts: { start: 'parcel', build: 'parcel build' }, devDependencies: { parcel: '^2' } }) }), { instanceOf: StackDetectionError, message: /package\.json has "targets"/ });
  t.like(await parcel({ start: 'parcel src/index.html' }), { serviceType: 'web_service', startCommand: 'npm start' }, 'no build: it listens on 0.0.0.0:$PORT');
  t.like(await parcel({ start: 'parcel watch src/index.html', build: 'parcel build' }), { serviceType: 'web_service', startCommand: 'npm start' }, 'watch is no server');
});

// A framework adapter's server (SvelteKit adapter-node, Astro @astrojs/node standalone) with a dev or preview
// server as the start script was refused; it is what the build writes, started as without a start script.
test('a dev or preview server start script beside an adapter that builds a Node server deploys that server', async (t) => {
  const kit = (start: string) => detect({
    'package.json': pkg({ scripts: { start, build: 'vite build' }, devDependencies: { '@sveltejs/kit': '^2', '@sveltejs/adapter-node': '^5', vite: '^5' } }),
    'package-lock.json': '{}', 'svelte.config.js': svelteConfig('@sveltejs/adapter-node'),
  });
  for (const start of ['vite dev', 'vite preview']) {
    const d = await kit(start);
    t.like(d, { stack: 'node', serviceType: 'web_service', buildCommand: 'npm ci && npm run build', startCommand: 'node build' }, start);
    t.regex(d.reason, /its build script \(vite build\) with @sveltejs\/adapter-node \(svelte\.config\.js\) builds a Node server, so the app is that server, started with node build/, start);
  }
  const site = await astro({ 'astro.config.mjs': astroConfig("{ mode: 'standalone' }") });
  t.is(site.startCommand, 'HOST=0.0.0.0 node ./dist/server/entry.mjs');
  const dev = await detect({ 'package.json': pkg({ scripts: { start: 'astro dev', build: 'astro build' }, dependencies: { astro: '^4', '@astrojs/node': '^8' } }), 'astro.config.mjs': astroConfig("{ mode: 'standalone' }") });
  t.like(dev, { serviceType: 'web_service', startCommand: 'HOST=0.0.0.0 node ./dist/server/entry.mjs' });
  // Without a build script running the tool's build there is still nothing built: refused as before.
  await t.throwsAsync(detect({ 'package.json': pkg({ scripts: { start: 'vite dev' }, devDependencies: { '@sveltejs/kit': '^2', '@sveltejs/adapter-node': '^5' } }) }), { instanceOf: StackDetectionError, message: /there is no build script/ });
});
