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

/** A browser context signed in to the app (through its own page, GitHub's simulator authorizing) as `login`. */
async function signedInContext(login: string): ReturnType<typeof newContext> {
  const opened = await newContext(browser);
  stack.github.setAuthorizingUser(login);
  await opened.page.goto(`${stack.url}/`);
  await opened.page.getByTestId('sign-in').click();
  await opened.page.getByTestId('user-login').filter({ hasText: login }).waitFor();
  return opened;
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
  const { context, page, problems } = await signedInContext(login);
  try {

    await page.goto(`${sameSite}/`);
    const same = await page.evaluate(async ({ api, apiKey }) => {
      const session = await fetch(`${api}/api/session`, { credentials: 'include' });
      const { csrfToken, user } = (await session.json()) as { csrfToken: string; user: { login: string } };
      // Without, then with the CSRF token (no named helper: under tsx, as the tests once ran, it is wrapped in a __name the page lacks).
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

// Live updates (GET /api/events) from a listed front end. EventSource sends no Authorization header, only
// cookies (withCredentials), so: a cross-site page reads the stream with fetch() and its bearer token
// (the body as it arrives, split into events itself); a same-site page can use EventSource with
// withCredentials and the app's cookie; a cross-site EventSource is always 401 (no cookie, no token).

interface SeenEvent { event: string; data: string }
/** The page's collected events (window.__events), set up by the page scripts below. */
const eventsSeen = (page: import('playwright-core').Page) => page.evaluate(() => (globalThis as unknown as { __events: SeenEvent[] }).__events);

test.serial('a page on a listed cross-site origin reads GET /api/events with fetch() and a bearer token: the stream\'s first events, then its deployment\'s update as it happens', async (t) => {
  const login = 'frontlive';
  const token = await tokenWithKey(login);
  const { context, page, problems } = await newContext(browser);
  try {
    await page.goto(`${crossSite}/`);
    // Not awaited: the reader runs for as long as the page lives, collecting each event into window.__events.
    await page.evaluate(({ api, token }) => {
      const g = globalThis as unknown as { __events: SeenEvent[]; __status: number | string };
      g.__events = [];
      void fetch(`${api}/api/events`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }).then(async (res) => {
        g.__status = res.status;
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length > 0) g.__events.push({ event, data: data.join('\n') });
          }
        }
      }, (err: unknown) => { g.__status = String(err); });
    }, { api: stack.url, token });
    // The answer's status, or the error a blocked answer makes fetch() reject with.
    await page.waitForFunction(() => (globalThis as unknown as { __status?: unknown }).__status !== undefined);
    t.is(await page.evaluate(() => (globalThis as unknown as { __status: number | string }).__status), 200);
    await page.waitForFunction(() => (globalThis as unknown as { __events: SeenEvent[] }).__events.some((e) => e.event === 'subscribed'));
    t.is((await eventsSeen(page))[0]!.event, 'stream');

    const deploy = await stack.agent({ authorization: `Bearer ${token}` }).post('/api/render/deploy', { github_repo: `${login}/app`, project_name: `${login}-app` });
    t.is(deploy.status, 202, deploy.text);
    await page.waitForFunction((id) => (globalThis as unknown as { __events: SeenEvent[] }).__events.some((e) => e.event === 'deployment' && e.data.includes(id)), deploy.json.id as string);
    const update = (await eventsSeen(page)).find((e) => e.event === 'deployment')!;
    t.like(JSON.parse(update.data), { type: 'deployment', id: deploy.json.id });
    t.deepEqual(problems, [], 'no CORS errors in the console');
  } finally {
    await context.close();
  }
});

/** Opens an EventSource from the page and resolves with how it went: its first event, or an error and its readyState then. */
async function eventSourceFrom(page: import('playwright-core').Page, withCredentials: boolean): Promise<{ first?: string; error?: boolean; readyState?: number }> {
  return page.evaluate(({ api, withCredentials }) => new Promise((resolve) => {
    const es = new EventSource(`${api}/api/events`, { withCredentials });
    es.addEventListener('stream', (e) => { es.close(); resolve({ first: JSON.parse((e as MessageEvent).data).type as string }); });
    // A non-200 answer fails the connection for good (readyState CLOSED, 2): no retry to wait for.
    es.onerror = () => { const readyState = es.readyState; es.close(); resolve({ error: true, readyState }); };
  }), { api: stack.url, withCredentials });
}

test.serial('EventSource: a listed same-site page signed in to the app streams with withCredentials (the cookie); a listed cross-site page cannot (no cookie, and EventSource sends no token)', async (t) => {
  const login = 'frontes';
  stack.github.addUser({ id: nextId++, login });
  const { context, page, problems } = await signedInContext(login);
  try {

    await page.goto(`${sameSite}/`);
    t.deepEqual(await eventSourceFrom(page, true), { first: 'stream' }, 'same site: the cookie goes along with withCredentials');
    t.deepEqual(await eventSourceFrom(page, false), { error: true, readyState: 2 }, 'without withCredentials no cookie: 401');

    await page.goto(`${crossSite}/`);
    t.deepEqual(await eventSourceFrom(page, true), { error: true, readyState: 2 }, 'another site: SameSite=Lax keeps the cookie off: 401');
    t.deepEqual(problems.filter((p) => !/EventSource's response has a status 401/.test(p)), []);
  } finally {
    await context.close();
  }
});
