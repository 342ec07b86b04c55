import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths pino must never print. Values for these keys are replaced wherever they appear one level deep.
 * The request logger logs paths without query strings, so OAuth `code`/`state` never reach the log either.
 */
const REDACT_PATHS = [
  'req.headers.cookie', 'req.headers.authorization', 'req.headers["x-csrf-token"]', 'res.headers["set-cookie"]',
  'headers.cookie', 'headers.authorization', 'config.headers.authorization', 'err.config.headers.authorization',
  'api_key', '*.api_key', 'apiKey', '*.apiKey', 'renderApiKey', '*.renderApiKey', 'apiKeySealed', '*.apiKeySealed',
  'githubToken', '*.githubToken', 'githubTokenSealed', '*.githubTokenSealed', 'access_token', '*.access_token',
  'accessToken', '*.accessToken', 'token', '*.token', 'code', 'state', 'query.code', 'query.state', '*.code_verifier', 'csrfToken', '*.csrfToken',
  'password', '*.password', 'secret', '*.secret', 'authorization', '*.authorization',
];

/**
 * `batchMs` (the web process: one access line per request): stdout is written once 4 KiB of lines have
 * gathered, or every `batchMs`, instead of once per event-loop turn, fewer writes per request (see
 * bench/); lines wait at most that long, and pino writes what is left when the process exits.
 */
export function createLogger(opts: { level?: string; destination?: DestinationStream; name?: string; batchMs?: number } = {}): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      serializers: { err: pino.stdSerializers.err },
    },
    // Stdout by default, written asynchronously: lines logged while a write is in flight go out
    // together in the next one, instead of one blocking write per line (the access log writes one
    // line per request). pino flushes what is left synchronously when the process exits.
    opts.destination ?? pino.destination({ dest: 1, sync: false, ...(opts.batchMs ? { minLength: 4096, periodicFlush: opts.batchMs } : {}) }),
  );
}
