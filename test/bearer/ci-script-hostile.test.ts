import test from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startCiScript } from './support/ciScript.js';

// scripts/ci-deploy.mjs against small hostile or misconfigured HTTP servers on
// 127.0.0.1, for answers the real orchestrator does not give: a redirect to another origin (fetch drops Authorization
// there but sent X-Render-Api-Key, the Render key, on with the request), error messages carrying line breaks, GitHub
// Actions workflow commands and terminal escapes (printed raw into the CI log), an answer echoing the credentials
// (printed), a 202 without a deployment (a stack trace); and inputs fetch cannot send (a URL with a user name and
// password, printed at every retry; a token with an invisible character, retried for 2 minutes as "no answer").
// DEPLOY_TIMEOUT_SECONDS=2 bounds every run's retries.
const TOKEN = 'github_pat_PROBESECRETTOKEN0123456789';
const KEY = 'rnd_PROBESECRETKEY0123456789ab';

interface Seen { method: string; url: string; headers: IncomingMessage['headers'] }

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port, seen, url: `http://127.0.0.1:${port}`,
    async close() { server.closeAllConnections(); await new Promise((r) => server.close(r)); },
  };
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

const run = (url: string, extra: Record<string, string> = {}) => startCiScript({
  ORCHESTRATOR_URL: url, GH_USER_TOKEN: TOKEN, RENDER_API_KEY: KEY, GITHUB_REPOSITORY: 'probe/app', GITHUB_REF_NAME: 'main',
  GITHUB_SHA: 'b'.repeat(40), POLL_SECONDS: '0.1', DEPLOY_TIMEOUT_SECONDS: '2', ...extra,
}).done;

/** Lines of the CI log that the Actions runner reads as a workflow command (`::cmd::` at a line's start, `##[cmd]` anywhere), or a terminal escape. */
const injected = (out: string) => out.split(/\r?\n|\r/).filter((l) => /^\s*::[a-z-]+/i.test(l) || l.includes('##[') || [...l].some((c) => [0x1b, 0x07, 0x9b].includes(c.charCodeAt(0))));

test('a redirect to another origin: the Render key is not sent there, and the run says so as bad input (exit 2)', async (t) => {
  const elsewhere = await serve((_req, res) => json(res, 200, { services: [] }));
  const orch = await serve((req, res) => { res.writeHead(307, { location: `http://localhost:${elsewhere.port}${req.url}` }); res.end(); });
  try {
    const { code, out } = await run(orch.url);
    t.deepEqual(elsewhere.seen.map((s) => s.headers['x-render-api-key']).filter(Boolean), [], `the Render key went to another origin:\n${out}`);
    t.is(elsewhere.seen.length, 0, 'nothing is asked of the redirect\'s target');
    t.is(code, 2, out);
    t.regex(out, /redirect/i);
    t.false(out.includes(KEY) || out.includes(TOKEN));
  } finally {
    await orch.close();
    await elsewhere.close();
  }
});

test('an error message with line breaks, workflow commands and terminal escapes is printed on one line, defused', async (t) => {
  const orch = await serve((_req, res) => json(res, 400, {
    error: { code: 'bad\n::error::forged-annotation', message: 'nope\n::add-mask::ci-deploy\n::set-output name=url::https://evil.example\r::warning::x ##[error]v1 command \u001b]0;title\u0007\u001b[2J\u009b2J' },
  }));
  try {
    const { code, out } = await run(orch.url);
    t.deepEqual(injected(out), [], `workflow commands or escapes reached the CI log raw:\n${JSON.stringify(out)}`);
    t.is(code, 2, out);
    t.regex(out, /forged-annotation/, 'the message is still shown, defused');
  } finally {
    await orch.close();
  }
});

test('a deployment answered with hostile status, id and failure text: defused in every line printed, exit 1', async (t) => {
  const id = 'dpl-x\n::error::forged-id';
  const orch = await serve((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    if (path.startsWith('/api/render/services')) return json(res, 200, { services: [] });
    if (path === '/api/render/deploy') return json(res, 202, { id, status: 'queued', finished: false });
    return json(res, 200, { id, status: 'failed\n::error::forged-status', finished: true, failure: { code: 'x', message: 'y\n##[add-mask]z\n::stop-commands::abc' }, dashboardUrl: 'https://d\n::error::u' });
  });
  try {
    const { code, out } = await run(orch.url);
    t.deepEqual(injected(out), [], JSON.stringify(out));
    t.is(code, 1, out);
  } finally {
    await orch.close();
  }
});

test('an answer that echoes the request\'s credentials back: neither the token nor the key is printed', async (t) => {
  const orch = await serve((req, res) => json(res, 400, { error: { code: 'bad_request', message: `got ${String(req.headers.authorization)} and ${String(req.headers['x-render-api-key'])}` } }));
  try {
    const { code, out } = await run(orch.url);
    t.false(out.includes(TOKEN), out);
    t.false(out.includes(KEY), out);
    t.is(code, 2, out);
  } finally {
    await orch.close();
  }
});

test('a 202 whose body is no deployment (a proxy\'s page): exit 1 with one line saying so, not a stack trace', async (t) => {
  const orch = await serve((req, res) => {
    if ((req.url ?? '').startsWith('/api/render/services')) return json(res, 200, { services: [] });
    res.writeHead(202, { 'content-type': 'text/html' });
    res.end('<html>accepted</html>');
  });
  try {
    const { code, out } = await run(orch.url);
    t.notRegex(out, /^\s+at /m, `a stack trace:\n${out}`);
    t.notRegex(out, /TypeError/);
    t.is(code, 1, out);
  } finally {
    await orch.close();
  }
});

test('ORCHESTRATOR_URL with a user name and password: bad input (exit 2) at once, the password never printed', async (t) => {
  const orch = await serve((_req, res) => json(res, 200, { services: [] }));
  try {
    const { code, out } = await run(orch.url.replace('http://', 'http://ciuser:HUNTER2PASSWORD@'));
    t.false(out.includes('HUNTER2PASSWORD'), out);
    t.notRegex(out, /trying again/, 'not retried as "no answer"');
    t.is(code, 2, out);
  } finally {
    await orch.close();
  }
});

for (const [name, extra] of [
  ['GH_USER_TOKEN with a zero-width space pasted in', { GH_USER_TOKEN: `${TOKEN}\u200b` }],
  ['RENDER_API_KEY in typographic quotes', { RENDER_API_KEY: `\u201c${KEY}\u201d` }],
  ['GITHUB_SHA with a non-ASCII character (it goes into the Idempotency-Key header)', { GITHUB_SHA: `${'c'.repeat(39)}\u00e9\u4e00` }],
] as const) {
  test(`${name}: bad input (exit 2) at once, not retried as "no answer" from a server that is up`, async (t) => {
    const orch = await serve((req, res) => {
      if ((req.url ?? '').startsWith('/api/render/services')) return json(res, 200, { services: [] });
      json(res, 400, { error: { code: 'validation_failed', message: 'refused' } });
    });
    try {
      const { code, out } = await run(orch.url, extra);
      t.notRegex(out, /no answer/, out);
      t.is(code, 2, out);
      t.false(out.includes('PROBESECRET'), out);
    } finally {
      await orch.close();
    }
  });
}
