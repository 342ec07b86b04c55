import test from 'ava';
import { redactSecrets } from '../../server/deployments/redact.js';

// Render writes one log entry per line an app prints, so a multi-line value (a PEM key, a service
// account's JSON) reaches the redaction a line at a time, and a JSON log carries a value escaped.

const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDu\n-----END PRIVATE KEY-----\n';

test('each line of a multi-line value is redacted when the app prints it line by line', (t) => {
  const lines = PEM.split('\n').filter(Boolean).map((l) => redactSecrets(`key: ${l}`, [PEM]));
  for (const l of lines) t.is(l, 'key: [redacted]');
  t.is(redactSecrets(`key:\r\n${PEM.replace(/\n/g, '\r\n')}`, [PEM]).includes('MIIEvQIBADAN'), false);
});

test('a value written escaped in a JSON log line is redacted too', (t) => {
  const value = 'pa"ss\\word-1234';
  const out = redactSecrets(JSON.stringify({ msg: 'config', password: value }), [value]);
  t.is(out, '{"msg":"config","password":"[redacted]"}');
  t.is(redactSecrets(JSON.stringify({ key: PEM }), [PEM]), '{"key":"[redacted]"}');
});

test('short values and lines of fewer than 4 characters are left alone; a prefix of a value is not the value', (t) => {
  t.is(redactSecrets('on 1 abc', ['on', '1', 'abc']), 'on 1 abc');
  t.is(redactSecrets('{\n}', ['{\n  "a": "b"\n}']), '{\n}');
  t.is(redactSecrets('token tok_live', ['tok_live_abcdef']), 'token tok_live');
});
