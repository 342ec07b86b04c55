import fc from 'fast-check';

// Hostile inputs for the attack suites (fast-check arbitraries and content-type lists).

const ALNUM20 = fc.string({ unit: fc.constantFrom(...'0123456789abcdefghijklmnopqrstuvwxyz'), minLength: 20, maxLength: 20 });
const pct = (code: number) => `%${code.toString(16).padStart(2, '0').toUpperCase()}`;

/** Path-segment values that are sent raw (already encoded where needed): traversal, NUL, bad escapes, lookalikes. */
export function hostileSegment(foreign: string[] = []): fc.Arbitrary<string> {
  const arbs: Array<fc.Arbitrary<string>> = [
    fc.constantFrom('..', '.', '../..', '..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e', '%2e%2e%2f%2e%2e', '..%5c..%5c', '%00', 'a%00b', '%',
      '%zz', '%E0%A4%A', '%C0%AE%C0%AE', '%ff%fe', '%uD800', '%ED%A0%80', '*', '~root', '"', "'", '<script>', '%3Cscript%3E', '$%7Bjndi%7D',
      'null', 'undefined', 'NaN', '-1', '0', '1e999', '__proto__', 'constructor', 'prototype', 'hasOwnProperty', '%20', '+', ';', ',', '@',
      '%0d%0aSet-Cookie:%20x=1', 'index.html', 'app.js%00.png', '.env', '..%00/'),
    fc.integer({ min: 0, max: 31 }).map((c) => `x${pct(c)}y`),
    fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => encodeURIComponent(s)),
    fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 30 }).map((s) => encodeURIComponent(s)),
    fc.integer({ min: 257, max: 6_000 }).map((n) => 'a'.repeat(n)),
    fc.integer({ min: 100, max: 1_500 }).map((n) => '%41'.repeat(n)),
    fc.tuple(fc.constantFrom('srv-', 'dpl-', 'dep-', 'crn-', 'tea-', 'usr-', 'SRV-', 'DPL-', 'srv_', 'dpl_'), ALNUM20).map(([p, s]) => p + s),
    fc.tuple(fc.constantFrom('srv-', 'dpl-', 'dep-'), ALNUM20, fc.constantFrom('a', '%00', '%0a', '%2F..', '.json', '%20', '/', '?x=1', '#frag')).map(([p, s, tail]) => p + s + tail),
    fc.tuple(fc.constantFrom('srv-', 'dpl-', 'dep-'), fc.integer({ min: 0, max: 40 })).map(([p, n]) => p + 'a'.repeat(n)),
  ];
  if (foreign.length) {
    arbs.push(fc.constantFrom(...foreign));
    arbs.push(fc.tuple(fc.constantFrom(...foreign), fc.constantFrom('%00', '/', '%2F', '%20', '..', 'x')).map(([id, tail]) => encodeURIComponent(id) + tail));
    arbs.push(fc.constantFrom(...foreign).map((id) => encodeURIComponent(id.toUpperCase())));
  }
  return fc.oneof(...arbs);
}

/** Scalar values for query strings and JSON fields: huge and odd numbers, unicode, control chars, long strings. */
export function hostileScalar(foreign: string[] = []): fc.Arbitrary<string> {
  const arbs: Array<fc.Arbitrary<string>> = [
    fc.constantFrom('', ' ', '0', '-1', '-0', '1.5', '1e400', '-1e400', 'NaN', 'Infinity', '99999999999999999999999999', '0x10', '0b11', ' 5 ',
      '5abc', 'true', 'null', '[]', '{}', '__proto__', 'constructor', '../..', '\u0000', '\u202e', '\ufeff', '\ud800', '\u2028', 'A'.repeat(300),
      '1_dpl-00000000000000000000', '99999999999999999999_dpl-00000000000000000000', '-5_dpl-x', '1'.repeat(13), 'rnd_', 'ghp_'),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.integer({ min: 0, max: 31 }).map((c) => `a${String.fromCharCode(c)}b`),
    fc.double().map(String),
    fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
    fc.integer({ min: 500, max: 3_000 }).map((n) => 'z'.repeat(n)),
  ];
  if (foreign.length) {
    arbs.push(fc.constantFrom(...foreign));
    arbs.push(fc.tuple(fc.integer({ min: 0, max: 2 ** 45 }), fc.constantFrom(...foreign)).map(([n, id]) => `${n}_${id}`));
  }
  return fc.oneof(...arbs);
}

