// Render's stated waits (Retry-After, Ratelimit-Reset) as the client reads them. parseRetryAfterMs sent
// anything not plain digits to Date.parse, which V8 reads leniently: "-5" was a date in 2001, a wait of 0,
// so a 429's Ratelimit-Reset was never looked at and the worker asked again after its jitter (a 429
// storm). And no wait had a ceiling: a Retry-After of 25 days reached a timer that fires at once past
// 2^31-1 ms, and a deploy's job delayed for a day.
import test from 'ava';
import { RenderApiError } from '../../server/render/errors.js';
import { RATE_LIMITED_WAIT_MIN_MS, RENDER_WAIT_MAX_MS, parseRetryAfterMs } from '../../server/render/rate-limit.js';
import { clientFor, startServer } from './support/harness.js';

const NOW = Date.UTC(1994, 10, 6, 8, 49, 0); // Sun, 06 Nov 1994 08:49:00 GMT

test('delay-seconds are read as seconds', (t) => {
  t.is(parseRetryAfterMs('7', NOW), 7_000);
  t.is(parseRetryAfterMs(' 120 ', NOW), 120_000);
  t.is(parseRetryAfterMs('0', NOW), 0);
});

test('the three HTTP-date forms of RFC 9110 are read as a wait until then', (t) => {
  t.is(parseRetryAfterMs('Sun, 06 Nov 1994 08:49:37 GMT', NOW), 37_000);
  t.is(parseRetryAfterMs('Sunday, 06-Nov-94 08:49:37 GMT', NOW), 37_000);
  t.is(parseRetryAfterMs('Sun Nov  6 08:49:37 1994', NOW), 37_000);
  t.is(parseRetryAfterMs('Sat, 05 Nov 1994 08:49:37 GMT', NOW), 0, 'a past date: no wait');
});

test('anything else is no stated wait, not a date V8 guesses at', (t) => {
  for (const value of ['-5', '-1', '1.5', '+5', '5s', '1e3', '', '  ', 'soon', '06 Nov 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 08:49:37 UTC',
    'Sun, 31 Feb 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 24:00:00 GMT', 'sun, 06 nov 1994 08:49:37 gmt', '1994-11-06T08:50:00Z']) {
    t.is(parseRetryAfterMs(value, NOW), undefined, JSON.stringify(value));
  }
});

test('a 429 with Retry-After: -5 falls back to Ratelimit-Reset', async (t) => {
  const server = await startServer(t, () => ({
    status: 429,
    json: { message: 'rate limit exceeded' },
    headers: { 'retry-after': '-5', 'ratelimit-limit': '400', 'ratelimit-remaining': '0', 'ratelimit-reset': '30' },
  }));
  const err = await t.throwsAsync(clientFor(server).listServices(), { instanceOf: RenderApiError });
  t.is(err.kind, 'rate_limited');
  t.is(err.retryAfterMs, 30_000);
});

test('a 429 that says to ask again at once still waits a second', async (t) => {
  const server = await startServer(t, () => ({ status: 429, json: { message: 'rate limit exceeded' }, headers: { 'retry-after': '0' } }));
  const err = await t.throwsAsync(clientFor(server).listServices(), { instanceOf: RenderApiError });
  t.is(err.retryAfterMs, RATE_LIMITED_WAIT_MIN_MS);
});

test('a stated wait past Render\'s longest window is cut to it', async (t) => {
  const server = await startServer(t, () => ({ status: 429, json: { message: 'rate limit exceeded' }, headers: { 'retry-after': '2200000' } }));
  const err = await t.throwsAsync(clientFor(server).listServices(), { instanceOf: RenderApiError });
  t.is(err.retryAfterMs, RENDER_WAIT_MAX_MS);
  const unavailable = await startServer(t, () => ({ status: 503, json: { message: 'down' }, headers: { 'retry-after': '86400' } }));
  const err503 = await t.throwsAsync(clientFor(unavailable).listServices(), { instanceOf: RenderApiError });
  t.is(err503.retryAfterMs, RENDER_WAIT_MAX_MS);
});
