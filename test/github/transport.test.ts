import test, { type ExecutionContext } from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { startGitHubSimulator } from '../../sandbox/github/index.js';
import { createGitHubClient, GitHubError } from '../../server/github/client.js';
import { MAX_RESPONSE_BYTES } from '../../server/github/http.js';

// What the GitHub client's node:http transport (server/github/transport.ts) does by hand that fetch did
// for it: keep-alive reuse, redirects by fetch's rules, decoding, the deadline over a stalled body.
// Real servers on loopback, each noting what reached it.

interface Seen { method: string; url: string; authorization: string | null; contentType: string | null; acceptEncoding: string | null; body: string; socket: number }

async function serve(t: ExecutionContext, answer: (req: IncomingMessage, res: ServerResponse, seen: Seen[]) => void) {
  const seen: Seen[] = [];
  let sockets = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const h = req.headers;
      seen.push({
        method: req.method ?? '', url: req.url ?? '', authorization: h.authorization ?? null, contentType: h['content-type'] ?? null,
        acceptEncoding: h['accept-encoding'] ?? null, body: Buffer.concat(chunks).toString(), socket: (req.socket as unknown as { n: number }).n,
      });
      answer(req, res, seen);
    });
  });
  server.on('connection', (s) => { (s as unknown as { n: number }).n = ++sockets; });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => { server.closeAllConnections(); server.close(); });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, sockets: () => sockets };
}

const viewer = JSON.stringify({ id: 7, login: 'alice', name: 'Alice', avatar_url: 'https://avatars.example/7' });
const json = (res: ServerResponse, body: string | Buffer, headers: Record<string, string> = {}) => res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(body);
const statusBody = { state: 'pending' as const, targetUrl: 'https://example.com/x', description: 'd', context: 'c' };
const sha = 'a'.repeat(40);

test('calls from several clients and tokens share one kept-alive socket to the simulator', async (t) => {
  let connections = 0;
  const front = createServer((req, res) => sim.handle(req, res));
  front.on('connection', () => { connections += 1; });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  t.teardown(() => { front.closeAllConnections(); front.close(); });
  const sim = await startGitHubSimulator({ mount: { publicUrl: `http://127.0.0.1:${(front.address() as AddressInfo).port}` } });
  sim.addUser({ login: 'alice' });
  sim.addRepo({ owner: 'alice', name: 'app', branches: { main: { 'package.json': '{}' } } });
  for (let i = 0; i < 3; i += 1) {
    const gh = createGitHubClient({ apiUrl: sim.apiUrl, token: sim.issueToken('alice'), retries: false });
    await gh.getRepo('alice', 'app');
    await gh.getBranchHead('alice', 'app', 'main');
    t.deepEqual(await gh.listRootFiles('alice', 'app', 'main'), [{ name: 'package.json', dir: false }]);
  }
  t.is(sim.calls.length, 9);
  t.is(connections, 1);
});

test('a same-origin redirect (a renamed repository) is followed with the token; a POST keeps its body through a 307', async (t) => {
  const api = await serve(t, (req, res) => {
    if (req.url === '/user') return res.writeHead(301, { location: '/user-renamed' }).end();
    if (req.url === '/repos/alice/app/statuses/' + sha) return res.writeHead(307, { location: `${api.url}/repositories/1/statuses/${sha}` }).end();
    if (req.url === '/user-renamed') return json(res, viewer);
    res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
  });
  const gh = createGitHubClient({ apiUrl: api.url, token: 'gho_secret123', retries: false });
  t.is((await gh.getViewer()).login, 'alice');
  await gh.createCommitStatus('alice', 'app', sha, statusBody);
  const posted = JSON.stringify({ state: 'pending', target_url: 'https://example.com/x', description: 'd', context: 'c' });
  t.deepEqual(api.seen.map((s) => [s.method, s.url, s.authorization, s.contentType, s.body]), [
    ['GET', '/user', 'token gho_secret123', null, ''],
    ['GET', '/user-renamed', 'token gho_secret123', null, ''],
    ['POST', `/repos/alice/app/statuses/${sha}`, 'token gho_secret123', 'application/json; charset=utf-8', posted],
    ['POST', `/repositories/1/statuses/${sha}`, 'token gho_secret123', 'application/json; charset=utf-8', posted],
  ]);
});

