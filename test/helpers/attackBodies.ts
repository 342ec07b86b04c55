import fc from 'fast-check';
import type { RouteSpec, TenantIds } from './attackRoutes.js';
import { hostileScalar } from './attackInputs.js';
import { MAX_COMMAND_CHARS } from '../../server/stacks/lines.js';

// Invalid JSON bodies for the body-reading routes (test/security/attack-fuzz.test.ts): each route's
// valid body with exactly one field made invalid, or one unknown key added. A new body-reading route
// needs its fields here (invalidBody throws until it has them).

// Per body-reading route: a valid body with exactly one field made invalid (or one unknown key added).
const notString = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })));
/** Strings that stay invalid for a name-like field after trim() and toLowerCase(). */
const badToken = fc.tuple(fc.string({ maxLength: 20 }), fc.constantFrom('/', '\u0000', '..', ' x ', '\u202e', '\n', '@', '%', '"', '<', '\ud800'), fc.string({ maxLength: 20 }))
  .map(([a, bad, b]) => `${a}x${bad}x${b}`);
const tooLong = (n: number) => fc.integer({ min: n + 1, max: n + 2_000 }).map((k) => 'a'.repeat(k));
const invalidFields = (victim: TenantIds): Record<string, Record<string, fc.Arbitrary<unknown>>> => ({
  '/api/render/setup': {
    api_key: fc.oneof(notString, badToken, tooLong(200), fc.string({ maxLength: 7 }).map((s) => `rnd_${s}`), fc.constantFrom('', ' ', 'rnd_', 'RND_abcdefghij', 'ghp_abcdefghijklmnop')),
  },
  '/api/render/deploy': {
    github_repo: fc.oneof(notString, badToken, fc.constantFrom('', 'a', 'a/', '/b', 'a/..', 'a/.', '../b', 'a/b/c', '-a/b', 'a'.repeat(40) + '/b')),
    project_name: fc.oneof(notString, badToken, fc.constantFrom('', '-a', 'a-', 'a_b', 'a.b'), tooLong(63)),
    branch: fc.oneof(notString, fc.constantFrom('', '/a', 'a/', 'a//b', 'a..b', 'a@{1}', 'a.lock', 'a b', 'a~1', 'a^', 'a:b', '\u0000')),
    commit_sha: fc.oneof(notString, fc.constantFrom('', 'HEAD', 'main', 'abc1234', 'g'.repeat(40), 'a'.repeat(39), 'a'.repeat(41), `${'a'.repeat(20)} ${'a'.repeat(20)}`, `${'a'.repeat(20)}/${'a'.repeat(19)}`)),
    owner_id: fc.oneof(notString, fc.constantFrom('', 'tea-', 'tea-short', 'evil-00000000000000000000'), fc.constant(victim.ownerId)),
    region: fc.oneof(notString, hostileScalar().filter((s) => !['frankfurt', 'oregon', 'ohio', 'singapore', 'virginia'].includes(s))),
    plan: fc.oneof(notString, fc.constantFrom('gold', 'FREE', 'free ', '', 'pro_max_ultra')),
    env_vars: fc.oneof(
      fc.constantFrom('A=1', 42, null, [{ key: '1X', value: 'v' }], [{ key: 'A', value: 1 }], [{ key: 'A', value: 'v', extra: 1 }], [{ key: 'A-B', value: 'v' }],
        [{ key: 'A', value: '1' }, { key: 'A', value: '2' }], { '1X': 'v' }, { A: 5 }, { 'A B': 'v' }, [{ key: '', value: '' }]),
      fc.integer({ min: 101, max: 300 }).map((n) => Array.from({ length: n }, (_, i) => ({ key: `K${i}`, value: 'v' }))),
    ),
    build_command: fc.oneof(notString, fc.constantFrom('', '   '), tooLong(MAX_COMMAND_CHARS)),
    start_command: fc.oneof(notString, fc.constantFrom('', '\t'), tooLong(MAX_COMMAND_CHARS)),
  },
  '/api/sentinel': {
    enabled: fc.oneof(notString, fc.constantFrom('true', 1, 0, null, 'yes')).filter((v) => typeof v !== 'boolean'),
    intervalSeconds: fc.oneof(fc.constantFrom('60', 0, 29, 3_601, 1.5, -60, null, Infinity), badToken),
    slackWebhookUrl: fc.oneof(badToken, tooLong(500), fc.constantFrom('http://hooks.slack.com/services/T0/B0/xxxxxxxxxxxx', 'https://hooks.slack.com.evil.example/services/T0/B0/xxxxxxx',
      'https://127.0.0.1/services/T0/B0/xxxxxxxxxxxxxxxx', 'https://hooks.slack.com:8443/services/T0/B0/xxxxxxxxxx', 'https://u:p@hooks.slack.com/services/T0/B0/xxxxxxxxxx',
      'https://hooks.slack.com/other', 'file:///etc/passwd', 'not a url', 42)),
  },
  '/api/sentinel/test-alert': {
    slackWebhookUrl: fc.oneof(badToken, tooLong(500), fc.constantFrom('http://hooks.slack.com/services/T0/B0/xxxxxxxxxxxx', 'https://169.254.169.254/services/T0/B0/xxxxxxxxxxx',
      'https://hooks.slack.com@evil.example/services/T0/B0/xxxxxxxxx', 'https://2130706433/services/T0/B0/xxxxxxxxxxxxxx', '', 42, null)),
  },
  '/api/render/services/:id/env-vars/:key': {
    value: fc.oneof(notString, fc.integer({ min: 16 * 1024 + 1, max: 40_000 }).map((n) => 'v'.repeat(n))),
    generate_value: fc.oneof(fc.constantFrom(false, 'true', 1, null, 'yes')),
  },
  '/api/render/services/:id/secret-files/:name': {
    content: fc.oneof(notString, fc.integer({ min: 48 * 1024 + 1, max: 60_000 }).map((n) => 'c'.repeat(n))),
  },
  '/api/render/services/:id/custom-domains': {
    name: fc.oneof(notString, badToken, fc.constantFrom('', 'localhost', 'example', '-a.example.com', 'a-.example.com', 'a..example.com', 'https://a.example.com',
      'a.example.com/x', 'a.example.com:8080', '1.2.3.4', 'x.onrender.com', 'a b.example.com', 'ex\u00e4mple.com'), tooLong(253)),
  },
  '/api/render/services/:id/settings': {
    auto_deploy: fc.oneof(fc.constantFrom('true', 'yes', 1, 0, null, 'no')),
    previews: fc.oneof(notString, fc.constantFrom('', 'on', 'AUTOMATIC', 'auto')),
    num_instances: fc.oneof(fc.constantFrom(0, -1, 101, 1.5, '2', null, Infinity, Number.MAX_SAFE_INTEGER + 2), badToken),
    plan: fc.oneof(notString, fc.constantFrom('gold', 'FREE', 'free ', '', 'pro_max_ultra')),
    health_check_path: fc.oneof(notString, fc.constantFrom('healthz', '/a b', '/\u0000', 'http://x/healthz', '/x\n'), tooLong(256).map((v) => `/${v}`)),
  },
  '/api/render/services/:id/deploys': {
    clear_cache: fc.oneof(fc.constantFrom('true', 'yes', 1, 0, null, 'clear')),
  },
  '/api/render/services/:id/redeploy': {
    commit_sha: fc.oneof(notString, fc.constantFrom('', 'HEAD', 'main', 'abc1234', 'g'.repeat(40), 'a'.repeat(39), 'a'.repeat(41), `${'a'.repeat(20)} ${'a'.repeat(20)}`)),
  },
  '/api/render/services/:id/rollback': {
    deploy_id: fc.oneof(notString, badToken, fc.constantFrom('', 'dep-', 'dep-short', 'srv-00000000000000000000', 'DEP-00000000000000000000')),
  },
});
const UNKNOWN_KEYS = ['__proto__', 'constructor', 'prototype', 'isAdmin', 'user_id', 'userId', 'service_id', 'render_key', 'toString'];

/** JSON text of `mine`'s valid body with one field made invalid (an id may be the victim's), or one unknown (prototype) key added. */
export function invalidBody(spec: RouteSpec, mine: TenantIds, victim: TenantIds): fc.Arbitrary<string> {
  const fields = invalidFields(victim)[spec.path];
  if (!fields) throw new Error(`no invalid-field generators for ${spec.method} ${spec.path}: add them to invalidFields`);
  const base = spec.validBody!(mine) as Record<string, unknown>;
  const withField = fc.oneof(...Object.entries(fields).map(([k, arb]) => arb.map((v) => JSON.stringify({ ...base, [k]: v }))));
  // Added as text, so "__proto__" is a real key of the document rather than a prototype change of the test's object.
  const withKey = fc.tuple(fc.constantFrom(...UNKNOWN_KEYS), fc.jsonValue({ maxDepth: 2 }))
    .map(([k, v]) => `${JSON.stringify(base).slice(0, -1)},${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}}`);
  return fc.oneof(withField, withKey);
}
