import { Writable } from 'node:stream';
import type { Browser, Page, ViewportSize } from 'playwright-core';
import { newContext, type BrowserPage } from './browser.js';
import { startStack, type Stack, type StackOptions } from '../../helpers/stack.js';
import { createLogger } from '../../../server/logger.js';
import { startWorker, type WorkerProcess } from '../../../workers/process.js';
import type { RenderSimOptions } from '../../../sandbox/render/index.js';
import type { CreateAppOptions } from '../../../server/app.js';
import { DEMO } from '../../../sandbox/seed.js';
import { createRenderClient } from '../../../server/render/client.js';

export interface UiStack extends Stack {
  worker: WorkerProcess;
  workerLogs: string[];
  /**
   * Sign in through the browser (GitHub simulator approves `login`); resolves on the signed-in page. One at a
   * time across the file's tests (the simulator approves one user at a time). `here`: from the sign-in page
   * the tab shows now, not opened afresh (the tab's state after a sign-out is what a test looks at).
   */
  signInBrowser(page: Page, login: string, opts?: { id?: number; name?: string; here?: boolean }): Promise<void>;
  /** A Render account for `login`; returns its API key. */
  renderAccount(login: string): string;
  /** A Node app repo on `main` (plus any extra branches). */
  addNodeRepo(owner: string, name: string, extraBranches?: string[]): void;
  /** A fresh browser context signed in as `login`, its own Render key connected, and a Node repo per name in `repos`. */
  signedInWithKey(browser: Browser, login: string, repos: string[], viewport?: ViewportSize, options?: { hasTouch?: boolean }): Promise<BrowserPage & { apiKey: string }>;
  closeAll(): Promise<void>;
}

/** Deploy phases on the Render simulator: slow enough to watch, fast enough for a quick suite. */
const PHASES: RenderSimOptions['phaseMs'] = { created: 150, build_in_progress: 700, pre_deploy_in_progress: 100, update_in_progress: 400 };

export interface UiStackOptions { appOptions?: CreateAppOptions; stack?: StackOptions }

/** The real stack (Redis, simulators, web) plus a real worker, so deploys move through phases. */
export async function startUiStack(opts: UiStackOptions = {}): Promise<UiStack> {
  const stack = await startStack({ renderOptions: { phaseMs: PHASES }, appOptions: opts.appOptions, ...opts.stack });
  const workerLogs: string[] = [];
  const sink = new Writable({ write(chunk, _e, cb) { workerLogs.push(String(chunk)); cb(); } });
  const worker = await startWorker({
    config: stack.config,
    logger: createLogger({ level: 'debug', destination: sink }),
    watch: { initialMs: 50, factor: 1.2, maxDelayMs: 200 },
    sentinel: { alerts: stack.slackAlerts },
  });
  const users = new Map<string, number>();
  let nextId = 7000 + Math.floor(Math.random() * 1000);
  // The simulator approves whoever `setAuthorizingUser` names: one browser sign-in at a time.
  let signInQueue: Promise<unknown> = Promise.resolve();

  return Object.assign(stack, {
    worker,
    workerLogs,
    async signInBrowser(page: Page, login: string, opts: { id?: number; name?: string; here?: boolean } = {}) {
      const run = async () => {
        if (!users.has(login)) {
          const id = opts.id ?? nextId++;
          stack.github.addUser({ id, login, name: opts.name ?? `${login} tester` });
          users.set(login, id);
        }
        stack.github.setAuthorizingUser(login);
        if (!opts.here) await page.goto(stack.url + '/');
        await page.getByTestId('sign-in').click();
        await page.getByTestId('user-login').filter({ hasText: login }).waitFor();
      };
      const turn = signInQueue.then(run, run);
      signInQueue = turn.catch(() => {});
      return turn;
    },
    renderAccount(login: string) {
      const apiKey = `rnd_${login.replace(/[^A-Za-z0-9]/g, '')}${'K'.repeat(24)}`;
      stack.render.addAccount({ apiKey, user: { name: `${login} render`, email: `${login}@example.com` }, workspaces: [{ name: `${login}'s workspace` }] });
      return apiKey;
    },
    addNodeRepo(owner: string, name: string, extraBranches: string[] = []) {
      const files = { 'package.json': JSON.stringify({ name, scripts: { start: 'node index.js' } }), 'package-lock.json': '{}', 'index.js': '' };
      const branches: Record<string, Record<string, string>> = { main: files };
      for (const b of extraBranches) branches[b] = files;
      stack.github.addRepo({ owner, name, branches });
    },
    async signedInWithKey(browser: Browser, login: string, repos: string[], viewport?: ViewportSize, options?: { hasTouch?: boolean }) {
      const opened = await newContext(browser, viewport, options);
      const apiKey = this.renderAccount(login);
      for (const repo of repos) this.addNodeRepo(login, repo);
      await this.signInBrowser(opened.page, login);
      await connectKey(opened.page, apiKey);
      return { ...opened, apiKey };
    },
    async closeAll() {
      await worker.close(5_000).catch(() => {});
      await stack.close();
    },
  });
}

