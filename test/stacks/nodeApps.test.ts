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

test('an Astro app with the Node adapter is refused: its build is a server, not a static site', async (t) => {
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
