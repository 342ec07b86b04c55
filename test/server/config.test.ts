import test from 'ava';
import { ConfigError, loadConfig } from '../../server/config/env.js';

const KEY = 'a'.repeat(64);

function problems(env: Record<string, string>): string[] {
  try { loadConfig(env); } catch (err) { if (err instanceof ConfigError) return err.problems; throw err; }
  return [];
}

test('defaults follow DESIGN.md and no credentials means sandbox mode', (t) => {
  const c = loadConfig({});
  t.is(c.port, 3000);
  t.is(c.baseUrl, 'http://localhost:3000');
  t.is(c.origin, 'http://localhost:3000');
  t.is(c.redisUrl, 'redis://127.0.0.1:6379');
  t.is(c.renderApiUrl, 'https://api.render.com/v1');
  t.is(c.github.oauthUrl, 'https://github.com');
  t.is(c.github.apiUrl, 'https://api.github.com');
  t.true(c.github.retries, 'GitHub retries are on unless GITHUB_RETRIES=false (whatever NODE_ENV says)');
  t.false(loadConfig({ GITHUB_RETRIES: 'false' }).github.retries);
  t.true(loadConfig({ NODE_ENV: 'test' }).github.retries);
  t.true(c.sandbox);
  t.false(c.httpsOnly);
  t.is(c.sessionIdleMs, 30 * 60_000);
  t.is(c.sessionAbsoluteMs, 12 * 3_600_000);
  t.is(c.secretKey.length, 32, 'a key is generated outside production');
});

test('production without SECRET_KEY fails and says what to set', (t) => {
  const p = problems({ NODE_ENV: 'production', GITHUB_CLIENT_ID: 'x', GITHUB_CLIENT_SECRET: 'y' });
  t.true(p.some((m) => m.includes('SECRET_KEY is required in production') && m.includes('openssl rand -hex 32')));
});

test('a too-short SECRET_KEY is rejected', (t) => {
  t.true(problems({ SECRET_KEY: 'abcd' }).some((m) => m.includes('at least 32 bytes')));
  t.true(problems({ SECRET_KEY: 'a'.repeat(62) }).some((m) => m.includes('at least 32 bytes')));
});

test('hex and base64 secrets are both accepted', (t) => {
  t.is(loadConfig({ SECRET_KEY: KEY }).secretKey.length, 32);
  t.is(loadConfig({ SECRET_KEY: Buffer.alloc(48, 7).toString('base64') }).secretKey.length, 48);
});

test('bad URLs are named in the error', (t) => {
  const p = problems({ BASE_URL: 'not a url', RENDER_API_URL: 'ftp://x' });
  t.true(p.some((m) => m.includes('BASE_URL must be an http(s) URL')));
  t.true(p.some((m) => m.includes('RENDER_API_URL must be an http(s) URL')));
  t.true(problems({ REDIS_URL: 'http://x' }).some((m) => m.includes('REDIS_URL')));
});

test('half of the GitHub credentials is an error; production needs them', (t) => {
  t.true(problems({ GITHUB_CLIENT_ID: 'x' }).some((m) => m.includes('GITHUB_CLIENT_SECRET')));
  t.true(problems({ NODE_ENV: 'production', SECRET_KEY: KEY }).some((m) => m.includes('required in production')));
});

test('production defaults: HTTPS only, trusted proxy', (t) => {
  const c = loadConfig({ NODE_ENV: 'production', SECRET_KEY: KEY, GITHUB_CLIENT_ID: 'x', GITHUB_CLIENT_SECRET: 'y', BASE_URL: 'https://orch.example.com/' });
  t.true(c.httpsOnly);
  t.true(c.trustProxy);
  t.false(c.sandbox);
  t.is(c.baseUrl, 'https://orch.example.com');
});

test('Slack webhook must be https; CORS origins are parsed', (t) => {
  t.true(problems({ SLACK_WEBHOOK_URL: 'http://hooks.slack.com/x' }).some((m) => m.includes('https')));
  t.deepEqual(loadConfig({ CORS_ORIGINS: 'https://a.example.com, https://b.example.com/path' }).corsOrigins, ['https://a.example.com', 'https://b.example.com']);
});

test('CORS_ORIGINS takes http(s) origins only: a file: or data: URL (whose origin is "null", shared by every sandboxed frame) or * is refused', (t) => {
  for (const bad of ['file:///home/me/app.html', 'data:text/html,x', 'null', '*', 'javascript:alert(1)']) {
    t.true(problems({ CORS_ORIGINS: bad }).some((m) => m.startsWith('CORS_ORIGINS:')), bad);
  }
  t.deepEqual(loadConfig({ CORS_ORIGINS: 'http://127.0.0.1:5173' }).corsOrigins, ['http://127.0.0.1:5173']);
});

test('HOST: loopback in sandbox mode (the demo user signs in without a password), all interfaces otherwise, as given when set', (t) => {
  t.is(loadConfig({}).host, '127.0.0.1');
  t.is(loadConfig({ GITHUB_CLIENT_ID: 'x', GITHUB_CLIENT_SECRET: 'y' }).host, '0.0.0.0');
  t.is(loadConfig({ HOST: '0.0.0.0' }).host, '0.0.0.0');
  t.is(loadConfig({ HOST: '::' }).host, '::');
  t.true(problems({ HOST: 'a b' }).some((m) => m.includes('HOST must be an address')));
});

