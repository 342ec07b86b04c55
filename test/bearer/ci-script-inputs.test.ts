import test from 'ava';
import { startCiScript } from './support/ciScript.js';

// scripts/ci-deploy.mjs run as a child process on malformed inputs (found by a probe of the CI script). No orchestrator
// is needed: each case is refused before one is asked. A token or key with a line break inside was sent on, refused by
// fetch with the whole value in its message, printed at every retry for two minutes, then exit 1; a URL without a scheme
// was retried as "no answer"; GITHUB_REPOSITORY without a slash was a stack trace. DEPLOY_TIMEOUT_SECONDS=1 bounds the
// start's retries, should a case retry after all.
const SECRET_TOKEN = 'github_pat_CISECRETTOKEN0123456789';
const SECRET_KEY = 'rnd_CISECRETKEY0123456789abcd';

const run = (extra: Record<string, string>) => startCiScript({
  ORCHESTRATOR_URL: 'http://127.0.0.1:9', GH_USER_TOKEN: SECRET_TOKEN, RENDER_API_KEY: SECRET_KEY,
  GITHUB_REPOSITORY: 'ciowner/app', GITHUB_REF_NAME: 'main', GITHUB_SHA: 'a'.repeat(40), POLL_SECONDS: '0.2', DEPLOY_TIMEOUT_SECONDS: '1', ...extra,
}).done;

test('GH_USER_TOKEN with a newline inside (a mis-pasted secret): bad input (exit 2), the token never printed', async (t) => {
  const { code, out } = await run({ GH_USER_TOKEN: `${SECRET_TOKEN}\nsecond-line` });
  t.false(out.includes('CISECRETTOKEN'), 'the token is not printed');
  t.is(code, 2, 'a malformed token is bad input');
});

test('RENDER_API_KEY with a newline inside: bad input (exit 2), the key never printed', async (t) => {
  const { code, out } = await run({ RENDER_API_KEY: `${SECRET_KEY}\nx` });
  t.false(out.includes('CISECRETKEY'), 'the Render key is not printed');
  t.is(code, 2, 'a malformed key is bad input');
});

test('ORCHESTRATOR_URL without a scheme (a typo): bad input, exit 2 at once, not retried as "no answer"', async (t) => {
  const { code, out } = await run({ ORCHESTRATOR_URL: 'render-orchestrator.onrender.com' });
  t.notRegex(out, /trying again/, 'not retried as a network failure');
  t.regex(out, /ORCHESTRATOR_URL must be an http\(s\):\/\/ address/);
  t.is(code, 2, 'a malformed URL is bad input');
});

test('GITHUB_REPOSITORY without a slash and no SERVICE_NAME: exit 2 with one line, not a stack trace', async (t) => {
  const { code, out } = await run({ GITHUB_REPOSITORY: 'just-a-name' });
  t.notRegex(out, /^\s+at /m, 'no stack trace');
  t.regex(out, /GITHUB_REPOSITORY must be owner\/name/);
  t.is(code, 2);
});