test('a POST answered 302 goes on as a GET without its body, as fetch does', async (t) => {
  const api = await serve(t, (req, res) => {
    if (req.method === 'POST') return res.writeHead(302, { location: '/elsewhere' }).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await createGitHubClient({ apiUrl: api.url, token: 'gho_secret123', retries: false }).createCommitStatus('alice', 'app', sha, statusBody);
  t.deepEqual(api.seen.slice(1).map((s) => [s.method, s.url, s.authorization, s.contentType, s.body]), [['GET', '/elsewhere', 'token gho_secret123', null, '']]);
});

test('redirects stop after 20 (unavailable), and one to another scheme is not followed', async (t) => {
  const api = await serve(t, (req, res) => {
    if (req.url === '/user') return res.writeHead(302, { location: 'ftp://127.0.0.1/user' }).end();
    const n = Number(new URL(req.url ?? '', 'http://x').searchParams.get('n') ?? 0);
    res.writeHead(302, { location: `/user/repos?n=${n + 1}` }).end();
  });
  const gh = createGitHubClient({ apiUrl: api.url, token: 'gho_secret123', retries: false });
  const looped = await gh.listRepos().then(() => null, (e: unknown) => e);
  t.true(looped instanceof GitHubError && looped.kind === 'unavailable', String(looped));
  t.is(api.seen.length, 21, 'the first request and 20 redirects, as fetch');
  const ftp = await gh.getViewer().then(() => null, (e: unknown) => e);
  t.true(ftp instanceof GitHubError && ftp.kind === 'unavailable', String(ftp));
});

test('compressed answers are decoded (gzip, deflate either way) and capped decoded: a small bomb is too_large', async (t) => {
  let body: Buffer = gzipSync(viewer);
  let coding = 'gzip';
  const api = await serve(t, (_req, res) => json(res, body, { 'content-encoding': coding }));
  const gh = createGitHubClient({ apiUrl: api.url, token: 'gho_secret123', retries: false });
  t.is((await gh.getViewer()).login, 'alice');
  t.is(api.seen[0]!.acceptEncoding, 'gzip, deflate', 'what fetch asked for');
  for (const encoded of [deflateSync(viewer), deflateRawSync(viewer)]) {
    [body, coding] = [encoded, 'deflate'];
    t.is((await gh.getViewer()).login, 'alice');
  }
  [body, coding] = [gzipSync(Buffer.alloc(MAX_RESPONSE_BYTES + 1, 0x20)), 'gzip'];
  t.true(body.length < 64 * 1024);
  const bomb = await gh.getViewer().then(() => null, (e: unknown) => e);
  t.true(bomb instanceof GitHubError && bomb.kind === 'too_large', String(bomb));
  [body, coding] = [Buffer.from('not gzip at all'), 'gzip'];
  const broken = await gh.getViewer().then(() => null, (e: unknown) => e);
  t.true(broken instanceof GitHubError && broken.kind === 'unavailable', String(broken));
});

test('an answer whose body stalls past the deadline is unavailable, and its socket is closed', async (t) => {
  let onClose!: () => void;
  const closed = new Promise<void>((resolve) => { onClose = resolve; });
  const api = await serve(t, (_req, res) => {
    res.on('close', () => onClose());
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"id":7,');
  });
  const started = Date.now();
  const err = await createGitHubClient({ apiUrl: api.url, token: 'gho_secret123', retries: false, timeoutMs: 300 }).getViewer().then(() => null, (e: unknown) => e);
  t.true(err instanceof GitHubError && err.kind === 'unavailable', String(err));
  t.true(Date.now() - started < 3_000);
  // The server sees the socket close once it reads the client's FIN: waited for (a fixed 100 ms could
  // end before that read on a loaded machine, the timer running first when the process wakes).
  await closed;
  t.pass('the socket was closed');
});

test('a GET on a kept-alive socket the server dropped goes once more on a new socket', async (t) => {
  const perSocket = new Map<number, number>();
  const api = await serve(t, (req, res, seen) => {
    const n = seen.at(-1)!.socket;
    perSocket.set(n, (perSocket.get(n) ?? 0) + 1);
    if (perSocket.get(n) === 2) return req.socket.destroy(); // as a server closing an idle connection the client just wrote on
    json(res, viewer);
  });
  const gh = createGitHubClient({ apiUrl: api.url, token: 'gho_secret123', retries: false });
  t.is((await gh.getViewer()).login, 'alice');
  t.is((await gh.getViewer()).login, 'alice');
  t.deepEqual(api.seen.map((s) => s.socket), [1, 1, 2]);
});

test('a token Node refuses as a header value is unavailable, not a crash, and not in the message', async (t) => {
  const api = await serve(t, (_req, res) => json(res, viewer));
  const err = await createGitHubClient({ apiUrl: api.url, token: 'gho_bad\ntoken', retries: false }).getViewer().then(() => null, (e: unknown) => e);
  t.true(err instanceof GitHubError && err.kind === 'unavailable', String(err));
  t.false((err as Error).message.includes('gho_bad'));
  t.is(api.seen.length, 0);
});
