import test from 'ava';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { checkWebhookUrl, guardedPostJson, isBlockedAddress, UnsafeUrlError, type Resolver } from '../../server/alerts/urlGuard.js';
import { createSlackAlerter } from '../../server/alerts/slack.js';
import { createLogger } from '../../server/logger.js';

/** DNS that answers from a table and fails for everything else: no real lookups in these tests. */
const dnsTable = (table: Record<string, string[]>): Resolver => async (host) => {
  const answers = table[host];
  if (!answers) throw new Error('ENOTFOUND');
  return answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};
const dns = dnsTable({
  'hooks.slack.com': ['34.205.10.1'],
  'localhost': ['127.0.0.1', '::1'],
  'internal.example': ['10.0.0.7'],
  'metadata.example': ['169.254.169.254'],
  'mixed.example': ['34.205.10.1', '192.168.1.10'],
  'v6private.example': ['fd00::1'],
  'mapped.example': ['::ffff:10.1.2.3'],
});

const HOSTILE = [
  'http://hooks.slack.com/services/T/B/X', // not https
  'ftp://hooks.slack.com/x',
  'not a url',
  'https://user:pass@hooks.slack.com/services/T/B/X',
  'https://hooks.slack.com:8443/services/T/B/X', // non-default port
  'https://localhost/hook',
  'https://127.0.0.1/hook',
  'https://127.1/hook',
  'https://2130706433/hook', // decimal 127.0.0.1
  'https://0x7f000001/hook', // hex
  'https://017700000001/hook', // octal
  'https://0177.0.0.1/hook',
  'https://0x7f.0.0.1/hook',
  'https://0/hook',
  'https://0.0.0.0/hook',
  'https://10.0.0.1/hook',
  'https://167772161/hook', // decimal 10.0.0.1
  'https://172.16.0.1/hook',
  'https://172.31.255.254/hook',
  'https://192.168.0.1/hook',
  'https://169.254.169.254/latest/meta-data',
  'https://100.64.0.1/hook',
  'https://100.127.255.254/hook',
  'https://224.0.0.1/hook',
  'https://239.255.255.250/hook',
  'https://255.255.255.255/hook',
  'https://[::1]/hook',
  'https://[::]/hook',
  'https://[::ffff:127.0.0.1]/hook',
  'https://[::ffff:7f00:1]/hook',
  'https://[::ffff:a9fe:a9fe]/hook', // mapped 169.254.169.254
  'https://[::ffff:192.168.1.1]/hook',
  'https://[::127.0.0.1]/hook', // IPv4-compatible
  'https://[64:ff9b::a00:1]/hook', // NAT64 of 10.0.0.1
  'https://[2002:a00:1::1]/hook', // 6to4 of 10.0.0.1
  'https://[fe80::1]/hook',
  'https://[fc00::1]/hook',
  'https://[fd12:3456:789a::1]/hook',
  'https://[ff02::1]/hook',
  'https://internal.example/hook',
  'https://metadata.example/hook',
  'https://mixed.example/hook', // one public, one private answer
  'https://v6private.example/hook',
  'https://mapped.example/hook',
  'https://does-not-resolve.example/hook',
];

for (const url of HOSTILE) {
  test(`refused: ${url}`, async (t) => {
    const err = await t.throwsAsync(checkWebhookUrl(url, { resolve: dns }), { instanceOf: UnsafeUrlError });
    // Refused for what it is, not because the test DNS happened not to know it.
    if (!url.includes('does-not-resolve')) t.notRegex(err.message, /does not resolve/);
  });
}

test('allowed: a public https host on the default port, pinned to the address it was checked at', async (t) => {
  const { url, pinned } = await checkWebhookUrl('https://hooks.slack.com/services/T000/B000/XXXX', { resolve: dns });
  t.is(url.hostname, 'hooks.slack.com');
  t.deepEqual(pinned, { address: '34.205.10.1', family: 4 });
  t.is((await checkWebhookUrl('https://93.184.216.34:443/x', { resolve: dns })).pinned.address, '93.184.216.34');
  t.is((await checkWebhookUrl('https://[2606:4700:4700::1111]/x', { resolve: dns })).pinned.address, '2606:4700:4700::1111');
});

test('address classification at the edges of each range', (t) => {
  for (const a of ['9.255.255.255', '11.0.0.0', '100.63.255.255', '100.128.0.0', '172.15.255.255', '172.32.0.0', '192.167.255.255', '192.169.0.0', '169.253.255.255', '223.255.255.255', '8.8.8.8', '2606:4700::1', '::ffff:8.8.8.8', '::ffff:0:8.8.8.8', '64:ff9b::808:808', '2001:4860:4860::8888']) {
    t.false(isBlockedAddress(a), a);
  }
  for (const a of ['10.255.255.255', '100.64.0.0', '172.16.0.0', '172.31.255.255', '192.168.255.255', '169.254.0.1', '127.255.255.255', '0.1.2.3', '224.0.0.0', 'fe80::abcd', 'febf::1', 'fc00::', 'fdff::1', '::ffff:172.20.0.1', 'not-an-ip', '',
    // IPv4 inside IPv6 forms found by a review: SIIT, local-use NAT64, Teredo.
    '::ffff:0:127.0.0.1', '::ffff:0:a9fe:a9fe', '64:ff9b:1::a00:1', '64:ff9b:1:ffff::1', '2001:0:4136:e378:8000:63bf:3fff:fdd2']) {
    t.true(isBlockedAddress(a), a);
  }
});