/** URL encoding that never throws on lone surrogates (they are sent as U+FFFD bytes). */
function encodeQueryValue(s: string): string {
  // Lone surrogates become U+FFFD (what String.prototype.toWellFormed does).
  return encodeURIComponent(s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
}

/** A hostile query string (without "?"): known and prototype keys, repeated keys, hostile values, some raw bytes. */
export function hostileQuery(known: string[] = [], foreign: string[] = []): fc.Arbitrary<string> {
  const key = fc.oneof(
    fc.constantFrom(...(known.length ? known : ['q']), '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', '_csrf', 'limit[]', 'a[b][c]', 'cursor[__proto__]'),
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }),
  );
  const pair = fc.tuple(key, hostileScalar(foreign), fc.boolean()).map(([k, v, raw]) => {
    // Some values go raw: a lone "%" or "%zz" must not break parsing.
    const value = raw && /^[\x21-\x7e]*$/.test(v) && !v.includes('#') ? v.replaceAll('&', '%26') : encodeQueryValue(v);
    return `${encodeQueryValue(k)}=${value}`;
  });
  return fc.array(pair, { minLength: 1, maxLength: 6 }).map((pairs) => pairs.join('&').slice(0, 7_000));
}

/** JSON text that must be refused by the body parser: not JSON at all, truncated, trailing garbage, or bad escapes. */
export function malformedJson(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom('{', '}', '{"a":', '{"a":1', '{"a":1}}', '{"a":1}garbage', "{'a':1}", '{a:1}', '{"a":01}', '{"a":1,}', '[1,]', '{"a":"\\x00"}',
      '{"a":"\\ud800', '\u0000{}', '{"a":NaN}', '{"a":Infinity}', '{"a":undefined}', '<xml/>', '--', '{"__proto__":', 'nul', 'tru', '{"a":"\n"}'),
    fc.string({ minLength: 1, maxLength: 200 }),
  ).filter((s) => {
    if (!s.trim()) return false;
    try { JSON.parse(s); return false; } catch { return true; }
  });
}

/** Valid JSON that is hostile: prototype keys, deep nesting, unicode and control chars, huge numbers, wrong types. */
export function hostileJsonText(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(
      '{"__proto__":{"isAdmin":true,"api_key":"rnd_pollutedpolluted"}}',
      '{"constructor":{"prototype":{"polluted":"yes"}}}',
      '{"__proto__":null}', '{"toString":1,"valueOf":2,"hasOwnProperty":3}',
      '{"a":1e999,"b":-1e999,"c":123456789012345678901234567890,"d":-0,"e":5e-324}',
      '[]', '[{}]', '{}', '{"":""}', '{"\\u0000":"\\u0000"}', '{"a":"\\ud800\\udfff\\ud800"}', '{"\\u202e":"\\u2028\\u2029"}',
    ),
    fc.integer({ min: 200, max: 20_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
    fc.integer({ min: 200, max: 10_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
    fc.integer({ min: 100, max: 5_000 }).map((n) => `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',')}}`),
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc.dictionary(fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', '_csrf'), fc.string({ maxLength: 10 })), fc.jsonValue({ maxDepth: 2 }))
      .map((d) => JSON.stringify(d)),
  );
}

/** A body just over, or well over, the 64 KB limit (valid JSON, so only its size is wrong). */
export function oversizedJson(limitBytes = 64 * 1024): fc.Arbitrary<string> {
  return fc.oneof(
    fc.integer({ min: 1, max: 64 }),
    fc.integer({ min: 1_000, max: 1_000_000 }),
  ).map((over) => {
    const total = limitBytes + over;
    return `{"pad":"${'x'.repeat(total - 10)}"}`;
  });
}

/** Content types the body parser does not read at all: a body sent with them is as good as none. */
export const FOREIGN_CONTENT_TYPES = [
  'text/plain', 'text/html', 'application/xml', 'text/xml', 'multipart/form-data; boundary=xyz', 'application/octet-stream',
  'application/javascript', 'image/png', '*/*', 'application/jsonp', 'application/json-patch+jsonx', 'text/json-not',
] as const;

/** JSON or form content types with a charset or shape a client should not send (read leniently or refused, never a 5xx). */
export const ODD_CONTENT_TYPES = [
  'application/json; charset=utf-16', 'application/json; charset=ebcdic-cp-us', 'application/json; charset=x-unknown', 'application/json; charset=',
  'application/json; charset=utf-7', 'application/json, text/plain', 'application/json;;;', 'APPLICATION/JSON', 'application/vnd.api+json',
  'application/x-www-form-urlencoded; charset=utf-7', 'application/x-www-form-urlencoded; charset=iso-8859-1',
] as const;
