import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths pino must never print. Values for these keys are replaced wherever they appear one level deep.
 * The request logger logs paths without query strings, so OAuth `code`/`state` never reach the log either.
 */
export const REDACT_PATHS = [
  'req.headers.cookie', 'req.headers.authorization', 'req.headers["x-csrf-token"]', 'res.headers["set-cookie"]',
  'headers.cookie', 'headers.authorization', 'config.headers.authorization', 'err.config.headers.authorization',
  'api_key', '*.api_key', 'apiKey', '*.apiKey', 'renderApiKey', '*.renderApiKey', 'apiKeySealed', '*.apiKeySealed',
  'githubToken', '*.githubToken', 'githubTokenSealed', '*.githubTokenSealed', 'access_token', '*.access_token',
  'accessToken', '*.accessToken', 'token', '*.token', 'code', 'state', 'query.code', 'query.state', '*.code_verifier', 'csrfToken', '*.csrfToken',
  'password', '*.password', 'secret', '*.secret', 'authorization', '*.authorization',
];

export function createLogger(opts: { level?: string; destination?: DestinationStream; name?: string } = {}): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      serializers: { err: pino.stdSerializers.err },
    },
    opts.destination ?? batchedStdout(),
  );
}

/** Lines wait at most this long for others to share their write. */
const FLUSH_MS = 100;

/**
 * Stdout, written asynchronously and in batches: lines go out together once 4 KiB have gathered or
 * after FLUSH_MS, instead of one write (a thread-pool round trip) per line; the access log writes one
 * line per request, and one write each was the largest single cost of an authenticated GET after the
 * response itself (see bench/). pino flushes what is left synchronously when the process exits, so
 * only a SIGKILL loses lines (at most FLUSH_MS of them).
 */
function batchedStdout(): DestinationStream {
  const stream = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  // sonic-boom's buffered length (an internal field; if it ever goes missing, flush every time).
  const pending = () => (stream as unknown as { _len?: number })._len ?? 1;
  const timer = setInterval(() => {
    try { if (pending() > 0) stream.flush(); } catch { clearInterval(timer); } // destroyed: the process is ending
  }, FLUSH_MS);
  timer.unref();
  stream.once('close', () => clearInterval(timer));
  return stream;
}
