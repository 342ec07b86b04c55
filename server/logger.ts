import { pino, type Logger, type DestinationStream } from 'pino';
import { maskedPath } from './text.js';

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
 * `batchMs` (the web and worker processes; the web process logs one access line per request): lines are
 * gathered here and handed to stdout's writer 16 KiB at a time, or every `batchMs`, so stdout is written
 * once per ~60 access lines, and lines wait at most that long (`gathered`). What is gathered is handed on
 * before pino's own flush at exit.
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
    opts.destination ?? (opts.batchMs ? gathered(pino.destination({ dest: 1, sync: false }), opts.batchMs) : pino.destination({ dest: 1, sync: false })),
  );
}

/**
 * One access-log line's fields (server/middleware/requestContext.ts): fixed, and none of them a secret once
 * written: the path is the client's, and its segments that look like credentials are masked (`write` below).
 */
export interface AccessFields {
  requestId: string; method: string; path: string; route: string | null; status: number; ms: number; userId: number | null; ip: string;
}

/**
 * The access line (one per request) written as pino would write `logger[level](fields, 'request')`, the same
 * JSON line field for field, without pino's generic serialisation: it walks the object key by key, checks
 * each for serializers and tests each string for characters to escape, ~5% of an authenticated GET's CPU
 * (bench/README.md, api). Here the line is one template: strings through JSON.stringify (the path and the
 * address are the client's), numbers as they are. No pino redaction: no headers, no query string, no body.
 * The path is the one field a client can put a credential in (its own token where an id goes, 404 and all):
 * each segment that looks like one is masked (server/text.ts maskedPath) on both ways out, before anything
 * is written. The request id never looks like one (requestContext refuses such an inbound id). A destination
 * that routes by level (pino.multistream, the sandbox's log) needs pino's own call, which it still gets.
 */
export function accessLogger(logger: Logger): { enabled(level: AccessLevel): boolean; write(level: AccessLevel, f: AccessFields): void } {
  const stream = (logger as unknown as Record<symbol, DestinationStream & Record<symbol, unknown>>)[pino.symbols.streamSym]!;
  const bindings = (logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? '';
  const generic = logger.child({}, { redact: { paths: [] } });
  const heads = { info: `{"level":${logger.levels.values.info}`, warn: `{"level":${logger.levels.values.warn}`, error: `{"level":${logger.levels.values.error}` };
  return {
    enabled: (level) => logger.isLevelEnabled(level),
    write(level, f) {
      const path = maskedPath(f.path);
      if (stream[pino.symbols.needsMetadataGsym]) { generic[level]({ ...f, path }, 'request'); return; }
      stream.write(`${heads[level]},"time":${Date.now()}${bindings},"requestId":${JSON.stringify(f.requestId)},"method":${JSON.stringify(f.method)},"path":${JSON.stringify(path)},"route":${f.route === null ? 'null' : JSON.stringify(f.route)},"status":${f.status},"ms":${f.ms},"userId":${JSON.stringify(f.userId)},"ip":${JSON.stringify(f.ip)},"msg":"request"}\n`);
    },
  };
}
type AccessLevel = 'info' | 'warn' | 'error';

/** Characters gathered before they are handed to the writer (lines are ASCII JSON but for rare values: ≈ bytes). */
const GATHER_CHARS = 16 * 1024;

type SonicBoom = ReturnType<typeof pino.destination>;

/**
 * Lines gathered into one string before sonic-boom sees them. Handed one line at a time, sonic-boom appends
 * each to its pending string and measures that whole string again (Buffer.byteLength of the growing
 * concatenation flattens it: a copy of up to 4 KiB per access line, ~1.5 µs of an authenticated GET, more
 * with a larger batch; bench/README.md, api). Here a line is appended to a string V8 keeps as a rope, which
 * sonic-boom measures (flattens) once per 16 KiB. What is gathered is handed on every `everyMs` and when the
 * process ends (prepended, so before pino's own flush of sonic-boom, which then writes it synchronously).
 */
function gathered(out: SonicBoom, everyMs: number): DestinationStream & { flush(cb?: (err?: Error) => void): void; flushSync(): void } {
  let pending = '';
  // Armed by the first line gathered, not an interval: an idle process is not woken every everyMs.
  let timer: NodeJS.Timeout | null = null;
  const handOn = () => {
    if (timer) { clearTimeout(timer); timer = null; }
    if (pending === '') return;
    const chunk = pending;
    pending = '';
    out.write(chunk);
  };
  process.prependListener('beforeExit', handOn);
  process.prependListener('exit', handOn);
  return {
    write(line: string) {
      pending += line;
      if (pending.length >= GATHER_CHARS) handOn();
      else if (!timer) { timer = setTimeout(handOn, everyMs); timer.unref(); }
    },
    flush(cb) { handOn(); out.flush(cb); },
    flushSync() { handOn(); out.flushSync(); },
  };
}

/**
 * A warning that repeats while a condition lasts (a stalled Redis connection is dropped and set up
 * again every heartbeat, about once a second): the first is logged, the ones within `everyMs` after it
 * are counted, and the next one past that window is logged with `repeats` (how many were not). A long
 * outage is a line a minute instead of one per reconnect, and its end is when the lines stop.
 */
export function repeatingWarning(logger: Logger, msg: string, opts: { now: () => number; everyMs?: number }): (fields?: object) => void {
  const everyMs = opts.everyMs ?? 60_000;
  let loggedAt = -Infinity;
  let repeats = 0;
  return (fields = {}) => {
    const at = opts.now();
    if (at - loggedAt < everyMs) { repeats++; return; }
    logger.warn(repeats > 0 ? { ...fields, repeats } : fields, msg);
    loggedAt = at;
    repeats = 0;
  };
}