/** Connect a Render key on the settings page, through the form. */
export async function connectKey(page: Page, apiKey: string): Promise<void> {
  await page.goto(page.url().replace(/#.*$/, '') + '#/settings');
  await page.getByTestId('render-key-input').fill(apiKey);
  await page.getByTestId('render-key-submit').click();
  await page.getByTestId('key-status').waitFor();
}

/** On the settings page, a key connected: replace it with `apiKey` through the form ("Replace key"). */
export async function replaceKey(page: Page, apiKey: string): Promise<void> {
  await page.getByRole('button', { name: 'Replace key' }).click();
  await page.getByTestId('render-key-input').fill(apiKey);
  await page.getByTestId('render-key-submit').click();
}

/**
 * Waits for the deploy form's detected stack; a timeout says what the repository picker and the stack panel
 * read then (no repository chosen, a detection that failed, one still running).
 */
export async function waitForDetectedStack(page: Page): Promise<void> {
  await page.getByTestId('detected-stack-name').waitFor().catch(async (err: unknown) => {
    const read = (testId: string) => page.getByTestId(testId).innerText({ timeout: 1_000 }).catch(() => '(not shown)');
    const picker = await page.locator('.repo-chooser [role=status]').innerText({ timeout: 1_000 }).catch(() => '(not shown)');
    throw new Error(`no stack detected; chosen: "${await read('repo-selected')}", picker: "${picker}", stack panel: "${await read('detected-stack')}"`, { cause: err });
  });
}

/** Fill and submit the deploy form for `fullName`; resolves on the deployment page with its id. */
export async function deployThroughForm(page: Page, fullName: string, opts: { serviceName?: string; buildCommand?: string; env?: Array<[string, string]> } = {}): Promise<string> {
  await page.getByRole('link', { name: 'New deploy' }).first().click();
  await page.getByTestId('repo-search').fill(fullName.split('/')[1]!);
  await page.locator(`[data-testid=repo-option][data-repo="${fullName}"]`).click();
  await waitForDetectedStack(page);
  if (opts.serviceName) await page.getByTestId('service-name').fill(opts.serviceName);
  if (opts.buildCommand) await page.getByTestId('build-command').fill(opts.buildCommand);
  for (const [key, value] of opts.env ?? []) {
    await page.getByTestId('env-add').click();
    await page.getByTestId('env-name').last().fill(key);
    await page.getByTestId('env-value').last().fill(value);
  }
  await page.getByTestId('deploy-submit').click();
  await page.waitForURL(/#\/deployments\/[A-Za-z0-9_-]+$/);
  return page.url().split('#/deployments/')[1]!;
}

/**
 * Sandbox mode (`npm start` without GitHub credentials) at `url`, from its sign-in page: sign in as
 * the demo user, connect the demo key, deploy hello-node through the form; resolves once it is live.
 */
export async function deployDemoApp(page: Page, url: string, liveTimeoutMs: number): Promise<void> {
  await page.getByTestId('sign-in').click();
  await page.getByTestId('user-login').filter({ hasText: DEMO.login }).waitFor();
  await page.goto(`${url}/#/settings`);
  await page.getByTestId('use-demo-key').click();
  await page.getByTestId('render-key-submit').click();
  await page.getByTestId('key-status').waitFor();
  await deployThroughForm(page, `${DEMO.login}/hello-node`);
  await page.locator('#deployment-status[data-status="live"]').waitFor({ timeout: liveTimeoutMs });
}

/**
 * A node web service `name` from `https://github.com/<login>/api`, made with `apiKey` outside the app
 * (as on Render's dashboard), in the key's first workspace: a Render client on that key, and the service's id.
 */
export async function serviceMadeOutside(stack: Stack, apiKey: string, opts: { login: string; name: string; region?: 'frankfurt' | 'oregon' | 'ohio' | 'singapore' | 'virginia' }) {
  const render = createRenderClient({ baseUrl: stack.render.url, apiKey });
  const ownerId = (await render.listOwners())[0]!.id;
  const { service } = await render.createService({
    type: 'web_service', name: opts.name, ownerId, repo: `https://github.com/${opts.login}/api`, branch: 'main', autoDeploy: 'yes',
    serviceDetails: { runtime: 'node', plan: 'starter', region: opts.region ?? 'oregon', envSpecificDetails: { buildCommand: 'npm ci', startCommand: 'npm start' } },
  });
  return { render, serviceId: service!.id };
}

/** Deployments of `login`'s repositories `names` started through the API as the page's user: the answers' statuses. */
export const startDeployments = (page: Page, login: string, names: string[]) =>
  page.evaluate(async ({ owner, list }: { owner: string; list: string[] }) => {
    const session = (await (await fetch('/api/session')).json()) as { csrfToken: string };
    const answered: number[] = [];
    for (const name of list) {
      const res = await fetch('/api/render/deploy', {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
        body: JSON.stringify({ github_repo: `${owner}/${name}`, project_name: name }),
      });
      answered.push(res.status);
    }
    return answered;
  }, { owner: login, list: names });

/** A redeploy of `serviceId` asked through the API as the page's user (as another tab would): the answer's status. */
export const redeployFromPage = (page: Page, serviceId: string) =>
  page.evaluate(async (id: string) => {
    const session = (await (await fetch('/api/session')).json()) as { csrfToken: string };
    return (await fetch(`/api/render/services/${id}/redeploy`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken }, body: '{}' })).status;
  }, serviceId);

/**
 * Deployments of repositories that do not exist (startDeployments): each fails in the worker without a
 * Render call. Resolves once all have ended, so that none of their live updates reloads a list the test
 * is about to page through.
 */
export async function failedDeployments(page: Page, login: string, names: string[]): Promise<number[]> {
  const statuses = await startDeployments(page, login, names);
  const ended = () => page.evaluate(async (list: string[]) => {
    let count = 0;
    let cursor: string | null = null;
    do {
      const listed = (await (await fetch(`/api/render/my-deployments?limit=100${cursor ? `&cursor=${cursor}` : ''}`)).json()) as { deployments: Array<{ finished: boolean; request: { serviceName: string } }>; nextCursor: string | null };
      count += listed.deployments.filter((d) => d.finished && list.includes(d.request.serviceName)).length;
      cursor = listed.nextCursor;
    } while (cursor);
    return count;
  }, names);
  for (let i = 0; i < 600 && await ended() < names.length; i++) await page.waitForTimeout(100); // bounded only against a hang
  return statuses;
}

/** The Render service and deploy ids a deployment records, once it has them (read by the page's own session). */
export async function renderIds(page: Page, id: string): Promise<{ serviceId: string; deployId: string }> {
  for (let i = 0; i < 300; i++) {
    const rec = await page.evaluate(async (d) => (await fetch(`/api/render/deployments/${d}`)).json() as Promise<{ serviceId?: string; deployId?: string }>, id);
    if (rec.serviceId && rec.deployId) return { serviceId: rec.serviceId, deployId: rec.deployId };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no Render deploy for ${id}`);
}