// A local receiver stands in for Slack. The guard's allowHosts test seam lets plain http reach it.
interface Receiver { server: Server; url: string; host: string; bodies: string[]; requests: IncomingMessage[]; close(): Promise<void> }
async function receiver(answer: (req: IncomingMessage) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 })): Promise<Receiver> {
  const bodies: string[] = [];
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { bodies.push(body); const a = answer(req); res.writeHead(a.status, a.headers); res.end('ok'); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { server, url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, bodies, requests, close: () => new Promise((r) => server.close(() => r())) };
}

test('connects to the checked address: a name is resolved once and never again (no DNS rebinding)', async (t) => {
  const rx = await receiver();
  try {
    const port = rx.host.split(':')[1];
    let lookups = 0;
    // First answer: the receiver's address. Any later answer would point elsewhere; there must be none.
    const rebinding: Resolver = async () => (lookups++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '10.9.9.9', family: 4 }]);
    const res = await guardedPostJson(`http://hooks.test:${port}/services/x`, '{"text":"hi"}', { resolve: rebinding, allowHosts: [`hooks.test:${port}`] });
    t.is(res.status, 200);
    t.is(lookups, 1);
    t.deepEqual(rx.bodies, ['{"text":"hi"}']);
    t.is(rx.requests[0]!.headers.host, `hooks.test:${port}`, 'the Host header keeps the name; only the connection is pinned');
  } finally { await rx.close(); }
});

test('redirects are not followed', async (t) => {
  const rx = await receiver(() => ({ status: 302, headers: { location: 'http://169.254.169.254/latest/meta-data' } }));
  try {
    const res = await guardedPostJson(`${rx.url}/hook`, '{}', { allowHosts: [rx.host] });
    t.is(res.status, 302);
    t.is(rx.requests.length, 1);
  } finally { await rx.close(); }
});

const captureLogger = () => {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: 'debug', destination: new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } }) }) };
};

test('Slack alerter: posts {"text"} through the guard, masks credential-shaped text', async (t) => {
  const rx = await receiver();
  try {
    const { logger } = captureLogger();
    const alerter = createSlackAlerter({ webhookUrl: `${rx.url}/services/T/B/X`, logger, guard: { allowHosts: [rx.host] } });
    await alerter.send('event for rnd_abcdefghijklmnop and ghp_1234567890');
    t.is(rx.bodies.length, 1);
    const text = JSON.parse(rx.bodies[0]!).text as string;
    t.true(text.startsWith('event for'));
    t.false(text.includes('abcdefghijklmnop'));
    t.false(text.includes('1234567890'));
    t.is(rx.requests[0]!.headers['content-type'], 'application/json');
  } finally { await rx.close(); }
});

test('Slack alerter: failures are logged without the webhook URL, never thrown', async (t) => {
  const rx = await receiver(() => ({ status: 500 }));
  const { logger, lines } = captureLogger();
  try {
    await t.notThrowsAsync(createSlackAlerter({ webhookUrl: `${rx.url}/services/T/B/SECRETPATH`, logger, guard: { allowHosts: [rx.host] } }).send('x'));
  } finally { await rx.close(); }
  // Receiver gone: connection refused.
  await t.notThrowsAsync(createSlackAlerter({ webhookUrl: `${rx.url}/services/T/B/SECRETPATH`, logger, guard: { allowHosts: [rx.host] } }).send('x'));
  // The production guard refuses a private address.
  await t.notThrowsAsync(createSlackAlerter({ webhookUrl: 'https://10.0.0.1/services/T/B/SECRETPATH', logger }).send('x'));
  t.is(lines.filter((l) => l.includes('Slack alert')).length, 3);
  t.false(lines.join('').includes('SECRETPATH'));
  // Disabled: nothing at all.
  await t.notThrowsAsync(createSlackAlerter({ webhookUrl: null, logger }).send('x'));
});

test('the timeout bounds the whole POST: an answer that trickles in (or a resolver that hangs) is cut off', async (t) => {
  // Headers at once, then a byte of body every 50 ms, never ending: each byte restarts an idle timeout.
  const trickles = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200);
    const timer = setInterval(() => res.write('.'), 50);
    trickles.add(timer);
    res.on('close', () => { clearInterval(timer); trickles.delete(timer); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    await t.throwsAsync(guardedPostJson(`http://${host}/services/x`, '{}', { allowHosts: [host], timeoutMs: 300 }), { message: 'webhook timed out' });
    const hanging: Resolver = () => new Promise(() => {});
    await t.throwsAsync(guardedPostJson('https://hooks.test/services/x', '{}', { resolve: hanging, timeoutMs: 300 }), { message: 'webhook timed out' });
    const { logger } = captureLogger();
    const alerter = createSlackAlerter({ webhookUrl: `http://${host}/services/T/B/X`, logger, guard: { allowHosts: [host] }, timeoutMs: 300 });
    t.deepEqual(await alerter.attempt('x'), { ok: false, reason: 'Slack did not answer within 1 s' });
  } finally {
    for (const timer of trickles) clearInterval(timer);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
