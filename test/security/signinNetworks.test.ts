import test from 'ava';
import { startStack, type Stack } from '../helpers/stack.js';
import { clientNetwork } from '../../server/security/clientNetwork.js';

// Two ways per-network sign-in limits failed their purpose (found by an adversarial review):
// - a page on any other site could spend them for everyone behind its visitor's address, with
//   cookie-less <img> loads of the sign-in start or callback (an office's NAT locked out of signing in,
//   and each load reported as a failed sign-in);
// - an IPv6 client, which holds a whole /64, had a fresh allowance for every address in it.
// Limits shrunk; TRUST_PROXY so each test is its own client address (as behind Render's proxy).
let stack: Stack;
test.before(async () => {
  stack = await startStack({
    env: { TRUST_PROXY: 'true' },
    appOptions: { security: { limits: { signInStart: { points: 5, durationSec: 600 }, signInCallback: { points: 5, durationSec: 600 }, failedSignIns: { threshold: 3, windowSec: 600 } } } },
  });
  for (let i = 0; i < 100 && (await fetch(`${stack.url}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 20));
});
test.after.always(async () => { await stack?.close(); });

/** What a browser sends for <img src> on another site's page: no cookie (SameSite=Lax), Fetch Metadata saying so. */
const imageLoadFrom = (ip: string) => ({ 'x-forwarded-for': ip, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' });
const navigation = (site: string) => ({ 'sec-fetch-site': site, 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' });

test('cross-site <img> loads of the OAuth callback are refused uncounted: a colleague at that address still signs in, and no failed sign-in is reported', async (t) => {
  const office = '198.51.100.7';
  for (let i = 0; i < 8; i++) {
    const res = await fetch(`${stack.url}/api/auth/github/callback`, { headers: imageLoadFrom(office), redirect: 'manual' });
    t.is(res.status, 400);
  }
  const iframe = await fetch(`${stack.url}/api/auth/github/callback`, { headers: { 'x-forwarded-for': office, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' }, redirect: 'manual' });
  t.is(iframe.status, 400, 'a frame on another site\'s page is not a top-level page load either');

  stack.github.addUser({ id: 7701, login: 'colleague' });
  const agent = stack.agent({ 'x-forwarded-for': office });
  const start = await agent.get('/api/auth/github/login', { headers: navigation('none') });
  t.is(start.status, 302, start.text);
  const authorize = await fetch(`${start.location}&login=colleague`, { redirect: 'manual' });
  const cb = new URL(authorize.headers.get('location')!);
  const done = await agent.get(cb.pathname + cb.search, { headers: navigation('cross-site') });
  t.is(done.status, 302, `the colleague's return from GitHub: ${done.status} ${done.text}`);
  t.is(done.location, '/');
  t.false(stack.logs.some((l) => l.includes('repeated_sign_in_failures') && l.includes(office)), 'the refused loads were not failed sign-ins');
});

test('cross-site <img> loads of the sign-in start are refused uncounted: a sign-in from that address still starts', async (t) => {
  const office = '198.51.100.8';
  for (let i = 0; i < 8; i++) t.is((await fetch(`${stack.url}/api/auth/github/login`, { headers: imageLoadFrom(office), redirect: 'manual' })).status, 400);
  const agent = stack.agent({ 'x-forwarded-for': office });
  const start = await agent.get('/api/auth/github/login', { headers: navigation('none') });
  t.is(start.status, 302, start.text);
  // A client that sends no Fetch Metadata (an older browser, a script) is counted as before.
  for (let i = 0; i < 4; i++) t.is((await fetch(`${stack.url}/api/auth/github/login`, { headers: { 'x-forwarded-for': office }, redirect: 'manual' })).status, 302);
  t.is((await fetch(`${stack.url}/api/auth/github/login`, { headers: { 'x-forwarded-for': office }, redirect: 'manual' })).status, 429);
});

test('sign-in starts another site\'s page makes (a popup opened again and again) spend only their own allowance: the Sign in button still works behind that address', async (t) => {
  const office = '198.51.100.9';
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) {
    statuses.push((await fetch(`${stack.url}/api/auth/github/login`, { headers: { 'x-forwarded-for': office, ...navigation('cross-site') }, redirect: 'manual' })).status);
  }
  t.deepEqual(statuses, [302, 302, 302, 302, 302, 429, 429], 'another site\'s navigations are limited (5)');
  // A colleague behind the same address presses our Sign in button, or types the address.
  for (const site of ['same-origin', 'none']) {
    const res = await fetch(`${stack.url}/api/auth/github/login`, { headers: { 'x-forwarded-for': office, ...navigation(site) }, redirect: 'manual' });
    t.is(res.status, 302, `${site}: ${res.status}`);
  }
});

test('per-network limits: one IPv6 /64 is one client, another /64 is another', async (t) => {
  const statuses: number[] = [];
  for (let i = 1; i <= 8; i++) {
    const res = await fetch(`${stack.url}/api/auth/github/login`, { headers: { 'x-forwarded-for': `2001:db8:77:1::${i.toString(16)}` }, redirect: 'manual' });
    statuses.push(res.status);
  }
  t.deepEqual(statuses, [302, 302, 302, 302, 302, 429, 429, 429], 'the limit (5) binds the /64');
  const neighbour = await fetch(`${stack.url}/api/auth/github/login`, { headers: { 'x-forwarded-for': '2001:db8:77:2::1' }, redirect: 'manual' });
  t.is(neighbour.status, 302, 'the next /64 has its own allowance');
});

test('clientNetwork: IPv4 as is, IPv4-mapped unwrapped, IPv6 by its /64 in every spelling', (t) => {
  t.is(clientNetwork('203.0.113.9'), '203.0.113.9');
  t.is(clientNetwork('::ffff:203.0.113.9'), '203.0.113.9');
  t.is(clientNetwork('::FFFF:cb00:7109'), '203.0.113.9');
  const net = '2001:db8:77:1::/64';
  for (const ip of ['2001:db8:77:1::1', '2001:0DB8:0077:0001:ffff:ffff:ffff:ffff', '2001:db8:77:1:0:0:0:0', '2001:db8:77:1::1.2.3.4', 'fe80::1%eth0'.replace('fe80::1', '2001:db8:77:1::1')]) t.is(clientNetwork(ip), net, ip);
  t.is(clientNetwork('::1'), '0:0:0:0::/64');
  t.is(clientNetwork('2001:db8::'), '2001:db8:0:0::/64');
  t.is(clientNetwork('fe80::1'), 'fe80:0:0:0::/64');
  t.is(clientNetwork('not-an-ip'), 'not-an-ip');
  t.is(clientNetwork(''), '');
});
