import { Writable } from 'node:stream';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino } from 'pino';
import { createLogger, type Logger } from '../../server/logger.js';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const QUIET_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'requestId']);

/**
 * Sandbox mode's logger: everything (one JSON line per request included) goes to `file`; the terminal
 * gets warnings and errors only, one readable line each, so the banner stays in view. A 4xx access line
 * is a warning in the file but not worth a terminal line (a signed-out page load answers 401).
 */
export function createSandboxLogger(file: string, level: string): { logger: Logger; flush(): void; ready: Promise<void> } {
  mkdirSync(dirname(file), { recursive: true });
  const toFile = pino.destination({ dest: file, append: true, sync: false });
  // The file opens asynchronously; until then lines wait in the destination's buffer, and flushSync throws
  // ("sonic boom is not ready yet"): a stop that early (a start that failed at once) flushes nothing.
  let opened = false;
  const ready = new Promise<void>((resolve) => toFile.once('ready', () => { opened = true; resolve(); }));
  const toTerminal = new Writable({
    write(chunk, _enc, done) {
      const line = terminalLine(String(chunk));
      if (line) process.stderr.write(line);
      done();
    },
  });
  const streams = pino.multistream([{ level: level, stream: toFile }, { level: 'warn', stream: toTerminal }]);
  return { logger: createLogger({ level, destination: streams }), flush: () => { if (opened) toFile.flushSync(); }, ready };
}

/** One human line for a pino JSON line, or null for lines the terminal skips. */
export function terminalLine(json: string): string | null {
  let entry: Record<string, unknown>;
  try { entry = JSON.parse(json) as Record<string, unknown>; } catch { return json; }
  const level = typeof entry.level === 'number' ? entry.level : 30;
  if (entry.msg === 'request' && level < 50) return null;
  const time = new Date(typeof entry.time === 'number' ? entry.time : Date.now()).toISOString().slice(11, 19);
  const extra = Object.fromEntries(Object.entries(entry).filter(([k]) => !QUIET_KEYS.has(k)));
  const rest = Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : '';
  return `${time} ${LEVELS[level] ?? level} ${typeof entry.msg === 'string' ? entry.msg : ''}${rest}\n`;
}