test('a hex SECRET_KEY with a digit lost is refused, and the message gives the way off it: as SECRET_KEY_PREVIOUS it is read as older versions read it', (t) => {
  const odd = 'ab'.repeat(31) + 'c'; // 63 hex digits: older versions read it as base64
  const refused = problems({ SECRET_KEY: odd });
  t.is(refused.length, 1);
  t.regex(refused[0]!, /SECRET_KEY_PREVIOUS/, 'says how to keep what was sealed with it');
  t.false(refused[0]!.includes(odd), 'never prints the value');
  // The rotation off it: the data sealed with it stays readable.
  const c = loadConfig({ SECRET_KEY: KEY, SECRET_KEY_PREVIOUS: odd });
  t.deepEqual(c.previousSecretKey, Buffer.from(odd, 'base64'));
});

test('BASE_URL is an origin: a path, query or credentials in it is refused, naming what to set', (t) => {
  // The callback URL pasted as BASE_URL made the OAuth redirect_uri .../api/auth/github/callback/api/auth/github/callback,
  // which GitHub refuses; the app serves its pages and API at the root only.
  for (const value of ['https://orch.example.com/api/auth/github/callback', 'https://orch.example.com/app', 'https://orch.example.com/?x=1', 'https://orch.example.com/#top', 'https://user:pw@orch.example.com']) {
    const p = problems({ BASE_URL: value });
    t.true(p.some((m) => m.includes('BASE_URL must be the origin only')), `${value}: ${p.join(' | ')}`);
    t.false(p.join(' ').includes('pw@'), 'the value is not printed');
  }
  t.is(loadConfig({ BASE_URL: 'https://orch.example.com/' }).baseUrl, 'https://orch.example.com');
  t.is(loadConfig({ BASE_URL: 'http://127.0.0.1:3000' }).baseUrl, 'http://127.0.0.1:3000');
});

test('HTTPS_ONLY (the production default) with an http:// BASE_URL is refused: every browser write would be a 403', (t) => {
  // Browsers on the https site send Origin: https://…, and the same-origin check compares it with BASE_URL's origin:
  // with http:// there, sign-in worked but every deploy, key setup and sign-out was 403 origin_rejected.
  const prod = { NODE_ENV: 'production', SECRET_KEY: KEY, GITHUB_CLIENT_ID: 'x', GITHUB_CLIENT_SECRET: 'y' };
  t.true(problems({ ...prod, BASE_URL: 'http://orch.example.com' }).some((m) => m.includes('BASE_URL must be an https:// URL while HTTPS_ONLY is on')));
  t.true(problems({ HTTPS_ONLY: 'true', BASE_URL: 'http://orch.example.com' }).some((m) => m.includes('BASE_URL must be an https:// URL')));
  t.true(loadConfig({ ...prod, BASE_URL: 'https://orch.example.com' }).httpsOnly);
  t.false(loadConfig({ ...prod, BASE_URL: 'http://orch.example.com', HTTPS_ONLY: 'false' }).httpsOnly, 'plain http on purpose says so');
  t.is(loadConfig({ BASE_URL: 'http://127.0.0.1:3000' }).origin, 'http://127.0.0.1:3000', 'outside production http stays fine');
});

test('METRICS_TOKEN with white space in it is refused: no Authorization header could ever carry it', (t) => {
  // /metrics reads `Bearer <one word>`: 'Bearer <token>' pasted as the value (or any value with a space) was
  // accepted, and every scrape got the 404 of a wrong token.
  for (const value of ['Bearer 0123456789abcdef0123', '0123456789 abcdef0123']) {
    const p = problems({ METRICS_TOKEN: value });
    t.true(p.some((m) => m.includes('METRICS_TOKEN must be the token alone')), `${value}: ${p.join(' | ')}`);
    t.false(p.join(' ').includes('0123456789'), 'the value is not printed');
  }
  t.is(loadConfig({ METRICS_TOKEN: 'q1w2e3r4t5y6u7i8o9p0+/=' }).metricsToken, 'q1w2e3r4t5y6u7i8o9p0+/=');
});

test('a session cache heartbeat longer than half the sign-out fence is refused: the fence would answer while a stalled process still serves the session', (t) => {
  // Each value alone is in its range; together a sign-out was answered while another process whose tracking
  // connection stalled could serve the ended session from memory for up to two heartbeats.
  const envs: Array<Record<string, string>> = [{ SESSION_CACHE_HEARTBEAT_MS: '3000' }, { SESSION_END_FENCE_MS: '200' }, { SESSION_CACHE_HEARTBEAT_MS: '60000', SESSION_END_FENCE_MS: '119999' }];
  for (const env of envs) {
    const p = problems(env);
    t.true(p.some((m) => m.includes('SESSION_CACHE_HEARTBEAT_MS') && m.includes('at most half SESSION_END_FENCE_MS')), `${JSON.stringify(env)}: ${p.join(' | ')}`);
  }
  t.deepEqual(problems({ SESSION_CACHE_HEARTBEAT_MS: '60000', SESSION_END_FENCE_MS: '120000' }), []);
  const c = loadConfig({});
  t.true(2 * c.sessionCacheHeartbeatMs <= c.sessionEndFenceMs, 'the defaults hold it');
});
