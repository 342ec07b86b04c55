import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { startStack, type Stack } from '../helpers/stack.js';
import { launchChromium, newContext } from './support/browser.js';

// CORS_ORIGINS in a real browser: a front end served from another local origin calls the API with
// fetch() and a GitHub token. Chromium enforces the preflight and the response headers: listed origins
// (same site, 127.0.0.1 on another port; another site, localhost) read the answers, an unlisted one is blocked.

/** A front end's page: a tiny http server on a port of its own. */
async function pageServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><html><head><title>front end</title></head><body>front end</body></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

let stack: Stack;
let browser: Browser;
const pages: Array<{ server: Server; port: number }> = [];
let sameSite: string, crossSite: string, unlisted: string;

test.before(async () => {
  pages.push(await pageServer(), await pageServer(), await pageServer());
  sameSite = `http://127.0.0.1:${pages[0]!.port}`;
  crossSite = `http://localhost:${pages[1]!.port}`;
  unlisted = `http://127.0.0.1:${pages[2]!.port}`;
  [stack, browser] = await Promise.all([startStack({ env: { CORS_ORIGINS: `${sameSite},${crossSite}` } }), launchChromium()]);
});
test.after.always(async () => {
  await browser?.close();
  await stack?.close();
  await Promise.all(pages.map((p) => new Promise((resolve) => p.server.close(resolve))));
});

let nextId = 9300;
async function tokenWithKey(login: string): Promise<string> {
  stack.github.addUser({ id: nextId++, login });
  const token = stack.github.issueToken(login);
  const apiKey = `rnd_${login}${'e'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  const setup = await stack.agent({ authorization: `Bearer ${token}` }).post('/api/render/setup', { api_key: apiKey });
  if (setup.status !== 200) throw new Error(`setup: ${setup.status} ${setup.text}`);
  return token;
}

interface Seen { session: { status?: number; login?: string; error?: string }; deploy: { status?: number; id?: string; replayed?: string | null; sameId?: boolean; requestId?: boolean; error?: string } }

/** What the front end's script gets: GET /api/session, then the same deploy twice under one Idempotency-Key. */
async function fromPage(origin: string, login: string): Promise<{ seen: Seen; problems: string[] }> {
  const token = await tokenWithKey(login);
  const { context, page, problems } = await newContext(browser);
  try {
    await page.goto(`${origin}/`);
    const seen = await page.evaluate(async ({ api, token, login }) => {
      const out: Seen = { session: {}, deploy: {} };
      const authorization = `Bearer ${token}`;
      try {
        const res = await fetch(`${api}/api/session`, { headers: { authorization } });
        out.session = { status: res.status, login: ((await res.json()) as { user?: { login?: string } }).user?.login };
      } catch (err) { out.session = { error: String(err) }; }
      try {
        const init = {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/json', 'idempotency-key': `front-${login}` },
          body: JSON.stringify({ github_repo: `${login}/app`, project_name: `${login}-app` }),
        };
        const first = await fetch(`${api}/api/render/deploy`, init);
        const firstBody = (await first.json()) as { id?: string };
        const again = await fetch(`${api}/api/render/deploy`, init);
        const againBody = (await again.json()) as { id?: string };
        out.deploy = {
          status: first.status, id: firstBody.id, replayed: again.headers.get('idempotent-replayed'),
          sameId: againBody.id === firstBody.id, requestId: first.headers.get('x-request-id') !== null,
        };
      } catch (err) { out.deploy = { error: String(err) }; }
      return out;
    }, { api: stack.url, token, login });
    return { seen, problems };
  } finally {
    await context.close();
  }
}

const deploymentsOf = async (login: string) => {
  const token = stack.github.issueToken(login);
  return (await stack.agent({ authorization: `Bearer ${token}` }).get('/api/render/my-deployments')).json.deployments as unknown[];
};

for (const [name, origin, login] of [['same-site (another port)', () => sameSite, 'frontsame'], ['cross-site (localhost)', () => crossSite, 'frontcross']] as const) {
  test.serial(`a page on a listed ${name} origin reads GET /api/session and deploys with an Idempotency-Key through fetch() and a bearer token`, async (t) => {
    const { seen, problems } = await fromPage(origin(), login);
    t.deepEqual(seen.session, { status: 200, login });
    t.is(seen.deploy.error, undefined);
    t.is(seen.deploy.status, 202);
    t.is(seen.deploy.replayed, 'true', 'Idempotent-Replayed is exposed to the page');
    t.true(seen.deploy.sameId);
    t.true(seen.deploy.requestId, 'X-Request-Id is exposed to the page');
    t.deepEqual(problems, [], 'no CORS errors in the console');
    t.is((await deploymentsOf(login)).length, 1);
  });
}

test.serial('the same page on an unlisted origin is blocked by the browser: it reads nothing and its deploy never reaches the API', async (t) => {
  const { seen } = await fromPage(unlisted, 'frontevil');
  t.regex(seen.session.error ?? '', /Failed to fetch/);
  t.regex(seen.deploy.error ?? '', /Failed to fetch/);
  t.deepEqual(await deploymentsOf('frontevil'), []);
});

test.serial('signed in to the app, a listed same-site page uses the session cookie (credentials: include) with its CSRF token; a listed page on another site gets no cookie', async (t) => {
  const login = 'frontcookie';
  stack.github.addUser({ id: nextId++, login });
  const apiKey = `rnd_${login}${'f'.repeat(24)}`;
  stack.render.addAccount({ apiKey, workspaces: [{ name: `${login} ws` }] });
  const { context, page, problems } = await newContext(browser);
  try {
    stack.github.setAuthorizingUser(login);
    await page.goto(`${stack.url}/`);
    await page.getByTestId('sign-in').click();
    await page.getByTestId('user-login').filter({ hasText: login }).waitFor();

    await page.goto(`${sameSite}/`);
    const same = await page.evaluate(async ({ api, apiKey }) => {
      const session = await fetch(`${api}/api/session`, { credentials: 'include' });
      const { csrfToken, user } = (await session.json()) as { csrfToken: string; user: { login: string } };
      // Without, then with the CSRF token (no named helper: tsx would wrap it in a __name the page lacks).
      const answers: Array<{ status: number; code?: string }> = [];
      for (const headers of [{}, { 'x-csrf-token': csrfToken }]) {
        const res = await fetch(`${api}/api/render/setup`, {
          method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ api_key: apiKey }),
        });
        answers.push({ status: res.status, code: ((await res.json()) as { error?: { code: string } }).error?.code });
      }
      return { status: session.status, login: user.login, withoutToken: answers[0]!.status, code: answers[0]!.code, withToken: answers[1]!.status };
    }, { api: stack.url, apiKey });
    t.deepEqual(same, { status: 200, login, withoutToken: 403, code: 'csrf_failed', withToken: 200 });

    await page.goto(`${crossSite}/`);
    const cross = await page.evaluate(async ({ api }) => (await fetch(`${api}/api/session`, { credentials: 'include' })).status, { api: stack.url });
    t.is(cross, 401, 'SameSite=Lax: no cookie on a cross-site fetch, so no session');
    t.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
